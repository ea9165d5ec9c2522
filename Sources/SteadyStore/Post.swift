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
    /// Its place in a thread, when it is a part of one.
    public var thread: ThreadPlacement?

    public init(account: String, platform: String, text: String, dueAt: Int64, inReplyTo: String? = nil, contentHash: String,
                media: [MediaAttachment] = [], thread: ThreadPlacement? = nil) {
        self.account = account
        self.thread = thread
        self.media = media
        self.platform = platform
        self.text = text
        self.dueAt = dueAt
        self.inReplyTo = inReplyTo
        self.contentHash = contentHash
    }
}

/// A part's place in a thread: part `position` (1-based) of thread `id`. Part N+1 waits
/// until part N is `posted`, then is due `gapMillis` after that (or at its own due time, if
/// later), and answers part N.
public struct ThreadPlacement: Equatable, Sendable {
    public var id: String
    public var position: Int
    public var gapMillis: Int64

    public init(id: String, position: Int, gapMillis: Int64 = 0) {
        self.id = id
        self.position = position
        self.gapMillis = gapMillis
    }

    /// A fresh thread id.
    public static func newId() -> String { StoreIds.newId("t_") }
    /// Whether `id` names a thread (post ids start `p_`, thread ids `t_`).
    public static func isThreadId(_ id: String) -> Bool { id.hasPrefix("t_") }
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
    /// The thread it is a part of, and its 1-based position there.
    public var threadId: String? = nil
    public var threadPosition: Int? = nil
    /// Bluesky's content id of the record, when known: what a reply to it must name.
    public var platformCid: String? = nil
    /// A thread part waiting for the part before it to be posted (not claimable yet).
    public var threadWaiting: Bool = false
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
    /// `cid`: Bluesky's content id of the record, when the answer carried it.
    case published(platformId: String, cid: String? = nil)
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
