import SteadyCore
import SteadyHTTP

/// One platform as the daemon speaks to it. Every adapter (X, Mastodon, Bluesky) has exactly
/// this surface and maps every outcome onto `PlatformError`'s taxonomy, so the posting,
/// metrics, replies and reconciler workers have one code path for all platforms.
///
/// Threading: an adapter owns an `HTTPClient` and blocks the calling thread; use it from one
/// thread at a time (the posting worker calls it from worker threads, never from its event
/// loop). It is not `Sendable`.
///
/// Tokens: the adapter starts from the credentials file (`Credentials`) and, if the caller has
/// one, the last persisted `SessionTokens`. It keeps no token anywhere else. `refreshAuth()`
/// returns the new tokens for the caller to persist (X refresh tokens are single-use: persist
/// before the next use); `session` always shows what the adapter will use next.
public protocol PlatformAdapter: AnyObject, DraftValidating {
    var platform: Platform { get }
    /// The tokens the next request will use (and the cached own user id).
    var session: SessionTokens { get }
    /// The rate-limit headers of the last response, if it had any (limits differ per
    /// endpoint: this is the last endpoint's).
    var lastRateLimit: RateLimitInfo? { get }

    /// Checks the draft by the platform's own rules without sending anything; a failure is
    /// `permanent` and says by how much a text is too long.
    func validate(_ draft: PostDraft) throws(PlatformError)

    /// Publishes `draft` (validated first). The attempt supplies the idempotency material:
    /// Mastodon's `Idempotency-Key`, Bluesky's record key. `unknownOutcome` means it may be
    /// live: verify (`lookup`, `findByIdempotency`, `findInTimeline`) before any retry.
    func create(_ draft: PostDraft, attempt: AttemptKey) throws(PlatformError) -> RemotePost

    /// One post by its platform id; nil when the platform says it does not exist.
    func lookup(id: String) throws(PlatformError) -> RemotePost?

    /// Asks the platform's own idempotency mechanism whether this attempt's post exists.
    /// X has none; Mastodon's Idempotency-Key cannot be queried (re-POSTing would create the
    /// post if it is absent, so it is not a lookup): both say `notSupported` and verification
    /// goes to the timeline. Bluesky: `getRecord` by the attempt's record key, definitive.
    func findByIdempotency(_ attempt: AttemptKey, draft: PostDraft) throws(PlatformError) -> IdempotencyFind

    /// The account's own posts, newest first, `limit` per page (clamped to the platform's
    /// range), only those created at or after `sinceMs` when given (paging stops there).
    func ownPosts(since sinceMs: Int64?, cursor: PageCursor?, limit: Int) throws(PlatformError) -> Page<RemotePost>

    /// Posts mentioning or replying to the account, newest first.
    func mentions(cursor: PageCursor?, limit: Int) throws(PlatformError) -> Page<Mention>

    /// Engagement counts by platform id; ids the platform does not know are absent.
    func metrics(ids: [String]) throws(PlatformError) -> [String: PostMetrics]

    /// The account's own user id (X user id, Mastodon account id, Bluesky DID) and handle.
    func identity() throws(PlatformError) -> Identity

    /// Renews credentials: X refresh-token rotation; Bluesky refreshSession, else
    /// createSession with the app password; Mastodon has nothing to refresh.
    func refreshAuth() throws(PlatformError) -> RefreshOutcome

    /// Takes `tokens` (renewed and stored by another process or thread, see `TokenKeeper`)
    /// as the ones the next request uses, in place of its own, which may be spent.
    func adopt(_ tokens: SessionTokens)
}

/// Checks drafts by a platform's rules without sending anything: an adapter (with what it
/// learned of the instance), or a platform's definition (its default limits).
public protocol DraftValidating {
    func validate(_ draft: PostDraft) throws(PlatformError)
}

