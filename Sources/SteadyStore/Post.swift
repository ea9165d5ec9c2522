import SteadyCore

/// A post to schedule.
public struct NewPost: Equatable, Sendable {
    public var account: String
    public var platform: String
    public var text: String
    public var dueAt: Int64
    public var inReplyTo: String?
    public var contentHash: String
    /// Attachments in post order (their bytes already in the media store).
    public var media: [MediaAttachment]

    public init(account: String, platform: String, text: String, dueAt: Int64, inReplyTo: String? = nil, contentHash: String,
                media: [MediaAttachment] = []) {
        self.account = account
        self.media = media
        self.platform = platform
        self.text = text
        self.dueAt = dueAt
        self.inReplyTo = inReplyTo
        self.contentHash = contentHash
    }
}

/// A post as stored. Times are integer milliseconds since the Unix epoch, UTC.
public struct Post: Equatable, Sendable {
    public var id: String
    public var account: String
    public var platform: String
    public var kind: String
    public var text: String
    public var inReplyTo: String?
    public var contentHash: String
    public var dueAt: Int64
    public var state: PostState
    public var createdAt: Int64
    public var updatedAt: Int64
    public var leaseOwner: String?
    public var leaseExpiresAt: Int64?
    public var nextTryAt: Int64?
    public var attempts: Int
    public var leaseLosses: Int
    public var platformId: String?
    public var lastError: String?
    public var lastErrorClass: String?
}

/// One attempt: committed before the request that could publish (intent before effect).
public struct Attempt: Equatable, Sendable {
    public var id: String
    public var postId: String
    public var number: Int
    public var startedAt: Int64
    public var finishedAt: Int64?
    public var idempotencyKey: String
    public var contentHash: String
    public var adapter: String
    public var account: String
    public var outcome: String?
    public var detail: String?
    public var platformId: String?
}

/// How an attempt ended, as the store records it.
public enum AttemptOutcome: Equatable, Sendable {
    case published(platformId: String)
    case noEffect(reason: String, retryAt: Int64)
    case unknown(reason: String, verifyAt: Int64)
    case permanent(reason: String)

    var event: PostEvent {
        switch self {
        case .published: return .published
        case .noEffect: return .noEffect
        case .unknown: return .unknownOutcome
        case .permanent: return .permanentFailure
        }
    }

    var name: String {
        switch self {
        case .published: return "published"
        case .noEffect: return "noEffect"
        case .unknown: return "unknownOutcome"
        case .permanent: return "permanent"
        }
    }
}
