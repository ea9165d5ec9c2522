import Glibc
import CSQLite
import SteadyCore
import Synchronization

/// The post store on SQLite: one connection per process, every state change one
/// `BEGIN IMMEDIATE` transaction checked against `PostTransitions`, transient errors (BUSY,
/// LOCKED, I/O) retried with bounded backoff (F16), everything else classified and thrown.
public final class SQLitePostStore: Store, @unchecked Sendable {
    /// The one SQLite handle (not Sendable: a connection is used by one thread at a time).
    /// Every use of it is inside `state.withLock`: that lock, not the type, is what makes the
    /// store safe to share between threads, hence `@unchecked`. (The handle cannot live in
    /// the `Mutex` itself: a transaction lends it to the caller's closure.)
    private let database: SQLiteDatabase
    private let state = Mutex(State())
    public let path: String
    /// Transient failures retried before giving up, and the first backoff step.
    public let retryLimit: Int
    public let retryBaseMillis: Int64

    /// A figure behind the store's lock. (Failures on purpose are the business of
    /// `FaultInjectingStore`, not of this backend.)
    struct State: Sendable {
        /// Transactions replayed after a transient error, since the store opened.
        var transientRetries = 0
    }

    public init(path: String, retryLimit: Int = TransientRetry.standard.limit, retryBaseMillis: Int64 = TransientRetry.standard.baseMillis,
                busyTimeoutMillis: Int32 = 5000) throws(StoreError) {
        self.path = path
        self.retryLimit = retryLimit
        self.retryBaseMillis = retryBaseMillis
        do throws(SQLiteError) {
            database = try SQLiteDatabase(path: path, busyTimeoutMillis: busyTimeoutMillis)
            try Self.migrate(database)
        } catch {
            throw .database(error.failure)
        }
    }

