import SteadyPlatforms
import SteadyStore

/// Thread parts found live on the timeline, checked against the part before them (issue 16):
/// part N > 1 must answer part N-1's platform id (X `referenced_tweets` `replied_to`, Mastodon
/// `in_reply_to_id`, Bluesky `reply.parent.uri`). A live part answering anything else, or
/// nothing, or whose part N-1 is not posted here, is a mismatch: reported and logged, never
/// changed (the post is live; what to do about it is the operator's matter). Pure, like
/// `TimelineMatcher`: the caller reads the threads' parts.
public enum ThreadCheck {
    public struct Mismatch: Sendable, Equatable {
        /// Our part, as live on the platform.
        public var postId: String
        public var threadId: String
        public var position: Int
        public var platformId: String
        /// What it answers on the platform (nil: nothing).
        public var repliesTo: String?
        /// Part N-1's platform id (nil: part N-1 is not posted here).
        public var expected: String?
        /// Part N-1 (nil: the store has no such part).
        public var previousPostId: String?
        public var reason: String
    }

    /// `live`: timeline posts and the posts here they were matched to; `parts`: every part of
    /// the threads those posts are parts of, by thread id (`threadParts`). Part N-1's id is
    /// the one it holds here or, not holding one yet (fixed in this pass, or left to the
    /// posting worker's verification), the one it is live under on this timeline.
    public static func mismatches(live: [(remote: RemotePost, post: Post)], parts: [String: [Post]]) -> [Mismatch] {
        let liveId = Dictionary(live.map { ($0.post.id, $0.remote.id) }, uniquingKeysWith: { a, _ in a })
        var found: [Mismatch] = []
        for (remote, post) in live {
            guard let threadId = post.threadId, let position = post.threadPosition, position > 1 else { continue }
            let previous = parts[threadId]?.first { $0.threadPosition == position - 1 }
            let expected = previous.flatMap { $0.platformId ?? liveId[$0.id] }
            guard expected == nil || remote.inReplyTo != expected else { continue }
            let answers = remote.inReplyTo.map { "it answers \($0)" } ?? "it answers nothing"
            let reason: String
            switch (previous, expected) {
            case (nil, _): reason = "part \(position - 1) is not in the store; \(answers)"
            case (let p?, nil): reason = "part \(position - 1) (\(p.id)) is \(p.state.rawValue) here, not posted; \(answers)"
            case (let p?, let e?): reason = "\(answers) instead of part \(position - 1) (\(p.id), posted as \(e))"
            }
            found.append(Mismatch(postId: post.id, threadId: threadId, position: position, platformId: remote.id, repliesTo: remote.inReplyTo,
                                  expected: expected, previousPostId: previous?.id, reason: reason))
        }
        return found.sorted { ($0.threadId, $0.position, $0.platformId) < ($1.threadId, $1.position, $1.platformId) }
    }
}

extension ThreadCheck.Mismatch {
    /// One entry of an account report's `thread_mismatches` (`replies_to`, `expected` and
    /// `previous_post_id` are null when there is none).
    var json: JSON {
        .obj([("post_id", JSON(postId)), ("thread_id", JSON(threadId)), ("position", JSON(position)), ("platform_id", JSON(platformId)),
              ("replies_to", repliesTo.map(JSON.init) ?? .null), ("expected", expected.map(JSON.init) ?? .null),
              ("previous_post_id", previousPostId.map(JSON.init) ?? .null),
              ("reason", JSON(reason))])
    }

    /// The line the reconciler logs.
    var logLine: String {
        "THREAD MISMATCH: part \(position) of \(threadId), live as \(platformId): \(reason)"
    }
}
