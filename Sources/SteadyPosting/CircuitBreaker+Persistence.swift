import SteadyPlatforms
import SteadyStore

extension CircuitBreaker {
    /// Whether `allow(now:)` would let a request go, without taking the half-open probe:
    /// the worker asks this before claiming and calls `allow` only once it has a post.
    public func wouldAllow(now: Int64) -> Bool {
        switch state {
        case .closed: return true
        case .open: return now >= openedAt + openMillis
        case .halfOpen: return !probeInFlight
        }
    }

    /// Feeds one answer's health in.
    public mutating func record(_ health: PlatformHealth, now: Int64) {
        switch health {
        case .healthy: recordSuccess()
        case .unhealthy: recordUnhealthy(now: now)
        case .silent:
            // Nothing reached the platform: a half-open probe that did not happen may go again.
            if state == .halfOpen { probeInFlight = false }
        }
    }

    /// The JSON kept in `account_state.breaker` (`StoredBreaker`).
    public var json: String {
        StoredBreaker(state: state, consecutiveFailures: consecutiveFailures, openedAt: openedAt, openMillis: openMillis).json
    }

    /// Restores a persisted breaker. A probe that was in flight died with its worker, so a
    /// half-open breaker comes back ready for a new probe.
    public static func restored(json text: String?, base: CircuitBreaker = CircuitBreaker()) -> CircuitBreaker {
        var b = base
        guard text != nil else { return b }
        let stored = StoredBreaker.parse(text)
        b.state = stored.state
        b.consecutiveFailures = stored.consecutiveFailures
        b.openedAt = stored.openedAt
        // Within this version's bounds, whatever an older one stored.
        b.openMillis = min(max(stored.openMillis ?? b.baseOpenMillis, b.baseOpenMillis), b.maxOpenMillis)
        b.probeInFlight = false
        return b
    }
}
