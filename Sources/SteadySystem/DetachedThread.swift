import Glibc

/// A detached POSIX thread with a bounded stack: the one way a worker starts a thread for
/// blocking work (an attempt, a reconcile pass, a background queue). Signals stay blocked on
/// it: the worker blocked them before making any thread, and threads inherit the mask.
public enum DetachedThread {
    /// 2 MiB: a job is a few HTTP requests and store calls, and stacks count against the
    /// worker's memory bound (RLIMIT_DATA).
    public static let defaultStackBytes = 2 << 20

    public static func start(stackBytes: Int = defaultStackBytes, _ body: @escaping @Sendable () -> Void) throws(SystemError) {
        final class Box {
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackBytes)
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attributes, { arg in
            Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().body()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemError("pthread_create", errno: rc)
        }
        pthread_detach(thread)
    }
}
