import SteadyCore
import SteadyHTTP

/// Bluesky (PLATFORMS.md, "Bluesky"): an app password that makes sessions, the attempt's TID
/// as the record key (so `getRecord` decides an unknown outcome), graphemes and bytes capped.
public struct BlueskyPlatform: PlatformDefinition {
    public init() {}
    public var platform: Platform { .bluesky }
    public var displayName: String { "Bluesky" }
    public var defaultBaseURL: String { "https://bsky.social" }
    public var credentialFields: [CredentialField] {
        [CredentialField("identifier", secret: false), CredentialField("password", secret: true)]
    }

    public func makeAdapter(credentials: Credentials, baseURL: String, session: SessionTokens?, client: HTTPClient,
                            now: @escaping @Sendable () -> Int64) -> any PlatformAdapter {
        BlueskyAdapter(baseURL: baseURL, credentials: BlueskyCredentials(credentials), session: session, client: client, now: now)
    }

    /// The record key of the create: a TID of the attempt's start.
    public func idempotencyKey(for attempt: AttemptKey) -> String { attempt.blueskyRecordKey }

    public func measure(_ text: String) -> TextLength {
        TextLength(platform: .bluesky, count: text.count, limit: TextLength.blueskyLimit, utf8Bytes: text.utf8.count,
                   byteLimit: TextLength.blueskyByteLimit)
    }

    public func isAuthFailure(status: Int, name: String?, json: JSON?, operation: OperationKind) -> Bool {
        let authNames: Set<String> = ["ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing", "AccountTakedown",
                                      "AccountDeactivated", "InvalidEmail"]
        return (status == 400 || status == 403) && authNames.contains(name ?? "")
    }
    /// Chains: a post can answer the account's own previous post (PLATFORMS.md, "Threads").
    public var threadChains: Bool { true }

    /// PLATFORMS.md, "Media attachments": images of at most 1,000,000 bytes, 4 a post. Video
    /// goes through a separate service, out of scope for now; GIFs are not images there.
    public var mediaRules: MediaRules {
        MediaRules(platformName: displayName, maxBytes: [.image: 1_000_000], maxCount: 4)
    }
}

/// `{"identifier", "password"}` (an app password).
public struct BlueskyCredentials: Sendable, Equatable, CustomStringConvertible {
    public var identifier: String
    public var password: String
    public init(identifier: String, password: String) {
        self.identifier = identifier
        self.password = password
    }
    public init(_ c: Credentials) { self.init(identifier: c["identifier"] ?? "", password: c["password"] ?? "") }
    public var description: String { "BlueskyCredentials(identifier: \(identifier), password: [redacted])" }
}

extension Credentials {
    public static func bluesky(_ c: BlueskyCredentials) -> Credentials {
        Credentials(platform: .bluesky, fields: BlueskyPlatform().credentialFields,
                    values: ["identifier": c.identifier, "password": c.password])
    }
}
