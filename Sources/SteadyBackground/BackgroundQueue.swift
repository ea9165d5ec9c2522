import SteadyCore
import SteadySystem
import SteadyWorker

/// One serial background thread for a worker's blocking work (platform requests, store calls,
/// `WorkerOutbox.call`), so the worker's loop — and with it the heartbeat — never blocks.
/// Work runs in submission order, one item at a time: everything submitted shares the
/// thread's adapters without locks. Results come back through a `LoopInbox` whose descriptor
/// (`fd`) the loop watches; `takeResults()` on the loop returns them in completion order.
public final class BackgroundQueue<Output: Sendable>: @unchecked Sendable {
    // @unchecked: `outstanding` is the loop thread's alone; the thread shares only `work`
    // and `results`, both locked.
    private let results: LoopInbox<Output>
    /// Queued by the loop, taken by the thread.
    private let work = WaitableMutex<[@Sendable () -> Output]>([])
    /// Submitted and not yet taken back by the loop. The loop's alone.
    public private(set) var outstanding = 0

    /// Readable when results are waiting.
    public var fd: Int32 { results.readFd }

    /// Starts the thread (2 MiB of stack: a job is a few requests and store calls, and stacks
    /// count against the worker's memory bound). It lives as long as the process.
    public init() throws {
        results = try LoopInbox()
        try startThread()
    }

    private func startThread() throws(BackgroundStartError) {
        do { try DetachedThread.start { [self] in serve() } } catch { throw BackgroundStartError("\(error)") }
    }

    /// On the loop: queues `body` behind what is already queued.
    public func submit(_ body: @escaping @Sendable () -> Output) {
        outstanding += 1
        work.withLock { $0.append(body) }
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
            let body = work.wait { $0.isEmpty ? nil : $0.removeFirst() }
            results.post(body())
        }
    }
}

public struct BackgroundStartError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
