/// The retry delay of the periodic workers: `base × 2^(tries-1)`, capped at `max`. No jitter:
/// one worker retries its own items, so there is no herd to spread.
public struct Backoff: Sendable, Equatable {
    public var baseMillis: Int64
    public var maxMillis: Int64

    public init(baseMillis: Int64, maxMillis: Int64) {
        self.baseMillis = baseMillis
        self.maxMillis = maxMillis
    }

    /// The delay after the `tries`-th failure in a row (1 for the first).
    public func delay(afterTries tries: Int) -> Int64 {
        let shift = Int64(min(max(tries - 1, 0), 30))
        let raw = baseMillis.multipliedReportingOverflow(by: Int64(1) << shift)
        return raw.overflow ? maxMillis : min(maxMillis, raw.partialValue)
    }
}
