import SteadyCore
/// What the reconciler reads and writes (migration 4): the store posts a timeline window can
/// match, fixes of posts found live (through `PostTransitions`, like every state change),
/// foreign posts, duplicate findings, and each run's report.
extension SQLitePostStore {
    /// The posts of `account` a timeline window from `since` can concern, in one read: every
    /// post with an attempt started at or after `since`, every `unknown`, `failed` or `parked`
    /// post changed since then, and every post holding one of `platformIds`.
    public func reconcileCandidates(account: String, since: Int64, platformIds: [String]) throws(StoreError) -> [ReconcileCandidate] {
        try transaction(readOnly: true) { db throws(StoreError) in
            do throws(SQLiteError) {
                var rows = try db.prepare("""
                    SELECT \(Self.postColumns) FROM posts WHERE account = ?1 AND (
                        id IN (SELECT post_id FROM attempts WHERE account = ?1 AND started_at >= ?2)
                        OR (state IN ('unknown', 'failed', 'parked') AND updated_at >= ?2))
                    """).run([.text(account), .integer(since)])
                let byId = try db.prepare("SELECT \(Self.postColumns) FROM posts WHERE account = ? AND platform_id = ?")
                for id in platformIds { rows += try byId.run([.text(account), .text(id)]) }
                let attempts = try db.prepare("SELECT id, post_id, number, started_at, finished_at, idempotency_key, content_hash, adapter, account, outcome, detail, platform_id FROM attempts WHERE post_id = ? ORDER BY number")
                let media = try db.prepare("SELECT type FROM post_media WHERE post_id = ? ORDER BY position")
                var seen: Set<String> = []
                var out: [ReconcileCandidate] = []
                for row in rows {
                    let post = Self.post(row)
                    guard seen.insert(post.id).inserted else { continue }
                    let kinds = try media.run([.text(post.id)]).map { (MediaType(rawValue: $0.text(0)!) ?? .png).kind }
                    out.append(ReconcileCandidate(post: post, attempts: try attempts.run([.text(post.id)]).map(Self.attempt), mediaKinds: kinds))
                }
                return out
            } catch {
                throw .database(error)
            }
        }
    }

    /// Records that a post is live on the platform as `platformId` (found by the reconciler):
    /// `unknown`, `failed` or `parked` → `posted`, in one transaction checked by
    /// `PostTransitions`. `expected` is the state the reconciler saw: if the post moved since
    /// (the posting worker decided it first), nothing is written and `conflict` is thrown.
    @discardableResult
    public func markLive(postId: String, platformId: String, expected: PostState, evidence: String, now: Int64) throws(StoreError) -> Post {
        try transaction { db throws(StoreError) in
            let (post, next) = try transition(db, postId, .published)
            guard post.state == expected else { throw .conflict("post \(postId) is \(post.state.rawValue) now, not \(expected.rawValue)") }
            do throws(SQLiteError) {
                try db.prepare("UPDATE posts SET state = ?, platform_id = ?, next_try_at = NULL, lease_owner = NULL, lease_expires_at = NULL, last_error = ?, last_error_class = 'reconciled', updated_at = ? WHERE id = ?")
                    .run([.text(next.rawValue), .text(platformId), .text("reconciler: live on the platform as \(platformId) (\(evidence)); was \(post.state.rawValue)"),
                          .integer(now), .text(postId)])
                try db.prepare("""
                    UPDATE attempts SET platform_id = COALESCE(platform_id, ?), detail = COALESCE(detail || '; ', '') || ?
                    WHERE id = (SELECT id FROM attempts WHERE post_id = ? ORDER BY number DESC LIMIT 1)
                    """).run([.text(platformId), .text("reconciled: live as \(platformId) (\(evidence))"), .text(postId)])
            } catch {
                throw .database(error)
            }
            return try threadFollowUp(db, postId, now: now)
        }
    }

    /// The platform ids of `account` already recorded as foreign.
    public func foreignPostIds(account: String) throws(StoreError) -> Set<String> {
        Set(try query("SELECT platform_id FROM foreign_posts WHERE account = ?", [.text(account)]).compactMap { $0.text(0) })
    }

    public func foreignPosts(account: String? = nil) throws(StoreError) -> [ForeignPost] {
        try query("SELECT account, platform_id, content_hash, text, created_at_ms FROM foreign_posts WHERE (?1 IS NULL OR account = ?1) ORDER BY first_seen_at, platform_id",
                  [account.sql]).map { r in
            ForeignPost(account: r.text(0)!, platformId: r.text(1)!, contentHash: r.text(2)!, text: r.text(3)!, createdAtMs: r.int(4))
        }
    }