extension PlatformAdapter {
    /// Metrics by one `lookup` each (X and Mastodon: the post carries its counts); ids the
    /// platform does not know are absent.
    func metricsByLookup(ids: [String]) throws(PlatformError) -> [String: PostMetrics] {
        var out: [String: PostMetrics] = [:]
        for id in ids {
            if let post = try lookup(id: id), let m = post.metrics { out[id] = m }
        }
        return out
    }
    /// Searches the own timeline from `sinceMs` on for posts whose normalized content hash is
    /// `contentHash` (see `ContentNormalizer`). Every match is returned, so a duplicate shows.
    /// `complete` is false when `maxPages` ran out before the timeline reached `sinceMs`.
    public func findInTimeline(contentHash: String, since sinceMs: Int64, pageSize: Int = 100, maxPages: Int = 20) throws(PlatformError) -> TimelineFind {
        var cursor: PageCursor?
        var scanned = 0
        var matches: [RemotePost] = []
        for _ in 0..<maxPages {
            let page = try ownPosts(since: sinceMs, cursor: cursor, limit: pageSize)
            scanned += page.items.count
            matches += page.items.filter { $0.contentHash == contentHash }
            guard let next = page.next else {
                return matches.isEmpty ? .notFound(scanned: scanned, complete: true) : .found(matches)
            }
            cursor = next
        }
        return matches.isEmpty ? .notFound(scanned: scanned, complete: false) : .found(matches)
    }
}

/// What to publish.
public struct PostDraft: Sendable, Equatable {
    public var text: String
    /// The platform id of the post this answers (X tweet id, Mastodon status id, Bluesky
    /// at:// URI).
    public var replyTo: String?
    /// Attachments in post order; their bytes are in the media store, read as they upload.
    public var media: [MediaAttachment]
    /// What the platform named each attachment's upload (`MediaHandle.id`), in the order of
    /// `media`: set by the posting worker's upload step before the create, which names them.
    public var mediaHandles: [String]
    /// What a thread part already knows of the posts it answers, so the adapter need not read
    /// them: the parent's content id and the thread's first post (Bluesky names both by uri
    /// and cid; X and Mastodon need only `replyTo`). nil: the adapter reads what it needs.
    public var replyParentCid: String?
    public var replyRoot: StrongRef?

    public init(text: String, replyTo: String? = nil, media: [MediaAttachment] = [], mediaHandles: [String] = []) {
        self.text = text
        self.replyTo = replyTo
        self.media = media
        self.mediaHandles = mediaHandles
    }
}

/// A record named by its id and content id (Bluesky's strongRef).
public struct StrongRef: Sendable, Equatable {
    public var uri: String
    public var cid: String

    public init(uri: String, cid: String) {
        self.uri = uri
        self.cid = cid
    }
}

/// The identity of one posting attempt, from which the idempotency material is derived, so a
/// retry of the same attempt (after a crash, from the stored attempt row) sends the same key.
public struct AttemptKey: Sendable, Equatable {
    public var attemptId: String
    /// When the attempt started, microseconds since the epoch (stored with the attempt).
    public var startedAtMicros: Int64

    public init(attemptId: String, startedAtMicros: Int64) {
        self.attemptId = attemptId
        self.startedAtMicros = startedAtMicros
    }

    /// Mastodon's `Idempotency-Key`: the attempt id itself when it is short printable ASCII,
    /// else a hash of it.
    public var mastodonIdempotencyKey: String {
        let ok = !attemptId.isEmpty && attemptId.utf8.count <= 64 && attemptId.utf8.allSatisfy { $0 > 0x20 && $0 < 0x7F }
        return ok ? attemptId : "sp-" + String(SHA256.hex(attemptId.utf8).prefix(40))
    }

    /// The TID clock id: 10 bits of a hash of the attempt id, so two attempts that start in
    /// the same microsecond still differ (but one attempt always gets the same).
    public var clockId: UInt16 { UInt16(truncatingIfNeeded: FNV1a64.hash(attemptId.utf8) & 0x3FF) }

    /// Bluesky's record key for this attempt: a TID of the start time and the clock id.
    public var blueskyRecordKey: String { TID(micros: startedAtMicros, clockId: clockId).string }

    /// The attempt's start in milliseconds (what the timeline search starts from).
    public var startedAtMillis: Int64 { startedAtMicros / 1000 }
}

/// A post as the platform shows it. `text` is plain text (Mastodon's HTML and X's entities
/// already decoded); compare with `contentHash`.
public struct RemotePost: Sendable, Equatable {
    /// X tweet id, Mastodon status id, Bluesky at:// URI.
    public var id: String
    public var text: String
    public var createdAtMs: Int64?
    public var url: String?
    public var inReplyTo: String?
    /// Bluesky's record key and content id.
    public var recordKey: String?
    public var cid: String?
    public var metrics: PostMetrics?
    /// The kinds of its attachments in order, when the platform's answer shows them (nil:
    /// not shown, so not comparable).
    public var media: [MediaType.Kind]?

