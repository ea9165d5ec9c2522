import SteadyStore

/// A circuit breaker for one platform and account (DESIGN.md 3.6), pure and persisted by the
/// caller. It counts only failures that mean the platform is unhealthy (5xx, timeouts,
/// refused connections): never 4xx refusals of one post, rate limits or auth problems,
/// which say nothing about the platform's health (F09).
///
/// closed → (threshold consecutive unhealthy failures) → open for `openMillis`
/// open → (time passes) → half-open: exactly one probe may go
/// half-open → probe succeeds → closed, open time back to its base
/// half-open → probe fails → open again, for twice as long (capped)
public struct CircuitBreaker: Equatable, Sendable, Codable {
    /// closed, open, half-open: the stored shape's (`StoredBreaker`, which the api reads).
    public typealias State = StoredBreaker.State

    public var state: State = .closed
    public var consecutiveFailures = 0
    public var openedAt: Int64 = 0
    public var openMillis: Int64
    /// A half-open breaker has let its single probe through and waits for its result.
    public var probeInFlight = false

    public let threshold: Int
    public let baseOpenMillis: Int64
    public let maxOpenMillis: Int64

    /// The longest a breaker stays open before its next probe: 5 minutes. Longer only holds
    /// posts back from a platform that has recovered (one probe is cheap); shorter than the
    /// base would be no breaker.
    public static let openCapMillis: Int64 = 5 * 60_000

    public init(threshold: Int = 5, baseOpenMillis: Int64 = 30_000, maxOpenMillis: Int64 = CircuitBreaker.openCapMillis) {
        self.threshold = threshold
        self.baseOpenMillis = baseOpenMillis
        self.maxOpenMillis = max(baseOpenMillis, maxOpenMillis)
        self.openMillis = baseOpenMillis
    }

    /// May a request go now? A half-open breaker admits one probe.
    public mutating func allow(now: Int64) -> Bool {
        switch state {
        case .closed:
            return true
        case .open:
            guard now >= openedAt + openMillis else { return false }
            state = .halfOpen
            probeInFlight = true
            return true
        case .halfOpen:
            if probeInFlight { return false }
            probeInFlight = true
            return true
        }
    }

    /// The platform answered in a way that shows it is healthy.
    public mutating func recordSuccess() {
        state = .closed
        consecutiveFailures = 0
        openMillis = baseOpenMillis
        probeInFlight = false
    }

    /// A failure that says the platform is unhealthy.
    public mutating func recordUnhealthy(now: Int64) {
        switch state {
        case .closed:
            consecutiveFailures += 1
            if consecutiveFailures >= threshold {
                state = .open
                openedAt = now
            }
        case .halfOpen:
            // The probe failed: open again, for longer.
            openMillis = min(maxOpenMillis, openMillis * 2)
            state = .open
            openedAt = now
            probeInFlight = false
        case .open:
            break
        }
    }

    /// When an open breaker lets its probe through.
    public var reopensAt: Int64? { state == .open ? openedAt + openMillis : nil }
}
