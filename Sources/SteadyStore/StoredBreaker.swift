import SteadyJSON

/// A circuit breaker as `account_state.breaker` keeps it: written by the posting worker
/// (whose `CircuitBreaker` owns the rules), read by it at start and by the api worker for
/// `/health`, `/metrics` and the dashboard. The shape lives here, with the store, so that
/// readers of it need not link the posting engine.
public struct StoredBreaker: Equatable, Sendable {
    public enum State: String, Equatable, Sendable, Codable, CaseIterable {
        case closed, open, halfOpen = "half-open"
    }

    public var state: State
    public var consecutiveFailures: Int
    public var openedAt: Int64
    /// nil when the stored text did not say (the reader's base applies).
    public var openMillis: Int64?

    public init(state: State = .closed, consecutiveFailures: Int = 0, openedAt: Int64 = 0, openMillis: Int64? = nil) {
        self.state = state
        self.consecutiveFailures = consecutiveFailures
        self.openedAt = openedAt
        self.openMillis = openMillis
    }

    /// The stored text's breaker; a closed one when there is none or it cannot be read.
    public static func parse(_ text: String?) -> StoredBreaker {
        guard let text, let j = try? JSON.parse(text) else { return StoredBreaker() }
        return StoredBreaker(
            state: j["state"]?.string.flatMap(State.init(rawValue:)) ?? .closed,
            consecutiveFailures: j["consecutive_failures"]?.int ?? 0,
            openedAt: j["opened_at"]?.stringOrNumber.flatMap { Int64($0) } ?? 0,
            openMillis: j["open_ms"]?.stringOrNumber.flatMap { Int64($0) })
    }

    public var json: String {
        JSON.obj([
            ("state", JSON(state.rawValue)), ("consecutive_failures", JSON(consecutiveFailures)),
            ("opened_at", .number(Double(openedAt), raw: String(openedAt))),
            ("open_ms", openMillis.map { .number(Double($0), raw: String($0)) }),
        ]).serialized
    }
}
