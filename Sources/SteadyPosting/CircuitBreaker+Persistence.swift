import SteadyPlatforms

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

    /// The JSON kept in `account_state.breaker`.
    public var json: String {
        JSON.obj([
            ("state", JSON(state.rawValue)), ("consecutive_failures", JSON(consecutiveFailures)),
            ("opened_at", .number(Double(openedAt), raw: String(openedAt))),
            ("open_ms", .number(Double(openMillis), raw: String(openMillis))),
        ]).serialized
    }

    /// Restores a persisted breaker. A probe that was in flight died with its worker, so a
    /// half-open breaker comes back ready for a new probe.
    public static func restored(json text: String?, base: CircuitBreaker = CircuitBreaker()) -> CircuitBreaker {
        var b = base
        guard let text, let j = try? JSON.parse(text) else { return b }
        b.state = j["state"]?.string.flatMap(State.init(rawValue:)) ?? .closed
        b.consecutiveFailures = j["consecutive_failures"]?.int ?? 0
        b.openedAt = j["opened_at"]?.stringOrNumber.flatMap { Int64($0) } ?? 0
        // Within this version's bounds, whatever an older one stored.
        let stored = j["open_ms"]?.stringOrNumber.flatMap { Int64($0) } ?? b.baseOpenMillis
        b.openMillis = min(max(stored, b.baseOpenMillis), b.maxOpenMillis)
        b.probeInFlight = false
        return b
    }
}
