import SteadyCore
import SteadyHTTP

/// Facebook Pages through the Graph API (PLATFORMS.md, "Facebook Pages (Graph API)"): a Page
/// access token that cannot be refreshed, no idempotency key (verification is by the Page's
/// `published_posts` since the attempt began), errors read by their `error.code`, and
/// business-use-case throttling announced in `X-Business-Use-Case-Usage`.
public struct FacebookPlatform: PlatformDefinition {
    /// The Graph API version every path starts with.
    public static let graphVersion = "v21.0"
    /// PLATFORMS.md: a post's message is at most 63,206 characters.
    public static let maxCharacters = 63_206

    public init() {}
    public var platform: Platform { .facebook }
    public var displayName: String { "Facebook" }
    /// Paths carry the version (`/v21.0/…`), so a simulator's origin serves as a base too; a
    /// base ending in a version (`https://graph.facebook.com/v22.0`) pins that one instead.
    public var defaultBaseURL: String { "https://graph.facebook.com" }
    public var credentialFields: [CredentialField] {
        [CredentialField("page_id", secret: false), CredentialField("access_token", secret: true)]
    }

    public func makeAdapter(credentials: Credentials, baseURL: String, session: SessionTokens?, client: HTTPClient,
                            now: @escaping @Sendable () -> Int64) -> any PlatformAdapter {
        FacebookAdapter(baseURL: baseURL, credentials: FacebookCredentials(credentials), session: session, client: client, now: now)
    }

    /// Facebook sees nothing of the attempt: the attempt id is recorded for the operator.
    public func idempotencyKey(for attempt: AttemptKey) -> String { attempt.attemptId }
    public var noEffectRetry: RetryPolicy { RetryPolicy(baseMillis: 10_000, capMillis: 30 * 60_000) }

    public func measure(_ text: String) -> TextLength {
        TextLength(platform: .facebook, count: text.count, limit: Self.maxCharacters, utf8Bytes: text.utf8.count, byteLimit: nil)
    }

    /// A throttled Page is usually told when it regains access (the usage header); without
    /// that, half an hour of the rolling window.
    public var defaultRateLimitPauseMs: Int64 { 30 * 60_000 }

    /// `OAuthException #190/463`: the error's type, code and subcode.
    public func errorName(_ json: JSON?) -> String? {
        guard let error = json?["error"], error.isObject else { return nil }
        let type = error["type"]?.string ?? "GraphError"
        guard let code = error["code"]?.int else { return type }
        return "\(type) #\(code)" + (error["error_subcode"]?.int.map { "/\($0)" } ?? "")
    }

    /// Code 190 (subcodes 463 expired, 460 password changed, 467 invalid): the Page token is
    /// no good. It cannot be refreshed: the account pauses until an operator replaces it.
    public func isAuthFailure(status: Int, name: String?, json: JSON?, operation: OperationKind) -> Bool {
        Self.code(json) == 190
    }

    /// Code 506 "Duplicate status message": the same text may be live, perhaps ours.
    public func isDuplicateContentRefusal(status: Int, detail: String?, json: JSON?) -> Bool {
        Self.code(json) == 506
    }

    public func isDuplicateContentMessage(_ message: String) -> Bool {
        message.lowercased().contains("duplicate status message")
    }

    /// What `error.code` says beyond the status: 4, 17, 32, 613 and the business-use-case
    /// codes 80000-80014 are rate limits; 1 and 2 are transient (a create's may have
    /// published); 368 (blocked as abusive) and 100 (invalid parameter) are permanent.
    public func refusalKind(status: Int, json: JSON?) -> RefusalKind? {
        guard let code = Self.code(json) else { return nil }
        switch code {
        case 4, 17, 32, 613, 80_000...80_014: return .rateLimited
        case 1, 2: return .transient
        case 100, 368: return .permanent
        default: return nil
        }
    }

    /// PLATFORMS.md, "Media attachments": uploaded unpublished through `/photos`, then named by
    /// the feed post (`attached_media`). Images only (a GIF becomes a still), 4 MB each, 10 a post.
    public var mediaRules: MediaRules {
        MediaRules(platformName: displayName, maxBytes: [.image: 4 << 20, .gif: 4 << 20], maxCount: 10)
    }

    /// Page comments and post insights are issue 17's later part: not read yet.
    public var readsMentions: Bool { false }
    public var readsMetrics: Bool { false }

    static func code(_ json: JSON?) -> Int? { json?["error"]?["code"]?.int }
}

/// `{"page_id", "access_token"}` (a Page access token).
public struct FacebookCredentials: Sendable, Equatable, CustomStringConvertible {
    public var pageId: String
    public var accessToken: String
    public init(pageId: String, accessToken: String) {
        self.pageId = pageId
        self.accessToken = accessToken
    }
    public init(_ c: Credentials) { self.init(pageId: c["page_id"] ?? "", accessToken: c["access_token"] ?? "") }
    public var description: String { "FacebookCredentials(page_id: \(pageId), access_token: [redacted])" }
}

extension Credentials {
    public static func facebook(_ c: FacebookCredentials) -> Credentials {
        Credentials(platform: .facebook, fields: FacebookPlatform().credentialFields,
                    values: ["page_id": c.pageId, "access_token": c.accessToken])
    }
}
