/// What the posting worker keeps per account across restarts (migration 2): the rotated
/// session tokens (secrets: never logged, never written back to the credentials file), a
/// pause (rate limit or refused credentials) and the circuit breaker, each as the caller
/// encodes it.
public struct AccountState: Equatable, Sendable {
    public var account: String
    /// `SessionTokens` as JSON.
    public var tokens: String?
    public var tokensUpdatedAt: Int64?
    /// No attempt for this account before this time (ms UTC).
    public var pausedUntil: Int64?
    public var pauseReason: String?
    /// `CircuitBreaker` as JSON.
    public var breaker: String?
    public var updatedAt: Int64

    public init(account: String, tokens: String? = nil, tokensUpdatedAt: Int64? = nil, pausedUntil: Int64? = nil,
                pauseReason: String? = nil, breaker: String? = nil, updatedAt: Int64 = 0) {
        self.account = account
        self.tokens = tokens
        self.tokensUpdatedAt = tokensUpdatedAt
        self.pausedUntil = pausedUntil
        self.pauseReason = pauseReason
        self.breaker = breaker
        self.updatedAt = updatedAt
    }

    /// A description without the tokens.
    public var redacted: String {
        "AccountState(\(account), tokens: \(tokens == nil ? "none" : "[redacted]"), paused_until: \(pausedUntil.map(String.init) ?? "none"), reason: \(pauseReason ?? "none"))"
    }
}

extension SQLitePostStore {
    /// Every account's persisted state.
    public func accountStates() throws(StoreError) -> [String: AccountState] {
        var out: [String: AccountState] = [:]
        for r in try query("SELECT account, tokens, tokens_updated_at, paused_until, pause_reason, breaker, updated_at FROM account_state", []) {
            let s = AccountState(account: r.text(0)!, tokens: r.text(1), tokensUpdatedAt: r.int(2), pausedUntil: r.int(3),
                                 pauseReason: r.text(4), breaker: r.text(5), updatedAt: r.int(6) ?? 0)
            out[s.account] = s
        }
        return out
    }

    /// One account's stored tokens (nil when none were stored): the cheap read a process
    /// makes before using its adapter, to take tokens another process renewed since.
    public func tokens(account: String) throws(StoreError) -> String? {
        try query("SELECT tokens FROM account_state WHERE account = ?", [.text(account)]).first?.text(0)
    }

    /// Stores rotated tokens; returns once committed (callers persist before first use: X
    /// refresh tokens are single-use).
    public func saveTokens(account: String, tokens: String, now: Int64) throws(StoreError) {
        try upsert(account, set: "tokens = ?2, tokens_updated_at = ?3, updated_at = ?3", [.text(tokens), .integer(now)])
    }

    /// Pauses the account until `until` (nil: no pause) for `reason`.
    public func setPause(account: String, until: Int64?, reason: String?, now: Int64) throws(StoreError) {
        try upsert(account, set: "paused_until = ?2, pause_reason = ?4, updated_at = ?3", [until.sql, .integer(now), reason.sql])
    }

    public func saveBreaker(account: String, breaker: String, now: Int64) throws(StoreError) {
        try upsert(account, set: "breaker = ?2, updated_at = ?3", [.text(breaker), .integer(now)])
    }

    /// `?1` is the account, the rest are `values` in order.
    private func upsert(_ account: String, set: String, _ values: [SQLValue]) throws(StoreError) {
        try transaction { db throws(StoreError) in
            do throws(SQLiteError) {
                let params: [SQLValue] = [.text(account)] + values
                try db.prepare("INSERT INTO account_state (account, updated_at) VALUES (?1, 0) ON CONFLICT (account) DO NOTHING").run([.text(account)])
                try db.prepare("UPDATE account_state SET \(set) WHERE account = ?1").run(params)
            } catch {
                throw .database(error)
            }
        }
    }
}
