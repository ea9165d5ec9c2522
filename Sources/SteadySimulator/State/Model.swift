import SteadyCore

/// One simulated account on one platform.
struct Account: Sendable {
    let name: String
    let platform: Platform
    /// X numeric user id, Mastodon account id, Bluesky DID, Facebook Page id.
    let userID: String
    /// X username, Mastodon acct, Bluesky handle.
    let handle: String
    let displayName: String
    let createdAtMs: Int64
    let webPassword: String
    /// X OAuth client id.
    var clientID: String?
    /// Bluesky app password.
    var appPassword: String?
    /// The first access token (X, Mastodon), as written in the credentials file.
    var initialAccessToken: String?
    /// The first refresh token (X).
    var initialRefreshToken: String?
    /// Every token revoked and no new one to be had.
    var revoked = false
}

enum TokenKind: Sendable {
    case xAccess, xRefresh, mastodon, blueskyAccess, blueskyRefresh, facebookPage
}

/// A bearer token the simulator issued.
struct Token: Sendable {
    let account: String
    let kind: TokenKind
    let issuedMs: Int64
    var expiresMs: Int64?
    var revoked = false
    /// When a refresh token was first used (X: single use; Bluesky: 2 hours of grace).
    var usedMs: Int64?
}

/// Engagement counts of a post.
struct Metrics: Sendable {
    var likes: Int64 = 0
    var reposts: Int64 = 0
    var replies: Int64 = 0
    var quotes: Int64 = 0
    var impressions: Int64 = 0
}

/// A post by one of the simulator's accounts: the ground truth.
struct Post: Sendable {
    /// Position in creation order.
    let seq: Int
    /// The platform id: X tweet id, Mastodon status id, Bluesky `at://` URI.
    let id: String
    /// The numeric id on X and Mastodon, the post part of Facebook's (ordering); 0 on Bluesky.
    let number: UInt64
    let account: String
    let platform: Platform
    /// The text as stored and served (links rewritten by the `rewrite-urls` fault).
    var text: String
    /// The text as submitted (NFC on X), for X's duplicate check.
    let submittedText: String
    let createdAtMs: Int64
    /// The platform id of the post replied to.
    let inReplyTo: String?
    /// The platform id of the first post of the thread a reply belongs to (Bluesky: the root's
    /// URI); nil when the post is no reply. Set by `addPost` from the parent's own root.
    var replyRoot: String?
    let idempotencyKey: String?
    let rkey: String?
    let uri: String?
    let cid: String?
    /// `api`, `browser` or `injected`.
    let via: String
    var deleted = false
    var metrics = Metrics()
    /// Bluesky: the record as stored.
    var record: JSON?
    /// Mastodon options.
    var visibility = "public"
    var spoilerText = ""
    var language: String?
    var sensitive = false
    /// The attached media, in the post's order.
    var media: [PostMedia] = []
}

/// Someone outside the simulator's accounts who mentions them.
struct ForeignUser: Sendable {
    let platform: Platform
    /// X numeric id, Mastodon account id, Bluesky DID.
    let id: String
    let handle: String
    let displayName: String
}

/// A mention of an account by a foreign user (a tweet, a Mastodon status plus notification,
/// a Bluesky post plus notification).
struct Mention: Sendable {
    let seq: Int
    let account: String
    let platform: Platform
    /// X tweet id, Mastodon notification id, Bluesky post URI.
    let id: String
    /// Numeric order key (X tweet id, Mastodon notification id); 0 on Bluesky.
    let number: UInt64
    /// Mastodon: the status id and its number.
    let statusID: String?
    let statusNumber: UInt64
    let author: ForeignUser
    let text: String
    let inReplyTo: String?
    let createdAtMs: Int64
    /// Bluesky.
    let cid: String?
    let rkey: String?
}

/// Where a request goes, for fault rules and rate limits.
enum EndpointCategory: String, Sendable, CaseIterable {
    case create, read, timeline, mentions, metrics, me, refresh, session
    /// Media uploads: X INIT/APPEND/FINALIZE and metadata, Mastodon `POST /api/v2/media`,
    /// Bluesky `uploadBlob`.
    case upload
    /// Processing polls: X STATUS, Mastodon `GET /api/v1/media/:id`.
    case mediaStatus = "media-status"
    case webCompose = "web-compose"
    case webResult = "web-result"
    case webLogin = "web-login"
}

/// One entry of the request log.
struct RequestRecord: Sendable {
    let seq: Int
    let atMs: Int64
    let method: String
    let path: String
    let account: String?
    let status: Int
    let fault: String?
    let idempotencyKey: String?
    let rkey: String?
    let durationMs: Int64
    let responded: Bool
}

/// A fixed rate-limit window of one account and bucket.
struct RateWindow: Sendable {
    var startMs: Int64
    let durationMs: Int64
    let limit: Int
    var used: Int

    var resetMs: Int64 { startMs + durationMs }
}
