import SteadyPlatforms
import SteadyStore

/// Matches one account's timeline window against the store's posts and says what to fix,
/// without doing anything (pure: the dry run prints exactly this plan, a real run applies it).
///
/// Each timeline post is matched, in order of evidence:
/// 1. by platform id: a post here holds it (on the post, or on one of its attempts);
/// 2. by idempotency material: Bluesky's record key is derived from an attempt (`AttemptKey`),
///    so a record under an attempt's key is that attempt's post (X and Mastodon show no key on
///    their timelines);
/// 3. by normalized content hash (`ContentNormalizer`: t.co rewriting, whitespace) and, where
///    the timeline shows them, the kinds of its attachments in order, only against posts that
///    have been attempted and were not created on the platform before their first attempt
///    (less `slackMs`), the nearest attempt winning.
/// Only `unknown`, `failed` and `parked` posts are fixed (→ `posted`): a `scheduled` or
/// `attempting` post belongs to the posting worker, and a `posted` one is already right. A
/// timeline post nothing here matches is foreign. Timeline posts sharing one content hash are
/// a duplicate finding (F30), reported with every id; the same words with other attachments are
/// not (a text-only post and its illustrated twin are two posts).
public enum TimelineMatcher {
    public enum Evidence: String, Sendable, Equatable {
        case platformId = "platform id"
        case recordKey = "record key"
        case contentHash = "content hash"
    }

    public struct Fix: Sendable, Equatable {
        public var postId: String
        public var platformId: String
        public var from: PostState
        public var evidence: Evidence
        /// The post had no platform id: it is adopted (an orphan on the platform).
        public var adopted: Bool
    }

    public struct Duplicate: Sendable, Equatable {
        public var contentHash: String
        /// Oldest first.
        public var platformIds: [String]
        /// Our post among them, if any.
        public var postId: String?
    }

    public struct Plan: Sendable, Equatable {
        public var fixes: [Fix] = []
        /// Timeline posts already recorded here as posted.
        public var known = 0
        public var foreignNew: [RemotePost] = []
        public var foreignKnown = 0
        public var duplicates: [Duplicate] = []
        /// `unknown` posts attempted in the window that the timeline does not show: the posting
        /// worker's verification decides them (it alone may send them again).
        public var unknownNotFound: [String] = []
        /// `unknown` posts found live whose last attempt is more recent than the grace: the
        /// posting worker's verification is still on them, so they are left to it this time.
        public var unknownDeferred: [String] = []
        /// Timeline id → our post it was matched to (by any evidence, fixed or not).
        public var owners: [String: String] = [:]
    }

    static let fixable: Set<PostState> = [.unknown, .failed, .parked]

    /// `unknownSettledBefore`: an `unknown` post is decided only if its last attempt started
    /// at or before this time (the posting worker verifies fresh ones itself).
    public static func plan(timeline: [RemotePost], candidates: [ReconcileCandidate],
                            knownForeign: Set<String>, slackMs: Int64, unknownSettledBefore: Int64 = .max) -> Plan {
        var plan = Plan()
        var byPlatformId: [String: Int] = [:]
        for (i, c) in candidates.enumerated() {
            for id in [c.post.platformId].compactMap({ $0 }) + c.attempts.compactMap(\.platformId) where byPlatformId[id] == nil {
                byPlatformId[id] = i
            }
        }
        var used: Set<Int> = []
        func fix(_ c: ReconcileCandidate, _ remote: RemotePost, _ evidence: Evidence) {
            if c.post.state == .unknown, (c.attempts.map(\.startedAt).max() ?? .min) > unknownSettledBefore {
                plan.unknownDeferred.append(c.post.id)
            } else {
                plan.fixes.append(Fix(postId: c.post.id, platformId: remote.id, from: c.post.state, evidence: evidence, adopted: c.post.platformId == nil))
            }
        }
        let oldestFirst = timeline.sorted { ($0.createdAtMs ?? 0, $0.id) < ($1.createdAtMs ?? 0, $1.id) }
        for remote in oldestFirst {
            if let i = byPlatformId[remote.id] {
                let c = candidates[i]
                plan.owners[remote.id] = c.post.id
                if fixable.contains(c.post.state), used.insert(i).inserted {
                    fix(c, remote, .platformId)
                } else {
                    plan.known += 1
                }
                continue
            }
            if let i = match(remote, candidates, used: used, slackMs: slackMs) {
                used.insert(i.index)
                plan.owners[remote.id] = candidates[i.index].post.id
                fix(candidates[i.index], remote, i.evidence)
                continue
            }
            if knownForeign.contains(remote.id) { plan.foreignKnown += 1 } else { plan.foreignNew.append(remote) }
        }
        var groups: [String: [RemotePost]] = [:]
        for remote in oldestFirst { groups[duplicateKey(remote), default: []].append(remote) }
        let owners = plan.owners
        for (_, posts) in groups where posts.count > 1 {
            plan.duplicates.append(Duplicate(contentHash: posts[0].contentHash, platformIds: posts.map(\.id), postId: posts.lazy.compactMap { owners[$0.id] }.first))
        }
        plan.duplicates.sort { $0.platformIds.first ?? "" < $1.platformIds.first ?? "" }
        let fixed = Set(plan.fixes.map(\.postId) + plan.unknownDeferred)
        plan.unknownNotFound = candidates.filter { $0.post.state == .unknown && !fixed.contains($0.post.id) && $0.post.platformId == nil }.map(\.post.id)
        return plan
    }

    /// What makes two timeline posts the same post sent twice: the words, and the attachments'
    /// kinds when the platform shows them.
    static func duplicateKey(_ remote: RemotePost) -> String {
        remote.contentHash + "|" + (remote.media.map { $0.map(\.rawValue).joined(separator: ",") } ?? "?")
    }

    /// A fixable, unmatched post this timeline post is, by record key, else by content.
    static func match(_ remote: RemotePost, _ candidates: [ReconcileCandidate], used: Set<Int>,
                      slackMs: Int64) -> (index: Int, evidence: Evidence)? {
        let open = candidates.indices.filter { !used.contains($0) && fixable.contains(candidates[$0].post.state) && candidates[$0].post.platformId == nil }
        if let rkey = remote.recordKey {
            for i in open where candidates[i].attempts.contains(where: { $0.idempotencyKey == rkey || AttemptKey(attemptId: $0.id, startedAtMicros: $0.startedAt * 1000).blueskyRecordKey == rkey }) {
                return (i, .recordKey)
            }
        }
        let hash = remote.contentHash
        var best: (index: Int, distance: Int64)?
        for i in open {
            let c = candidates[i]
            guard c.post.contentHash == hash, remote.media.map({ $0 == c.mediaKinds }) ?? true,
                  let first = c.attempts.map(\.startedAt).min() else { continue }
            if let created = remote.createdAtMs, created < first - slackMs { continue }
            let distance = c.attempts.map { abs((remote.createdAtMs ?? $0.startedAt) - $0.startedAt) }.min() ?? 0
            if best == nil || distance < best!.distance { best = (i, distance) }
        }
        return best.map { ($0.index, .contentHash) }
    }
}
