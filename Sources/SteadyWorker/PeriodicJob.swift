/// One periodic job's schedule and health (F11): when it runs next, whether it is running
/// (single-flight), and what its heartbeats report. Pure: the caller passes the time (wall
/// milliseconds UTC, `SteadyClock.wallMillis()`).
public struct PeriodicJob: Sendable, Equatable {
    /// `[a-z0-9-]+`; shown as `ROLE/NAME` in status.
    public let name: String
    public let intervalMs: Int64
    public let createdAt: Int64
    public private(set) var nextRunAt: Int64
    public private(set) var running = false
    public private(set) var lastStart: Int64?
    public private(set) var lastSuccess: Int64?
    public private(set) var lastError: String?
    public private(set) var consecutiveFailures = 0
    /// A trigger that arrived while the job ran: one more run right after (not one per trigger).
    public private(set) var rerunRequested = false

    public init(name: String, intervalMs: Int64, createdAt: Int64, firstRunAt: Int64? = nil) {
        precondition(intervalMs > 0, "a periodic job needs a positive interval")
        self.name = name
        self.intervalMs = intervalMs
        self.createdAt = createdAt
        nextRunAt = firstRunAt ?? createdAt
    }

    public func isDue(now: Int64) -> Bool { !running && now >= nextRunAt }

    public mutating func started(now: Int64) {
        running = true
        rerunRequested = false
        lastStart = now
    }

    /// The next run is one interval after this run's start (never in the past).
    public mutating func succeeded(now: Int64) {
        running = false
        lastSuccess = now
        lastError = nil
        consecutiveFailures = 0
        nextRunAt = rerunRequested ? now : max(now, (lastStart ?? now) + intervalMs)
    }

    /// `retryAt` nil: try again one interval after this run's start.
    public mutating func failed(now: Int64, error: String, retryAt: Int64? = nil) {
        running = false
        lastError = error
        consecutiveFailures += 1
        nextRunAt = rerunRequested ? now : max(now, retryAt ?? ((lastStart ?? now) + intervalMs))
    }

    /// Run as soon as possible (an operator asked). While running, one rerun is remembered:
    /// overlapping triggers never start a second concurrent run (F19).
    public mutating func trigger(now: Int64) {
        if running { rerunRequested = true } else { nextRunAt = min(nextRunAt, now) }
    }

    /// No success within two intervals of the last success (or of the job's creation).
    public func isLate(now: Int64) -> Bool {
        now - (lastSuccess ?? createdAt) > 2 * intervalMs
    }

    /// Heartbeat counters: `job.NAME.last_start_ms`, `.last_success_ms` (0: never),
    /// `.consecutive_failures`, `.late` (0 or 1), `.interval_ms`, `.late_after_ms` (the
    /// wall time at which it turns late without a success: the supervisor judges with it even
    /// when the worker has stopped sending heartbeats), `.running` (0 or 1) and
    /// `.next_run_ms` (when it is due next, if not running).
    public func counters(now: Int64) -> [String: Int64] {
        let prefix = "job.\(name)."
        return [
            prefix + "last_start_ms": lastStart ?? 0,
            prefix + "last_success_ms": lastSuccess ?? 0,
            prefix + "consecutive_failures": Int64(consecutiveFailures),
            prefix + "late": isLate(now: now) ? 1 : 0,
            prefix + "interval_ms": intervalMs,
            prefix + "late_after_ms": (lastSuccess ?? createdAt) + 2 * intervalMs,
            prefix + "running": running ? 1 : 0,
            prefix + "next_run_ms": nextRunAt,
        ]
    }
}
