import Glibc
import CShim
import SteadySystem
import Synchronization

/// How other threads hand work to a worker's event loop: a locked queue plus a non-blocking
/// pipe whose read end is in the loop's epoll set. A thread appends an item and writes one
/// byte; the loop, woken by the pipe, drains both. The one such queue in the product: the
/// posting engine's attempt results, the reconciler's passes, the background queue's
/// results and the outbox's requests all come through it.
public final class LoopInbox<Item: Sendable>: Sendable {
    private let items = Mutex<[Item]>([])
    public let readFd: Int32
    private let writeFd: Int32

    public init() throws(SystemError) {
        var fds: [Int32] = [-1, -1]
        _ = try syscall("pipe2") { steady_pipe2_cloexec(&fds) }
        for fd in fds {
            _ = try syscall("fcntl(F_SETFL)") { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        }
        readFd = fds[0]
        writeFd = fds[1]
    }

    deinit {
        close(readFd)
        close(writeFd)
    }

    /// From any thread.
    public func post(_ item: Item) {
        items.withLock { $0.append(item) }
        var byte: UInt8 = 1
        while write(writeFd, &byte, 1) < 0 && errno == EINTR {}
        // EAGAIN (pipe full) is fine: the loop is already due to wake and drains everything.
    }

    /// Runs `body` on a new thread (`DetachedThread`); its result arrives through `drain`.
    public func run(_ body: @escaping @Sendable () -> Item) throws(SystemError) {
        try DetachedThread.start { [self] in post(body()) }
    }

    /// On the loop: empties the pipe and returns every item posted so far.
    public func drain() -> [Item] {
        var buffer = [UInt8](repeating: 0, count: 256)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(readFd, $0.baseAddress, $0.count) }
            if n > 0 { continue }
            if n < 0 && errno == EINTR { continue }
            break
        }
        return items.withLock {
            let out = $0
            $0.removeAll()
            return out
        }
    }
}
