import SteadyCore
import SteadyHTTP

/// Everything steadypost knows about one platform, in one place: the credentials file's
/// members, how to build its adapter, the idempotency material an attempt records, how soon a
/// send without effect is retried, its text rule, and how to read its error bodies. The
/// posting, reconciler, background and config code ask the definition and never switch over
/// platforms. Each platform has one (`XPlatform`, `MastodonPlatform`, `BlueskyPlatform`),
/// listed once in `PlatformRegistry`; ARCHITECTURE.md, "Add a platform", is the recipe.
///
/// The defaults below are what a platform without a rule of its own gets.
public protocol PlatformDefinition: DraftValidating, Sendable {
    var platform: Platform { get }
    /// How messages name it ("X", "Mastodon").
    var displayName: String { get }
    /// Where the platform's API lives when an account does not say (`base_url`).
    var defaultBaseURL: String { get }
    /// The credentials file's members, in the order descriptions show them.
    var credentialFields: [CredentialField] { get }

    /// The adapter for an account. `credentials.platform` is this definition's.
    func makeAdapter(credentials: Credentials, baseURL: String, session: SessionTokens?, client: HTTPClient,
                     now: @escaping @Sendable () -> Int64) -> any PlatformAdapter

    /// The idempotency material recorded with an attempt before its send: what the platform
    /// will see (an `Idempotency-Key`, a record key), or the attempt id where it sees nothing.
    func idempotencyKey(for attempt: AttemptKey) -> String
    /// How soon a send that had no effect is tried again.
    var noEffectRetry: RetryPolicy { get }

    /// The text's length by the platform's own rule (its default limits).
    func measure(_ text: String) -> TextLength
    /// What `measure` counts, for messages ("characters", "weighted characters").
    var lengthUnit: String { get }

    /// How long to pause when a 429 carries no usable reset: the platform's window.
    var defaultRateLimitPauseMs: Int64 { get }
    /// The platform's own error name in an error body.
    func errorName(_ json: JSON?) -> String?
    /// Whether a refusal (other than a 401, which always is) says the credentials are bad.
    func isAuthFailure(status: Int, name: String?, json: JSON?, operation: OperationKind) -> Bool
    /// Whether a refused create says the same text is already live (perhaps ours): then the
    /// outcome is unknown and verification decides, never a failure.
    func isDuplicateContentRefusal(status: Int, detail: String?, json: JSON?) -> Bool
    /// Whether an error body says a daily or monthly usage cap is spent (not a 15-minute window).
    func isUsageCapped(_ json: JSON?) -> Bool
    /// The same as `isDuplicateContentRefusal`, for the refusal text the web page shows.
    func isDuplicateContentMessage(_ message: String) -> Bool
    /// What an error body's own code says when it decides more than the status does
    /// (Facebook's `error.code`); nil leaves the decision to the status.
    func refusalKind(status: Int, json: JSON?) -> RefusalKind?

    /// Whether replies may only answer authors who mentioned the account.
    var repliesRequireMention: Bool { get }

    /// What one post may carry: kinds, sizes, count, combinations, alt text (checked at scheduling).
    var mediaRules: MediaRules { get }
    /// Whether a post can answer the account's own previous post, so a thread can be a chain
    /// (PLATFORMS.md, "Threads"); platforms without chains refuse threads at scheduling.
    var threadChains: Bool { get }
    /// Whether the adapter reads mentions and engagement counts; one that does not answers an
    /// empty page and no counts (Facebook, for now).
    var readsMentions: Bool { get }
    var readsMetrics: Bool { get }
}

extension PlatformDefinition {
    public var displayName: String { platform.rawValue }
    public func idempotencyKey(for attempt: AttemptKey) -> String { attempt.attemptId }
    public var noEffectRetry: RetryPolicy { .noEffect }
    public var lengthUnit: String { "characters" }
    public var defaultRateLimitPauseMs: Int64 { 5 * 60_000 }
    public func errorName(_ json: JSON?) -> String? { json?["error"]?.string ?? json?["title"]?.string }
    public func isAuthFailure(status: Int, name: String?, json: JSON?, operation: OperationKind) -> Bool { false }
    public func isDuplicateContentRefusal(status: Int, detail: String?, json: JSON?) -> Bool { false }
    public func isUsageCapped(_ json: JSON?) -> Bool { false }
    public func isDuplicateContentMessage(_ message: String) -> Bool { false }
    public func refusalKind(status: Int, json: JSON?) -> RefusalKind? { nil }
    public var repliesRequireMention: Bool { false }
    public var mediaRules: MediaRules { .none(displayName) }
    public var threadChains: Bool { false }
    public var readsMentions: Bool { true }
    public var readsMetrics: Bool { true }

    /// Checks a draft by the platform's rule with its default limits, sending nothing.
    public func validate(_ draft: PostDraft) throws(PlatformError) {
        try TextLength.check(draft, measured: measure(draft.text), unit: lengthUnit)
    }
}

/// A refusal as a platform's error code names it, whatever the HTTP status.
public enum RefusalKind: Sendable, Equatable {
    /// Throttled: like a 429, the account waits for the reset.
    case rateLimited
    /// Passing trouble: like a 5xx (a create's outcome is unknown, a read had no effect).
    case transient
    /// Refused for good: like a 4xx.
    case permanent
}

/// One member of a credentials file.
public struct CredentialField: Sendable, Equatable {
    public var name: String
    public var required: Bool
    /// Never shown: descriptions say `[redacted]` and every log line is scrubbed of it.
    public var secret: Bool

    public init(_ name: String, required: Bool = true, secret: Bool) {
        self.name = name
        self.required = required
        self.secret = secret
    }
}