    static func migrate(_ db: SQLiteDatabase) throws(SQLiteError) {
        let version = Int(try db.prepare("PRAGMA user_version").run().first?.int(0) ?? 0)
        for (index, sql) in Migrations.all.enumerated() where index >= version {
            try db.execute("BEGIN IMMEDIATE")
            do {
                // Read again under the write lock: several workers open a new store at once,
                // and another may have applied this migration while we waited.
                if Int(try db.prepare("PRAGMA user_version").run().first?.int(0) ?? 0) <= index {
                    try db.execute(sql)
                    try db.execute("PRAGMA user_version = \(index + 1)")
                }
                try db.execute("COMMIT")
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
        }
    }

    /// The schema version now in force.
    public var schemaVersion: Int {
        (try? state.withLock { _ throws(SQLiteError) in try database.prepare("PRAGMA user_version").run().first?.int(0) }).flatMap { $0.map(Int.init) } ?? 0
    }

    /// Transactions replayed after a transient error (BUSY, LOCKED, I/O) since the store opened.
    public var transientRetries: Int { state.withLock { $0.transientRetries } }

    /// Runs `body` in one transaction — IMMEDIATE (the write lock taken up front, so a
    /// read-then-write cannot fail to upgrade), or a plain deferred one for `readOnly` bodies,
    /// which in WAL mode never wait for or block a writer. A transient failure rolls back and
    /// retries the whole transaction (`TransientRetry`: after 10, 20, 40, … ms, at most
    /// `retryLimit` times).
    func transaction<T>(readOnly: Bool = false, _ body: (SQLiteDatabase) throws(StoreError) -> T) throws(StoreError) -> T {
        try TransientRetry(limit: retryLimit, baseMillis: retryBaseMillis).run(retried: { state.withLock { $0.transientRetries += 1 } }) {
            // The value stays outside the lock's closure: only the (Sendable) error crosses it.
            var value: T?
            let failure: StoreError? = state.withLock { _ in
                do throws(SQLiteError) {
                    try database.execute(readOnly ? "BEGIN" : "BEGIN IMMEDIATE")
                } catch {
                    return .database(error)
                }
                do throws(StoreError) {
                    value = try body(database)
                    do throws(SQLiteError) { try database.execute("COMMIT") } catch { throw StoreError.database(error) }
                    return nil
                } catch {
                    try? database.execute("ROLLBACK")
                    return error
                }
            }
            if let failure { return .failure(failure) }
            return .success(value!)
        }
    }

    // MARK: - Posts

    static let postColumns = "id, account, platform, kind, text, in_reply_to, content_hash, due_at, state, created_at, updated_at, lease_owner, lease_expires_at, next_try_at, attempts, lease_losses, platform_id, last_error, last_error_class, thread_id, thread_position, platform_cid, thread_waiting"
    /// How many columns `postColumns` names (a query's own columns follow them).
    static let postColumnCount = 23

    static func post(_ r: Row) -> Post {
        Post(id: r.text(0)!, account: r.text(1)!, platform: r.text(2)!, kind: r.text(3)!, text: r.text(4)!, inReplyTo: r.text(5),
             contentHash: r.text(6)!, dueAt: r.int(7)!, state: PostState(rawValue: r.text(8)!) ?? .parked, createdAt: r.int(9)!,
             updatedAt: r.int(10)!, leaseOwner: r.text(11), leaseExpiresAt: r.int(12), nextTryAt: r.int(13),
             attempts: Int(r.int(14)!), leaseLosses: Int(r.int(15)!), platformId: r.text(16), lastError: r.text(17), lastErrorClass: r.text(18),
             threadId: r.text(19), threadPosition: r.int(20).map(Int.init), platformCid: r.text(21), threadWaiting: (r.int(22) ?? 0) != 0)
    }

    /// Schedules posts, all or nothing.
    public func insert(_ posts: [NewPost], now: Int64) throws(StoreError) -> [Post] {
        try transaction { db throws(StoreError) in
            do throws(SQLiteError) {
                let stmt = try db.prepare("INSERT INTO posts (id, account, platform, kind, text, in_reply_to, content_hash, due_at, state, created_at, updated_at, thread_id, thread_position, thread_gap_ms, thread_waiting) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'scheduled', ?, ?, ?, ?, ?, ?)")
                let media = try db.prepare("INSERT INTO post_media (post_id, position, sha256, type, bytes, alt) VALUES (?, ?, ?, ?, ?, ?)")
                var out: [Post] = []
                for p in posts {
                    let id = StoreIds.newId("p_")
                    let waiting = (p.thread?.position ?? 1) > 1
                    try stmt.run([.text(id), .text(p.account), .text(p.platform), .text(p.inReplyTo == nil ? "post" : "reply"), .text(p.text),
                                  p.inReplyTo.sql, .text(p.contentHash), .integer(p.dueAt), .integer(now), .integer(now),
                                  p.thread.map { .text($0.id) } ?? .null, p.thread.map { .integer(Int64($0.position)) } ?? .null,
                                  .integer(p.thread?.gapMillis ?? 0), .integer(waiting ? 1 : 0)])
                    for (position, m) in p.media.enumerated() {
                        try media.run([.text(id), .integer(Int64(position)), .text(m.sha256), .text(m.type.rawValue), .integer(m.bytes), m.alt.sql])
                    }
                    out.append(Post(id: id, account: p.account, platform: p.platform, kind: p.inReplyTo == nil ? "post" : "reply", text: p.text,
                                    inReplyTo: p.inReplyTo, contentHash: p.contentHash, dueAt: p.dueAt, state: .scheduled, createdAt: now,
                                    updatedAt: now, leaseOwner: nil, leaseExpiresAt: nil, nextTryAt: nil, attempts: 0, leaseLosses: 0,
                                    platformId: nil, lastError: nil, lastErrorClass: nil, threadId: p.thread?.id,
                                    threadPosition: p.thread?.position, threadWaiting: waiting))
                }
                return out
            } catch {
                throw .database(error)
            }
        }
    }

    public func post(id: String) throws(StoreError) -> Post {
        let rows = try query("SELECT \(Self.postColumns) FROM posts WHERE id = ?", [.text(id)])
        guard let row = rows.first else { throw .notFound(id) }
        return Self.post(row)
    }

    /// Posts, newest due first, optionally by state and account.
    public func posts(state: PostState? = nil, account: String? = nil, limit: Int = 1000) throws(StoreError) -> [Post] {
        try query("SELECT \(Self.postColumns) FROM posts WHERE (?1 IS NULL OR state = ?1) AND (?2 IS NULL OR account = ?2) ORDER BY due_at DESC LIMIT ?3",
                  [state.map { .text($0.rawValue) } ?? .null, account.sql, .integer(Int64(limit))]).map(Self.post)
    }

    public func attempts(postId: String) throws(StoreError) -> [Attempt] {
        try query("SELECT id, post_id, number, started_at, finished_at, idempotency_key, content_hash, adapter, account, outcome, detail, platform_id FROM attempts WHERE post_id = ? ORDER BY number", [.text(postId)]).map { r in
            Attempt(id: r.text(0)!, postId: r.text(1)!, number: Int(r.int(2)!), startedAt: r.int(3)!, finishedAt: r.int(4), idempotencyKey: r.text(5)!,
                    contentHash: r.text(6)!, adapter: r.text(7)!, account: r.text(8)!, outcome: r.text(9), detail: r.text(10), platformId: r.text(11))
        }
    }

    /// Counts by state.
    public func counts() throws(StoreError) -> [PostState: Int] {
        var out: [PostState: Int] = [:]
        for r in try query("SELECT state, COUNT(*) FROM posts GROUP BY state", []) {
            if let s = PostState(rawValue: r.text(0)!) { out[s] = Int(r.int(1)!) }
        }
        return out
    }

    /// The earliest time a scheduled post becomes due (the worker sleeps until then); a
    /// thread part waiting for the part before it has no due time yet.
    public func nextDueAt() throws(StoreError) -> Int64? {
        try query("SELECT MIN(COALESCE(next_try_at, due_at)) FROM posts WHERE state = 'scheduled' AND thread_waiting = 0", []).first?.int(0)
    }

    /// A read: no write lock (quota and scheduling reads run on every claim round).
    func query(_ sql: String, _ values: [SQLValue]) throws(StoreError) -> [Row] {
        try transaction(readOnly: true) { db throws(StoreError) in
            do throws(SQLiteError) { return try db.prepare(sql).run(values) } catch { throw .database(error) }
        }
    }

    // MARK: - The contract's transitions

    /// A post read inside the transaction, or `notFound`.
    func read(_ db: SQLiteDatabase, _ id: String) throws(StoreError) -> Post {
        let rows: [Row]
        do throws(SQLiteError) { rows = try db.prepare("SELECT \(Self.postColumns) FROM posts WHERE id = ?").run([.text(id)]) } catch { throw .database(error) }
        guard let row = rows.first else { throw .notFound(id) }
        return Self.post(row)
    }

    /// Reads a post's state inside the transaction and applies `event`, or throws `conflict`.
    func transition(_ db: SQLiteDatabase, _ id: String, _ event: PostEvent) throws(StoreError) -> (Post, PostState) {
        let post = try read(db, id)
        do {
            return (post, try PostTransitions.next(post.state, event))
        } catch {
            throw .conflict(error.description)
        }
    }

    /// Commits the attempt before any request (intent before effect): the post becomes
    /// `attempting` with its attempt row. Only the lease owner may do this.
    /// `attemptId` lets the caller derive idempotency material from the id before the
    /// commit (Mastodon's key, Bluesky's record key); by default the store picks one.
    public func beginAttempt(postId: String, owner: String, idempotencyKey: String, adapter: String, now: Int64, leaseMillis: Int64,
                             attemptId: String? = nil) throws(StoreError) -> Attempt {
        try transaction { db throws(StoreError) in
            let (post, next) = try transition(db, postId, .beginAttempt)
            guard post.leaseOwner == owner else { throw .conflict("post \(postId) is leased to \(post.leaseOwner ?? "nobody"), not \(owner)") }
            let attempt = Attempt(id: attemptId ?? StoreIds.newAttemptId(), postId: postId, number: post.attempts + 1, startedAt: now, finishedAt: nil,
                                  idempotencyKey: idempotencyKey, contentHash: post.contentHash, adapter: adapter, account: post.account,
                                  outcome: nil, detail: nil, platformId: nil)
            do throws(SQLiteError) {
                try db.prepare("INSERT INTO attempts (id, post_id, number, started_at, idempotency_key, content_hash, adapter, account) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
                    .run([.text(attempt.id), .text(postId), .integer(Int64(attempt.number)), .integer(now), .text(idempotencyKey),
                          .text(post.contentHash), .text(adapter), .text(post.account)])
                try db.prepare("UPDATE posts SET state = ?, attempts = attempts + 1, lease_expires_at = ?, updated_at = ? WHERE id = ?")
                    .run([.text(next.rawValue), .integer(now + leaseMillis), .integer(now), .text(postId)])
            } catch {
                throw .database(error)
            }
            return attempt
        }
    }

    /// Records how an attempt ended, and moves the post accordingly, in one transaction.
    public func recordOutcome(postId: String, attemptId: String, outcome: AttemptOutcome, now: Int64) throws(StoreError) -> Post {
        try transaction { db throws(StoreError) in
            let (_, next) = try transition(db, postId, outcome.event)
            var platformId: SQLValue = .null
            var cid: SQLValue = .null
            var detail: SQLValue = .null
            var nextTry: SQLValue = .null
            var errorClass: SQLValue = .null
            switch outcome {
            case .published(let id, let c): platformId = .text(id); cid = c.sql
            case .noEffect(let reason, let retryAt):
                detail = .text(reason); nextTry = .integer(retryAt); errorClass = "noEffect"
            case .unknown(let reason, let verifyAt):
                detail = .text(reason); nextTry = .integer(verifyAt); errorClass = "unknownOutcome"
            case .permanent(let reason):
                detail = .text(reason); errorClass = "permanent"
            }
            do {
                try db.prepare("UPDATE attempts SET finished_at = ?, outcome = ?, detail = ?, platform_id = ? WHERE id = ? AND post_id = ?")
                    .run([.integer(now), .text(outcome.name), detail, platformId, .text(attemptId), .text(postId)])
                guard db.changes == 1 else { throw StoreError.notFound(attemptId) }
                try db.prepare("""
                    UPDATE posts SET state = ?, platform_id = COALESCE(?, platform_id), platform_cid = COALESCE(?, platform_cid), next_try_at = ?,
                    last_error = ?, last_error_class = ?, lease_owner = NULL, lease_expires_at = NULL, updated_at = ? WHERE id = ?
                    """).run([.text(next.rawValue), platformId, cid, nextTry, detail, errorClass, .integer(now), .text(postId)])
                return try threadFollowUp(db, postId, now: now)
            } catch let e as StoreError {
                throw e
            } catch let e as SQLiteError {
                throw .database(e.failure)
            } catch {
                throw .conflict("\(error)")
            }
        }
    }

    /// Leases that ran out, each moved as `PostTransitions.leaseExpiry` decides: a `claimed`
    /// post goes back to `scheduled`, an `attempting` one to `unknown` (never `scheduled`: its
    /// request may have gone out), and a post whose lease has been lost `poisonLimit` times is
    /// `parked` (F27). `countLoss` false: the holder's death
    /// is no evidence against the post (an outside SIGKILL), so the loss is not counted.
    /// `deadOwners`: lease holders known to be dead (the previous worker reaped by the
    /// supervisor; a worker whose life lock was free): their leases count as run out now,
    /// whatever their expiry says. Returns what moved.
    public func expireLeases(now: Int64, poisonLimit: Int = 2, countLoss: Bool = true, deadOwners: [String] = []) throws(StoreError) -> [(id: String, from: PostState, to: PostState)] {
        let owners = deadOwners.isEmpty ? "" : " OR lease_owner IN (\(deadOwners.map { _ in "?" }.joined(separator: ", ")))"
        let which = "state IN ('claimed', 'attempting') AND (lease_expires_at <= ?\(owners))"
        let arguments: [SQLValue] = [.integer(now)] + deadOwners.map { .text($0) }
        // Nearly every claim round has nothing to expire: a read, not the write lock (P3).
        guard try !query("SELECT 1 FROM posts WHERE \(which) LIMIT 1", arguments).isEmpty else {
            return []
        }
        return try transaction { db throws(StoreError) in
            let rows: [Row]
            do throws(SQLiteError) {
                rows = try db.prepare("SELECT \(Self.postColumns) FROM posts WHERE \(which)").run(arguments)
            } catch { throw .database(error) }
            var moved: [(String, PostState, PostState)] = []
            for row in rows {
                let post = Self.post(row)
                guard let expiry = PostTransitions.leaseExpiry(post, now: now, poisonLimit: poisonLimit, countLoss: countLoss) else { continue }
                do throws(SQLiteError) {
                    try db.prepare("UPDATE posts SET state = ?, lease_owner = NULL, lease_expires_at = NULL, lease_losses = lease_losses + ?, last_error = ?, last_error_class = ?, next_try_at = ?, updated_at = ? WHERE id = ?")
                        .run([.text(expiry.next.rawValue), .integer(Int64(expiry.lossesCounted)), .text(expiry.lastError), .text(expiry.lastErrorClass),
                              expiry.nextTryAt.sql, .integer(now), .text(post.id)])
                } catch { throw .database(error) }
                moved.append((post.id, post.state, expiry.next))
            }
            return moved
        }
    }

    /// Everyone holding a lease on a post (claimed or attempting), expired or not.
    public func leaseOwners() throws(StoreError) -> [String] {
        try query("SELECT DISTINCT lease_owner FROM posts WHERE state IN ('claimed', 'attempting') AND lease_owner IS NOT NULL", [])
            .compactMap { $0.text(0) }
    }

    /// Cancels a post that has not started an attempt; a race with a claim has one winner.
    /// A thread part's later parts, which could no longer answer it, are cancelled with it.
    public func cancel(id: String, now: Int64) throws(StoreError) -> Post {
        try transaction { db throws(StoreError) in
            let (_, next) = try transition(db, id, .cancel)
            do throws(SQLiteError) {
                try db.prepare("UPDATE posts SET state = ?, updated_at = ? WHERE id = ? AND state = 'scheduled'").run([.text(next.rawValue), .integer(now), .text(id)])
            } catch { throw .database(error) }
            return try threadFollowUp(db, id, now: now)
        }
    }

    /// Attempts started for `account` since `since` (unknown outcomes included): what the
    /// quotas count.
    public func attemptsStarted(account: String, since: Int64) throws(StoreError) -> Int {
        Int(try query("SELECT COUNT(*) FROM attempts WHERE account = ? AND started_at >= ?", [.text(account), .integer(since)]).first?.int(0) ?? 0)
    }
}
