import SteadyCore
import SteadyHTTP
import SteadyPlatforms

// A platform that exists only in the tests, added by ARCHITECTURE.md's recipe ("Add a
// platform"): its definition and its adapter in these files, plus one registration line
// (`PlatformRegistry.register(FakePlatform())` in the test). Nothing in the product names it.
// Its rules differ from every built-in one on purpose, so a test sees whose rules ran: a
// 40-character limit, "fk-" idempotency keys, a `token` credentials member.

extension Platform {
    static let fake = Platform(rawValue: "fake")!
}

struct FakePlatform: PlatformDefinition {
    static let limit = 40
    var platform: Platform { .fake }
    var displayName: String { "Fake" }
    var defaultBaseURL: String { "fake://world" }
    var credentialFields: [CredentialField] { [CredentialField("token", secret: true)] }

    func makeAdapter(credentials: Credentials, baseURL: String, session: SessionTokens?, client: HTTPClient,
                     now: @escaping @Sendable () -> Int64) -> any PlatformAdapter {
        FakeAdapter(world: FakeWorld.named(baseURL), token: credentials["token"] ?? "")
    }

    /// The platform dedupes creates by this key and answers lookups by it (definitive).
    func idempotencyKey(for attempt: AttemptKey) -> String { "fk-" + attempt.attemptId }
    var noEffectRetry: RetryPolicy { RetryPolicy(baseMillis: 50, capMillis: 100) }

    func measure(_ text: String) -> TextLength {
        TextLength(platform: .fake, count: text.count, limit: Self.limit, utf8Bytes: text.utf8.count, byteLimit: nil)
    }
}
