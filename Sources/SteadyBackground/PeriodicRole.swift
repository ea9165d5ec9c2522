import Logging
import SteadyCore
import SteadyWorker

/// What the periodic workers (metrics, replies) share: one `PeriodicJob` whose runs do their
/// blocking work on a `BackgroundQueue` while the worker's loop keeps the schedule, the
/// heartbeat counters (the job's F11 figures first) and the routed methods. A run never
/// starts while one runs (single-flight); drain waits for the running one. Subclasses say what
/// a run is (`beginRun`) and what its report means (`finished`).
open class PeriodicRole<Report: Sendable>: WorkerRole {
    public var job: PeriodicJob
    public let queue: BackgroundQueue<Report>
    /// Set when the loop is up (`start(context:)`); runs need it to reach other roles.
    public private(set) var outbox: WorkerOutbox?
    public var logger: Logger
    public private(set) var draining = false

    public init(job: PeriodicJob, logger: Logger) throws {
        self.job = job
        self.logger = logger
        queue = try BackgroundQueue()
    }

    /// What the worker does, for its status line.
    open var description: String { job.name }

    /// The worker's own heartbeat figures (the job's are added).
    open var figures: [String: Int64] { [:] }

    /// On the loop, once the job is due and marked started: start the run (submit work to
    /// `queue`), or end it at once with `job.succeeded`/`job.failed`.
    open func beginRun(now: Int64, outbox: WorkerOutbox) {}

    /// On the loop: a report from the background thread.
    open func finished(_ report: Report) {}

    open func handle(method: String, body: [UInt8]) -> WorkerReply? { nil }

    /// Ends the running job: failed with the first error (and how many more) or succeeded.
    public func endRun(errors: [String]) {
        let now = SteadyClock.wallMillis()
        guard let first = errors.first else { return job.succeeded(now: now) }
        job.failed(now: now, error: errors.count > 1 ? "\(first) (and \(errors.count - 1) more)" : first)
        logger.warning("\(job.name) run failed (\(job.consecutiveFailures) in a row): \(job.lastError ?? first)")
    }

    // MARK: - WorkerRole

    public var summary: String {
        job.lastError.map { "\(description); last error: \($0)" } ?? description
    }

    public var counters: [String: Int64] {
        job.counters(now: SteadyClock.wallMillis()).merging(figures) { a, _ in a }
    }

    public var inFlight: Int { queue.outstanding }

    public func beginDrain() {
        draining = true
        logger.info("draining: no new \(job.name) runs; \(queue.outstanding) running")
    }

    public var drained: Bool { draining && queue.outstanding == 0 }

    public var watchedDescriptors: [Int32] { [queue.fd] }

    public func readable(_ fd: Int32) {
        guard fd == queue.fd else { return }
        for report in queue.takeResults() { finished(report) }
    }

    public var wakeAt: Int64? {
        guard !draining, !job.running else { return nil }
        return SteadyClock.monotonicMillis() + max(0, job.nextRunAt - SteadyClock.wallMillis())
    }

    public func tick(now: Int64) {
        let wall = SteadyClock.wallMillis()
        guard !draining, let outbox, job.isDue(now: wall) else { return }
        job.started(now: wall)
        beginRun(now: wall, outbox: outbox)
    }

    public func start(context: WorkerContext) {
        logger = context.logger
        outbox = context.outbox
        logger.info("\(summary)")
    }
}
