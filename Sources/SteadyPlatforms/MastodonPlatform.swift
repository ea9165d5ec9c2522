import SteadyCore
import SteadyHTTP

/// Mastodon (PLATFORMS.md, "Mastodon"): a bearer token that cannot be refreshed, an
/// `Idempotency-Key` that dedupes creates but cannot be queried (verification is by timeline),
/// and grapheme length with URLs at a fixed weight.
public struct MastodonPlatform: PlatformDefinition {
    public init() {}
    public var platform: Platform { .mastodon }
    public var displayName: String { "Mastodon" }
    public var defaultBaseURL: String { "https://mastodon.social" }
    public var credentialFields: [CredentialField] { [CredentialField("access_token", secret: true)] }

    public func makeAdapter(credentials: Credentials, baseURL: String, session: SessionTokens?, client: HTTPClient,
                            now: @escaping @Sendable () -> Int64) -> any PlatformAdapter {
        MastodonAdapter(baseURL: baseURL, credentials: MastodonCredentials(credentials), session: session, client: client, now: now)
    }

    /// The `Idempotency-Key` header of the create.
    public func idempotencyKey(for attempt: AttemptKey) -> String { attempt.mastodonIdempotencyKey }

    /// The default limits; the adapter measures by the instance's own once it has read them.
    public func measure(_ text: String) -> TextLength { measure(text, limit: TextLength.mastodonDefaultLimit) }

    public func measure(_ text: String, limit: Int, urlLength: Int = TextLength.mastodonDefaultURLLength) -> TextLength {
        TextLength(platform: .mastodon, count: TextLength.mastodonLength(text, urlLength: urlLength), limit: limit,
                   utf8Bytes: text.utf8.count, byteLimit: nil)
    }

    public func isAuthFailure(status: Int, name: String?, json: JSON?, operation: OperationKind) -> Bool {
        let text = (name ?? "").lowercased()
        return status == 403 && (text.contains("scope") || text.contains("token") || text.contains("login"))
    }
    /// Chains: a post can answer the account's own previous post (PLATFORMS.md, "Threads").
    public var threadChains: Bool { true }

    /// PLATFORMS.md, "Media attachments": image 16 MB, video 99 MB, 4 a post (a GIF is an
    /// image there: the server converts it). The server refuses a video beside other media.
    public var mediaRules: MediaRules {
        MediaRules(platformName: displayName, maxBytes: [.image: 16 << 20, .gif: 16 << 20, .video: 99 << 20], maxCount: 4,
                   alone: [.video])
    }
}

/// `{"access_token"}`.
public struct MastodonCredentials: Sendable, Equatable, CustomStringConvertible {
    public var accessToken: String
    public init(accessToken: String) { self.accessToken = accessToken }
    public init(_ c: Credentials) { self.init(accessToken: c["access_token"] ?? "") }
    public var description: String { "MastodonCredentials(access_token: [redacted])" }
}

extension Credentials {
    public static func mastodon(_ c: MastodonCredentials) -> Credentials {
        Credentials(platform: .mastodon, fields: MastodonPlatform().credentialFields, values: ["access_token": c.accessToken])
    }
}