    public init(id: String, text: String, createdAtMs: Int64? = nil, url: String? = nil, inReplyTo: String? = nil,
                recordKey: String? = nil, cid: String? = nil, metrics: PostMetrics? = nil, media: [MediaType.Kind]? = nil) {
        self.media = media
        self.id = id
        self.text = text
        self.createdAtMs = createdAtMs
        self.url = url
        self.inReplyTo = inReplyTo
        self.recordKey = recordKey
        self.cid = cid
        self.metrics = metrics
    }

    public var contentHash: String { ContentNormalizer.hash(text) }

    /// Whether this post carries what `draft` names: the same content and, when the platform
    /// shows attachments, as many of the same kinds in the same order. Verification matches by this.
    public func matches(contentHash hash: String, media expected: [MediaAttachment]) -> Bool {
        guard contentHash == hash else { return false }
        guard let media else { return true }
        return media == expected.map(\.type.kind)
    }
}

public struct PostMetrics: Sendable, Equatable {
    public var likes: Int
    public var reposts: Int
    public var replies: Int
    public var quotes: Int
    public var bookmarks: Int?
    public var impressions: Int?

    public init(likes: Int = 0, reposts: Int = 0, replies: Int = 0, quotes: Int = 0, bookmarks: Int? = nil, impressions: Int? = nil) {
        self.likes = likes
        self.reposts = reposts
        self.replies = replies
        self.quotes = quotes
        self.bookmarks = bookmarks
        self.impressions = impressions
    }
}

/// A post that mentions or answers the account.
public struct Mention: Sendable, Equatable {
    /// The listing's own id (X tweet id, Mastodon notification id, Bluesky notification URI).
    public var id: String
    /// The mentioning post's platform id: what a reply's `replyTo` takes.
    public var postId: String
    public var authorId: String?
    public var authorHandle: String?
    public var text: String
    public var createdAtMs: Int64?
    public var inReplyTo: String?

    public init(id: String, postId: String, authorId: String? = nil, authorHandle: String? = nil, text: String,
                createdAtMs: Int64? = nil, inReplyTo: String? = nil) {
        self.id = id
        self.postId = postId
        self.authorId = authorId
        self.authorHandle = authorHandle
        self.text = text
        self.createdAtMs = createdAtMs
        self.inReplyTo = inReplyTo
    }
}

/// An opaque position in a listing (X `next_token`, Mastodon `max_id` from the `Link`
/// header, Bluesky `cursor`). Store it as its `value` if paging must survive a restart.
public struct PageCursor: Sendable, Equatable, Hashable {
    public var value: String
    public init(_ value: String) { self.value = value }
}

public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    /// nil at the end (or, with `since`, once the listing went past it).
    public var next: PageCursor?

    public init(items: [Item], next: PageCursor?) {
        self.items = items
        self.next = next
    }
}

extension Page: Equatable where Item: Equatable {}

public struct Identity: Sendable, Equatable {
    public var userId: String
    public var handle: String?

    public init(userId: String, handle: String?) {
        self.userId = userId
        self.handle = handle
    }
}

public enum IdempotencyFind: Sendable, Equatable {
    /// The attempt's post exists.
    case found(RemotePost)
    /// The platform says no post carries this attempt's key: it was not published.
    case absent
    /// The key is taken by a post with other content (a key collision): not ours.
    case keyHeldByOtherContent(RemotePost)
    /// The platform offers no such lookup; verify by timeline.
    case notSupported(String)
}

/// A timeline search's answer. Weaker evidence than Bluesky's `getRecord`: a timeline may lag
/// behind a create by seconds (search indexes, caches), so a caller should treat
/// `notFound(complete: true)` as proof of absence only once the attempt is old enough.
public enum TimelineFind: Sendable, Equatable {
    case found([RemotePost])
    /// `complete`: the listing reached the `since` time (or its end) within the page budget.
    case notFound(scanned: Int, complete: Bool)
}

public enum RefreshOutcome: Sendable, Equatable {
    /// New tokens: persist them (atomically with whatever uses them next).
    case refreshed(SessionTokens)
    /// The platform has no refresh (Mastodon): a refused token stays refused.
    case notRefreshable(String)
}

/// 64-bit FNV-1a: a fast, stable, non-cryptographic hash for small derivations (TID clock ids).
public enum FNV1a64 {
    public static func hash<S: Sequence>(_ bytes: S) -> UInt64 where S.Element == UInt8 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in bytes {
            h ^= UInt64(b)
            h &*= 0x0000_0100_0000_01B3
        }
        return h
    }
}
