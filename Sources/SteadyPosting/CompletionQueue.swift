import Glibc
import SteadyCore

/// How attempt threads hand their results to the worker's event loop: a locked queue plus a
/// non-blocking pipe whose read end is in the loop's epoll set. A thread appends its result
/// and writes one byte; the loop, woken by the pipe, drains both.
final class CompletionQueue<Item: Sendable>: @unchecked Sendable {
    private let lock = Lock()
    /// Guarded by `lock`.
    private var items: [Item] = []
    let readFd: Int32
    private let writeFd: Int32

    init() throws(PostingStartError) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw PostingStartError("pipe: errno \(errno)") }
        for fd in fds {
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        readFd = fds[0]
        writeFd = fds[1]
    }

    deinit {
        close(readFd)
        close(writeFd)
    }

    /// From any thread.
    func post(_ item: Item) {
        lock.withLock { items.append(item) }
        var byte: UInt8 = 1
        while write(writeFd, &byte, 1) < 0 && errno == EINTR {}
        // EAGAIN (pipe full) is fine: the loop is already due to wake and drains everything.
    }

    /// On the loop: empties the pipe and returns every result posted so far.
    func drain() -> [Item] {
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(readFd, $0.baseAddress, $0.count) }
            if n > 0 { continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        return lock.withLock {
            let out = items
            items.removeAll()
            return out
        }
    }
}

let threadStackBytes = 2 << 20

/// Starts `body` on a new detached thread (signals stay blocked there: the worker's loop
/// blocked them before any thread was made, and threads inherit the mask).
func startThread(_ body: @escaping @Sendable () -> Void) throws(PostingStartError) {
    final class Box {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }
    let box = Unmanaged.passRetained(Box(body)).toOpaque()
    var thread = pthread_t()
    // A job is a few HTTP requests and store calls: 2 MiB of stack is plenty, and stacks
    // count against the worker's memory bound (RLIMIT_DATA).
    var attributes = pthread_attr_t()
    pthread_attr_init(&attributes)
    defer { pthread_attr_destroy(&attributes) }
    pthread_attr_setstacksize(&attributes, threadStackBytes)
    let rc = pthread_create(&thread, &attributes, { arg in
        Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().body()
        return nil
    }, box)
    guard rc == 0 else {
        Unmanaged<Box>.fromOpaque(box).release()
        throw PostingStartError("pthread_create: error \(rc)")
    }
    pthread_detach(thread)
}

public struct PostingStartError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
