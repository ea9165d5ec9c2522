import SteadyCore
import SteadyHTTP

/// X (PLATFORMS.md, "X"): OAuth 2.0 user context with single-use refresh tokens, weighted
/// text, no idempotency key (verification is by timeline), a duplicate-content 403 that may
/// mean our own post is live, usage caps, and the self-serve reply rule.
public struct XPlatform: PlatformDefinition {
    public init() {}
    public var platform: Platform { .x }
    public var displayName: String { "X" }
    public var defaultBaseURL: String { "https://api.x.com" }
    public var credentialFields: [CredentialField] {
        [CredentialField("access_token", secret: true), CredentialField("refresh_token", required: false, secret: true),
         CredentialField("client_id", required: false, secret: false), CredentialField("client_secret", required: false, secret: true)]
    }

    public func makeAdapter(credentials: Credentials, baseURL: String, session: SessionTokens?, client: HTTPClient,
                            now: @escaping @Sendable () -> Int64) -> any PlatformAdapter {
        XAdapter(baseURL: baseURL, credentials: XCredentials(credentials), session: session, client: client, now: now)
    }

    /// X sees nothing of the attempt: the attempt id is recorded for the operator.
    public func idempotencyKey(for attempt: AttemptKey) -> String { attempt.attemptId }
    /// X's write limits are tight: a slower base than the others.
    public var noEffectRetry: RetryPolicy { RetryPolicy(baseMillis: 15_000, capMillis: 30 * 60_000) }

    public func measure(_ text: String) -> TextLength {
        TextLength(platform: .x, count: TextLength.xWeightedLength(text), limit: TextLength.xLimit, utf8Bytes: text.utf8.count,
                   byteLimit: nil)
    }
    public var lengthUnit: String { "weighted characters" }

    public var defaultRateLimitPauseMs: Int64 { 15 * 60_000 }

    public func errorName(_ json: JSON?) -> String? {
        json?["title"]?.string ?? json?["error"]?.string ?? json?["errors"]?[0]?["title"]?.string
            ?? json?["errors"]?[0]?["message"]?.string
    }

    public func isAuthFailure(status: Int, name: String?, json: JSON?, operation: OperationKind) -> Bool {
        // invalid_request / invalid_grant on a refresh: the refresh token is used, revoked or unknown.
        if operation == .consumingRefresh && status == 400 { return true }
        let type = json?["type"]?.string ?? ""
        return status == 403 && (type.hasSuffix("/unsupported-authentication") || type.hasSuffix("/client-forbidden"))
    }

    public func isDuplicateContentRefusal(status: Int, detail: String?, json: JSON?) -> Bool {
        guard status == 403 else { return false }
        let texts = [detail, json?["title"]?.string, json?["errors"]?[0]?["message"]?.string, json?["errors"]?[0]?["detail"]?.string]
        return texts.compactMap { $0?.lowercased() }.contains { $0.contains("duplicate") }
    }

    public func isUsageCapped(_ json: JSON?) -> Bool { (json?["type"]?.string ?? "").hasSuffix("/usage-capped") }

    public func isDuplicateContentMessage(_ message: String) -> Bool {
        let m = message.lowercased()
        return m.contains("already said") || m.contains("duplicate")
    }

    /// Self-serve apps may reply only when the author mentioned (or quoted) the account.
    public var repliesRequireMention: Bool { true }
    /// Chains: a post can answer the account's own previous post (PLATFORMS.md, "Threads").
    public var threadChains: Bool { true }

    /// PLATFORMS.md, "Media attachments": image 5 MB, GIF 15 MB, video 512 MB; 4 images or 1
    /// GIF or 1 video a post; alt text ≤ 1,000 characters.
    public var mediaRules: MediaRules {
        MediaRules(platformName: displayName, maxBytes: [.image: 5 << 20, .gif: 15 << 20, .video: 512 << 20], maxCount: 4,
                   alone: [.gif, .video], maxAltLength: 1_000)
    }
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

    /// From a parsed file (`access_token` is required there).
    public init(_ c: Credentials) {
        self.init(accessToken: c["access_token"] ?? "", refreshToken: c["refresh_token"], clientId: c["client_id"],
                  clientSecret: c["client_secret"])
    }

    public var description: String {
        "XCredentials(access_token: [redacted], refresh_token: \(refreshToken == nil ? "none" : "[redacted]"), client_id: \(clientId ?? "none"), client_secret: \(clientSecret == nil ? "none" : "[redacted]"))"
    }
}

extension Credentials {
    public static func x(_ c: XCredentials) -> Credentials {
        Credentials(platform: .x, fields: XPlatform().credentialFields,
                    values: ["access_token": c.accessToken, "refresh_token": c.refreshToken ?? "", "client_id": c.clientId ?? "",
                             "client_secret": c.clientSecret ?? ""])
    }
}
