import Glibc
import SteadyCore
import SteadyWorker

/// One serial background thread for a worker's blocking work (platform requests, store calls,
/// `WorkerOutbox.call`), so the worker's loop — and with it the heartbeat — never blocks.
/// Work runs in submission order, one item at a time: everything submitted shares the
/// thread's adapters without locks. Results come back through a `LoopInbox` whose descriptor
/// (`fd`) the loop watches; `takeResults()` on the loop returns them in completion order.
public final class BackgroundQueue<Output: Sendable>: @unchecked Sendable {
    private let results: LoopInbox<Output>
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Guarded by `mutex`.
    private var work: [@Sendable () -> Output] = []
    /// Submitted and not yet taken back by the loop. The loop's alone.
    public private(set) var outstanding = 0

    /// Readable when results are waiting.
    public var fd: Int32 { results.readFd }

    /// Starts the thread (2 MiB of stack: a job is a few requests and store calls, and stacks
    /// count against the worker's memory bound). It lives as long as the process.
    public init() throws {
        results = try LoopInbox()
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(wake, nil)
        try startThread()
    }

    private func startThread() throws(BackgroundStartError) {
        // Not generic: a C thread entry cannot name the generic class.
        let rc = ThreadEntry.spawn(stackBytes: 2 << 20) { [self] in serve() }
        guard rc == 0 else { throw BackgroundStartError("pthread_create: error \(rc)") }
    }

    /// On the loop: queues `body` behind what is already queued.
    public func submit(_ body: @escaping @Sendable () -> Output) {
        outstanding += 1
        pthread_mutex_lock(mutex)
        work.append(body)
        pthread_cond_signal(wake)
        pthread_mutex_unlock(mutex)
    }

    /// On the loop, when `fd` is readable: every finished result so far.
    public func takeResults() -> [Output] {
        let out = results.drain()
        outstanding -= out.count
        return out
    }

    private func serve() {
        // Signals stay blocked here: the worker blocked them before any thread was made.
        while true {
            pthread_mutex_lock(mutex)
            while work.isEmpty { pthread_cond_wait(wake, mutex) }
            let body = work.removeFirst()
            pthread_mutex_unlock(mutex)
            results.post(body())
        }
    }
}

public struct BackgroundStartError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Starts a detached pthread running a closure (signals stay blocked in it: the worker's loop
/// blocked them before any thread was made).
enum ThreadEntry {
    final class Body {
        let run: @Sendable () -> Void
        init(_ run: @escaping @Sendable () -> Void) { self.run = run }
    }

    /// pthread_create's result: 0 when the thread runs.
    static func spawn(stackBytes: Int, _ run: @escaping @Sendable () -> Void) -> Int32 {
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackBytes)
        let body = Unmanaged.passRetained(Body(run))
        var thread = pthread_t()
        let rc = pthread_create(&thread, &attributes, { arg in
            Unmanaged<Body>.fromOpaque(arg!).takeRetainedValue().run()
            return nil
        }, body.toOpaque())
        if rc == 0 { pthread_detach(thread) } else { body.release() }
        return rc
    }
}