    /// Records foreign posts; returns how many were new (a second run over the same timeline
    /// adds none).
    @discardableResult
    public func recordForeign(_ posts: [ForeignPost], now: Int64) throws(StoreError) -> Int {
        guard !posts.isEmpty else { return 0 }
        return try transaction { db throws(StoreError) in
            do throws(SQLiteError) {
                let insert = try db.prepare("INSERT OR IGNORE INTO foreign_posts (account, platform_id, content_hash, text, created_at_ms, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
                var added = 0
                for p in posts {
                    try insert.run([.text(p.account), .text(p.platformId), .text(p.contentHash), .text(p.text), p.createdAtMs.sql, .integer(now), .integer(now)])
                    added += db.changes
                }
                return added
            } catch {
                throw .database(error)
            }
        }
    }

    /// Records (or counts again) duplicate findings; returns how many were new.
    @discardableResult
    public func recordDuplicates(_ findings: [DuplicateFinding], now: Int64) throws(StoreError) -> Int {
        guard !findings.isEmpty else { return 0 }
        return try transaction { db throws(StoreError) in
            do throws(SQLiteError) {
                let insert = try db.prepare("INSERT OR IGNORE INTO duplicate_findings (account, content_hash, platform_ids, post_id, first_seen_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?)")
                let again = try db.prepare("UPDATE duplicate_findings SET last_seen_at = ?, times_reported = times_reported + 1, post_id = COALESCE(?, post_id) WHERE account = ? AND content_hash = ? AND platform_ids = ?")
                var added = 0
                for f in findings {
                    let ids = f.platformIds.joined(separator: ",")
                    try insert.run([.text(f.account), .text(f.contentHash), .text(ids), f.postId.sql, .integer(now), .integer(now)])
                    if db.changes == 1 {
                        added += 1
                    } else {
                        try again.run([.integer(now), f.postId.sql, .text(f.account), .text(f.contentHash), .text(ids)])
                    }
                }
                return added
            } catch {
                throw .database(error)
            }
        }
    }

    public func duplicateFindings(account: String? = nil) throws(StoreError) -> [DuplicateFinding] {
        try query("SELECT account, content_hash, platform_ids, post_id, times_reported FROM duplicate_findings WHERE (?1 IS NULL OR account = ?1) ORDER BY first_seen_at, platform_ids",
                  [account.sql]).map { r in
            DuplicateFinding(account: r.text(0)!, contentHash: r.text(1)!, platformIds: r.text(2)!.split(separator: ",").map(String.init),
                             postId: r.text(3), timesReported: Int(r.int(4)!))
        }
    }

    public func saveReconcileRun(_ run: ReconcileRun) throws(StoreError) {
        try transaction { db throws(StoreError) in
            do throws(SQLiteError) {
                try db.prepare("INSERT INTO reconcile_runs (id, pass, account, started_at, finished_at, ok, changes, report) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
                    .run([.text(run.id), .text(run.pass), run.account.sql, .integer(run.startedAt), .integer(run.finishedAt),
                          .integer(run.ok ? 1 : 0), .integer(Int64(run.changes)), .text(run.report)])
            } catch {
                throw .database(error)
            }
        }
    }

    /// The latest runs, newest first.
    public func reconcileRuns(limit: Int = 20) throws(StoreError) -> [ReconcileRun] {
        try query("SELECT id, pass, account, started_at, finished_at, ok, changes, report FROM reconcile_runs ORDER BY started_at DESC, rowid DESC LIMIT ?",
                  [.integer(Int64(limit))]).map { r in
            ReconcileRun(id: r.text(0)!, pass: r.text(1)!, account: r.text(2), startedAt: r.int(3)!, finishedAt: r.int(4)!, ok: r.int(5)! != 0,
                         changes: Int(r.int(6)!), report: r.text(7)!)
        }
    }
}

/// A post the reconciler may match against a timeline, with all its attempts (their ids
/// and start times are the idempotency material, their platform ids what a create said).
public struct ReconcileCandidate: Sendable, Equatable {
    public var post: Post
    public var attempts: [Attempt]
    /// The kinds of its attachments in order (empty: a post without media).
    public var mediaKinds: [MediaType.Kind]

    public init(post: Post, attempts: [Attempt], mediaKinds: [MediaType.Kind] = []) {
        self.post = post
        self.attempts = attempts
        self.mediaKinds = mediaKinds
    }
}

/// A post on an account's timeline that no post here matches.
public struct ForeignPost: Sendable, Equatable {
    public var account: String
    public var platformId: String
    public var contentHash: String
    public var text: String
    public var createdAtMs: Int64?

    public init(account: String, platformId: String, contentHash: String, text: String, createdAtMs: Int64?) {
        self.account = account
        self.platformId = platformId
        self.contentHash = contentHash
        self.text = text
        self.createdAtMs = createdAtMs
    }
}

/// Two or more posts with one normalized text on one account's timeline.
public struct DuplicateFinding: Sendable, Equatable {
    public var account: String
    public var contentHash: String
    /// Oldest first.
    public var platformIds: [String]
    /// Our post among them, when one is ours.
    public var postId: String?
    public var timesReported: Int

    public init(account: String, contentHash: String, platformIds: [String], postId: String?, timesReported: Int = 1) {
        self.account = account
        self.contentHash = contentHash
        self.platformIds = platformIds
        self.postId = postId
        self.timesReported = timesReported
    }
}

/// One reconcile run as stored: its figures and its report (JSON, as `steadypost
/// reconcile` prints it).
public struct ReconcileRun: Sendable, Equatable {
    public var id: String
    /// `reconcile-quick`, `reconcile-deep` or `manual`.
    public var pass: String
    /// nil: every account.
    public var account: String?
    public var startedAt: Int64
    public var finishedAt: Int64
    public var ok: Bool
    /// Posts fixed and foreign posts recorded: 0 on a second run over the same data.
    public var changes: Int
    public var report: String

    public init(id: String, pass: String, account: String?, startedAt: Int64, finishedAt: Int64, ok: Bool, changes: Int, report: String) {
        self.id = id
        self.pass = pass
        self.account = account
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.ok = ok
        self.changes = changes
        self.report = report
    }
}
