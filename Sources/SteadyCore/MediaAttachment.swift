/// One attachment of a post, as the store keeps it and the adapters upload it: the content's
/// SHA-256 (its name in the daemon's media store), its type by content, its size, and its
/// alt text. The bytes themselves live in the media store (`SteadyMedia`), never here.
public struct MediaAttachment: Sendable, Equatable, Hashable {
    public var sha256: String
    public var type: MediaType
    public var bytes: Int64
    public var alt: String?

    public init(sha256: String, type: MediaType, bytes: Int64, alt: String? = nil) {
        self.sha256 = sha256
        self.type = type
        self.bytes = bytes
        self.alt = alt
    }
}

/// What a platform gave back for one uploaded attachment of one post, kept so that a
/// restarted worker reuses it while it is valid and uploads again once it is not. An upload
/// publishes nothing: it is repeated, never verified; the create that names it is the effect.
public struct MediaUpload: Sendable, Equatable {
    public var postId: String
    /// The attachment's place in the post, from 0.
    public var position: Int
    public var sha256: String
    /// The platform's name for the upload (X `media_id`, Mastodon media id, a Bluesky blob
    /// reference as JSON).
    public var handle: String
    /// The platform's own resume state while the upload is incomplete (X: the next segment).
    public var progress: String?
    /// The platform has all of it and it may be attached (processed, where that applies).
    public var complete: Bool
    /// When the platform forgets the handle (X: `expires_after_secs`), ms since the epoch.
    public var expiresAt: Int64?
    /// The attempt that made it (for `show`), if any.
    public var attemptId: String?
    public var updatedAt: Int64

    public init(postId: String, position: Int, sha256: String, handle: String, progress: String? = nil, complete: Bool,
                expiresAt: Int64? = nil, attemptId: String? = nil, updatedAt: Int64) {
        self.postId = postId
        self.position = position
        self.sha256 = sha256
        self.handle = handle
        self.progress = progress
        self.complete = complete
        self.expiresAt = expiresAt
        self.attemptId = attemptId
        self.updatedAt = updatedAt
    }

    /// Whether the handle can still be named in a create at `now` (with `margin` to spare).
    public func usable(at now: Int64, margin: Int64 = 60_000) -> Bool {
        complete && (expiresAt.map { now + margin < $0 } ?? true)
    }
}
