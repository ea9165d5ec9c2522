import SteadyCore

/// The timings and limits one child is supervised with (from its `[workers.ROLE]` table).
public struct ChildPolicy: Equatable, Sendable {
    public var heartbeatIntervalMs: Int64
    /// No heartbeat (or no ready after a start) for this long means hung.
    public var hangTimeoutMs: Int64
    /// Between SIGTERM and SIGKILL for a hung child.
    public var termGraceMs: Int64
    /// How long a drained child may take to finish in-flight work before SIGKILL.
    public var drainTimeoutMs: Int64
    public var restartBaseDelayMs: Int64
    public var restartMaxDelayMs: Int64
    /// More than this many restarts within `restartWindowMs` parks the child `failed`.
    public var restartIntensity: Int
    public var restartWindowMs: Int64
    /// A child up this long has its backoff reset.
    public var stableAfterMs: Int64
    /// PSI "some avg10" (percent) at or above which a silent child is taken as starved, not
    /// hung, and gets one extension of its hang deadline.
    public var pressureThreshold: Double

    public init(heartbeatIntervalMs: Int64 = 1000, hangTimeoutMs: Int64 = 10_000, termGraceMs: Int64 = 3000,
                drainTimeoutMs: Int64 = 5000, restartBaseDelayMs: Int64 = 250, restartMaxDelayMs: Int64 = 30_000,
                restartIntensity: Int = 5, restartWindowMs: Int64 = 60_000, stableAfterMs: Int64 = 30_000,
                pressureThreshold: Double = 40) {
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.hangTimeoutMs = hangTimeoutMs
        self.termGraceMs = termGraceMs
        self.drainTimeoutMs = drainTimeoutMs
        self.restartBaseDelayMs = restartBaseDelayMs
        self.restartMaxDelayMs = restartMaxDelayMs
        self.restartIntensity = restartIntensity
        self.restartWindowMs = restartWindowMs
        self.stableAfterMs = stableAfterMs
        self.pressureThreshold = pressureThreshold
    }

    /// The delay before restart number `consecutiveFailures` (1 = the first failure in a row):
    /// the first restart is immediate; then `base × 2^(n-2)`, capped at `max`, with equal
    /// jitter (`jitter` in [0, 1) picks a point in the upper half of that delay).
    public func backoffDelay(consecutiveFailures n: Int, jitter: Double) -> Int64 {
        guard n > 1 else { return 0 }
        let exponent = min(n - 2, 40)
        let raw = Double(restartBaseDelayMs) * Double(1 << UInt64(exponent))
        let capped = min(raw, Double(restartMaxDelayMs))
        let clampedJitter = min(max(jitter, 0), 0.999_999)
        return Int64(capped / 2 + capped / 2 * clampedJitter)
    }
}
