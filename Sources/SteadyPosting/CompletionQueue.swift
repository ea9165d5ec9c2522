import Glibc
import SteadyCore
import SteadyWorker

/// How attempt threads hand their results to the worker's event loop: the worker's own
/// `LoopInbox` (a locked queue plus a pipe the loop watches).
typealias CompletionQueue<Item: Sendable> = LoopInbox<Item>

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
