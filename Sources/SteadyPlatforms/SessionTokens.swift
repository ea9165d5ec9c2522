import SteadyCore

/// The tokens an adapter uses beyond the credentials file: X's rotated access and refresh
/// tokens, Bluesky's session JWTs, plus the cached own user id. A value: the caller persists
/// it (the store, never the credentials file) and hands it back to the next adapter.
public struct SessionTokens: Sendable, Equatable, CustomStringConvertible {
    public var accessToken: String?
    public var refreshToken: String?
    /// When the access token expires, ms since the epoch, if the platform said.
    public var accessExpiresAtMs: Int64?
    /// X user id, Mastodon account id, Bluesky DID.
    public var userId: String?
    public var handle: String?

    /// When the access token was issued, ms since the epoch, if known: with the expiry it
    /// gives the token's life, which says how early to renew it.
    public var accessIssuedAtMs: Int64?

    public init(accessToken: String? = nil, refreshToken: String? = nil, accessExpiresAtMs: Int64? = nil,
                userId: String? = nil, handle: String? = nil, accessIssuedAtMs: Int64? = nil) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.accessExpiresAtMs = accessExpiresAtMs
        self.userId = userId
        self.handle = handle
        self.accessIssuedAtMs = accessIssuedAtMs
    }

    /// Whether the access token should be renewed now, ahead of its expiry: once less than a
    /// fifth of its life, and at most `maxLeadMs` (5 minutes), remains. False when the platform
    /// did not say when it expires (then only a refusal renews it).
    public func renewalDue(nowMs: Int64, maxLeadMs: Int64 = 300_000) -> Bool {
        guard let expires = accessExpiresAtMs else { return false }
        let life = accessIssuedAtMs.map { max(0, expires - $0) } ?? Int64.max
        let lead = min(maxLeadMs, life / 5)
        return nowMs >= expires - lead
    }

    /// The same tokens (access and refresh): what tells whether someone renewed them since.
    public func sameTokens(as other: SessionTokens) -> Bool {
        accessToken == other.accessToken && refreshToken == other.refreshToken
    }

    /// Whether the access token is known to expire within `marginMs` of `nowMs`.
    public func expiresSoon(nowMs: Int64, marginMs: Int64 = 60_000) -> Bool {
        guard let e = accessExpiresAtMs else { return false }
        return e - marginMs <= nowMs
    }

    public var secrets: [String] { [accessToken, refreshToken].compactMap { $0 } }

    /// A JSON object for the store (it holds secrets: store it as such).
    public var json: String {
        JSON.obj([
            ("access_token", accessToken.map(JSON.init)), ("refresh_token", refreshToken.map(JSON.init)),
            ("access_expires_at_ms", accessExpiresAtMs.map { JSON.number(Double($0), raw: String($0)) }),
            ("user_id", userId.map(JSON.init)), ("handle", handle.map(JSON.init)),
            ("access_issued_at_ms", accessIssuedAtMs.map { JSON.number(Double($0), raw: String($0)) }),
        ]).serialized
    }

    public init(json text: String) throws(JSON.ParseError) {
        let j = try JSON.parse(text)
        self.init(accessToken: j["access_token"]?.string, refreshToken: j["refresh_token"]?.string,
                  accessExpiresAtMs: j["access_expires_at_ms"]?.int.map(Int64.init), userId: j["user_id"]?.string,
                  handle: j["handle"]?.string, accessIssuedAtMs: j["access_issued_at_ms"]?.int.map(Int64.init))
    }

    public var description: String {
        "SessionTokens(access: \(accessToken == nil ? "none" : "[redacted]"), refresh: \(refreshToken == nil ? "none" : "[redacted]"), expires_at_ms: \(accessExpiresAtMs.map(String.init) ?? "unknown"), user: \(userId ?? "unknown"))"
    }
}
