import SteadyCore

/// A credentials file as INTERFACE.md defines it. Descriptions never show a secret.
public enum Credentials: Sendable, Equatable, CustomStringConvertible {
    case x(XCredentials)
    case mastodon(MastodonCredentials)
    case bluesky(BlueskyCredentials)

    public var platform: Platform {
        switch self {
        case .x: return .x
        case .mastodon: return .mastodon
        case .bluesky: return .bluesky
        }
    }

    /// Parses a credentials file for `platform`. Unknown members are ignored (the simulator
    /// adds `web_password` for the browser path).
    public static func parse(_ text: String, platform: Platform) throws(CredentialsError) -> Credentials {
        let json: JSON
        do {
            json = try JSON.parse(text)
        } catch {
            // The parse error's offset is safe; its input is not echoed.
            throw CredentialsError(platform: platform, problem: "not valid JSON (\(error.description))")
        }
        guard json.isObject else { throw CredentialsError(platform: platform, problem: "not a JSON object") }
        func required(_ key: String) throws(CredentialsError) -> String {
            guard let v = json[key]?.string, !v.isEmpty else {
                throw CredentialsError(platform: platform, problem: "missing or empty string member \"\(key)\"")
            }
            return v
        }
        func optional(_ key: String) -> String? {
            guard let v = json[key]?.string, !v.isEmpty else { return nil }
            return v
        }
        switch platform {
        case .x:
            return .x(XCredentials(accessToken: try required("access_token"), refreshToken: optional("refresh_token"),
                                   clientId: optional("client_id"), clientSecret: optional("client_secret")))
        case .mastodon:
            return .mastodon(MastodonCredentials(accessToken: try required("access_token")))
        case .bluesky:
            return .bluesky(BlueskyCredentials(identifier: try required("identifier"), password: try required("password")))
        }
    }

    /// Every secret in these credentials (for redaction).
    public var secrets: [String] {
        switch self {
        case .x(let c): return [c.accessToken, c.refreshToken, c.clientSecret].compactMap { $0 }
        case .mastodon(let c): return [c.accessToken]
        case .bluesky(let c): return [c.password]
        }
    }

    public var description: String {
        switch self {
        case .x(let c): return c.description
        case .mastodon(let c): return c.description
        case .bluesky(let c): return c.description
        }
    }
}

public struct CredentialsError: Error, Sendable, Equatable, CustomStringConvertible {
    public var platform: Platform
    public var problem: String
    public var description: String { "\(platform.rawValue) credentials: \(problem)" }
}

/// `{"access_token", "refresh_token"?, "client_id"?, "client_secret"?}` (OAuth 2.0 user context).
public struct XCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessToken: String
    public var refreshToken: String?
    public var clientId: String?
    public var clientSecret: String?

    public init(accessToken: String, refreshToken: String? = nil, clientId: String? = nil, clientSecret: String? = nil) {
        self.accessToken = accessToken
        self.refreshToken = refreshToken
        self.clientId = clientId
        self.clientSecret = clientSecret
    }

    public var description: String {
        "XCredentials(access_token: [redacted], refresh_token: \(refreshToken == nil ? "none" : "[redacted]"), client_id: \(clientId ?? "none"), client_secret: \(clientSecret == nil ? "none" : "[redacted]"))"
    }
}

/// `{"access_token"}`.
public struct MastodonCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessToken: String
    public init(accessToken: String) { self.accessToken = accessToken }
    public var description: String { "MastodonCredentials(access_token: [redacted])" }
}

/// `{"identifier", "password"}` (an app password).
public struct BlueskyCredentials: Sendable, Equatable, CustomStringConvertible {
    public var identifier: String
    public var password: String
    public init(identifier: String, password: String) {
        self.identifier = identifier
        self.password = password
    }
    public var description: String { "BlueskyCredentials(identifier: \(identifier), password: [redacted])" }
}

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
