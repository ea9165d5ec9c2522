import SteadyCore
import SteadyPlatforms

/// What a generator knows about the mention it answers.
public struct ReplyContext: Sendable, Equatable {
    public var account: String
    public var platform: Platform
    /// The answering account's own handle, if known.
    public var handle: String?
    public var authorHandle: String?
    public var text: String

    public init(account: String, platform: Platform, handle: String?, authorHandle: String?, text: String) {
        self.account = account
        self.platform = platform
        self.handle = handle
        self.authorHandle = authorHandle
        self.text = text
    }
}

/// Makes the text of a reply. Implementations block the calling thread (the replies worker
/// calls them on its background thread) and classify every failure.
public protocol ReplyGenerator: Sendable {
    /// A short name for status and logs: `template`, `openai`.
    var name: String { get }
    func reply(to context: ReplyContext) throws(GeneratorError) -> String
}

/// A generator failure, classified so it can be counted per class (F17). Every class is
/// retried later; `kind.isConfiguration` ones also need the operator.
public struct GeneratorError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable {
        /// Nothing answered: refused connection, DNS, connect timeout, TLS.
        case unreachable
        /// No complete answer within the timeout.
        case timeout
        /// A 5xx, or the connection broke mid-answer.
        case server
        /// 429: the endpoint's own rate limit.
        case rateLimited = "rate-limited"
        /// 401/403: the key is refused.
        case auth
        /// Another 4xx: the endpoint refuses the request (model name, token budget, ...).
        case refused
        /// A 2xx whose body is not a chat completion.
        case malformed
        /// A completion with no usable text.
        case empty
        /// The generator cannot run at all (e.g. its key file is missing).
        case configuration

        public var isConfiguration: Bool { self == .auth || self == .configuration || self == .refused }
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { "generator \(kind.rawValue): \(message)" }
}

extension String {
    /// Without leading and trailing whitespace (the adapters' modules link no Foundation).
    var trimmedWhitespace: String {
        String(drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
    }
}
