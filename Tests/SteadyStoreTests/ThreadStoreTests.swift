import Testing
import SteadyCore
@testable import SteadyStore

/// Issue 16: the store's side of threads. Part N+1 is claimable only once part N is posted
/// with its id; whatever moves a part moves the rest in the same transaction.
@Suite("thread store", .timeLimit(.minutes(1)))
struct ThreadStoreTests {
    static func thread(_ count: Int, account: String = "news-x", due: Int64 = 1000, gap: Int64 = 0) -> [NewPost] {
        let id = ThreadPlacement.newId()
        return (1...count).map { n in
            var p = draft("part \(n)", account: account, due: due)
            p.thread = ThreadPlacement(id: id, position: n, gapMillis: gap)
            return p
        }
    }

    /// Claims the account's due post, attempts it and records `outcome`.
    @discardableResult
    static func run(_ store: SQLitePostStore, account: String = "news-x", now: Int64, _ outcome: (Post) -> AttemptOutcome) throws -> Post? {
        guard let post = try store.claimDue(owner: "w", now: now, leaseMillis: 60_000, account: account) else { return nil }
        let attempt = try store.beginAttempt(postId: post.id, owner: "w", idempotencyKey: "k", adapter: "x", now: now, leaseMillis: 60_000)
        return try store.recordOutcome(postId: post.id, attemptId: attempt.id, outcome: outcome(post), now: now)
    }

    @Test("part N+1 is claimable only once part N is posted; it then answers part N's id, due at once (no gap)")
    func partsInOrder() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let parts = try store.insert(Self.thread(3), now: 1)
        #expect(parts.map(\.threadPosition) == [1, 2, 3])
        #expect(parts.map(\.threadWaiting) == [false, true, true])
        #expect(try store.nextDueByAccount()["news-x"] == 1000, "only part 1 counts as due")
        let first = try #require(try store.claimDue(owner: "w", now: 5000, leaseMillis: 60_000, account: "news-x"))
        #expect(first.id == parts[0].id)
        #expect(try store.claimDue(owner: "w", now: 5000, leaseMillis: 60_000, account: "news-x") == nil, "part 2 waits while part 1 is claimed")
        let attempt = try store.beginAttempt(postId: first.id, owner: "w", idempotencyKey: "k", adapter: "bluesky", now: 5000, leaseMillis: 60_000)
        _ = try store.recordOutcome(postId: first.id, attemptId: attempt.id, outcome: .published(platformId: "at://did/p/1", cid: "cid1"), now: 6000)
        let stored = try store.post(id: first.id)
        #expect(stored.platformCid == "cid1")
        let second = try store.post(id: parts[1].id)
        #expect(!second.threadWaiting)
        #expect(second.inReplyTo == "at://did/p/1")
        #expect(second.dueAt == 6000, "due when part 1 was posted (its own time had passed)")
        #expect(try store.post(id: parts[2].id).threadWaiting, "part 3 still waits for part 2")
        let claimed = try #require(try store.claimDue(owner: "w", now: 6000, leaseMillis: 60_000, account: "news-x"))
        #expect(claimed.id == parts[1].id)
    }

    @Test("an unknown part holds the rest until verification finds it; the found cid is kept for the next part")
    func unknownHolds() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let parts = try store.insert(Self.thread(2), now: 1)
        try Self.run(store, now: 2000) { _ in .unknown(reason: "lost answer", verifyAt: 2000) }
        #expect(try store.claimDue(owner: "w", now: 3000, leaseMillis: 60_000, account: "news-x") == nil, "part 2 must not move while part 1 is unknown")
        let job = try #require(try store.claimVerifications(account: "news-x", now: 3000, leaseMillis: 10_000, limit: 5).first)
        try store.recordVerification(postId: job.post.id, attemptId: job.attempt?.id,
                                     result: .published(platformId: "at://p1", evidence: "getRecord", cid: "cid-found"), now: 3500)
        #expect(try store.post(id: parts[0].id).platformCid == "cid-found")
        let next = try #require(try store.claimDue(owner: "w", now: 3500, leaseMillis: 60_000, account: "news-x"))
        #expect(next.id == parts[1].id)
        #expect(next.inReplyTo == "at://p1")
    }

    @Test("a gap puts the next part that long after the part before it was posted")
    func gap() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let parts = try store.insert(Self.thread(2, gap: 30_000), now: 1)
        try Self.run(store, now: 2000) { _ in .published(platformId: "1") }
        #expect(try store.post(id: parts[1].id).dueAt == 32_000)
        #expect(try store.claimDue(owner: "w", now: 31_999, leaseMillis: 60_000, account: "news-x") == nil)
        #expect(try store.claimDue(owner: "w", now: 32_000, leaseMillis: 60_000, account: "news-x")?.id == parts[1].id)
    }

    @Test("a part that fails for good fails the rest, naming it; the parts before it stay as they are")
    func failureStopsTheRest() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let parts = try store.insert(Self.thread(4), now: 1)
        try Self.run(store, now: 2000) { _ in .published(platformId: "1") }
        try Self.run(store, now: 2100) { _ in .permanent(reason: "403 forbidden") }
        let after = try store.threadParts(threadId: parts[0].threadId!)
        #expect(after.map(\.state) == [.posted, .failed, .failed, .failed])
        #expect(after[2].lastError == "part 2 failed: 403 forbidden")
        #expect(after[3].lastError == "part 2 failed: 403 forbidden")
        #expect(after[2].attempts == 0 && after[3].attempts == 0, "never attempted")
        #expect(try store.claimDue(owner: "w", now: 9000, leaseMillis: 60_000, account: "news-x") == nil)
    }

    @Test("cancel THREAD_ID cancels the parts not yet attempted; cancelling a part cancels the ones after it")
    func cancelling() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let parts = try store.insert(Self.thread(3), now: 1)
        try Self.run(store, now: 2000) { _ in .published(platformId: "1") }
        let after = try store.cancelThread(threadId: parts[0].threadId!, now: 2100)
        #expect(after.map(\.state) == [.posted, .cancelled, .cancelled])
        #expect(throws: StoreError.self) { try store.cancelThread(threadId: "t_none", now: 1) }

        let other = try store.insert(Self.thread(3, account: "b"), now: 1)
        _ = try store.cancel(id: other[1].id, now: 3000)
        #expect(try store.threadParts(threadId: other[0].threadId!).map(\.state) == [.scheduled, .cancelled, .cancelled])
        try Self.run(store, account: "b", now: 4000) { _ in .published(platformId: "b1") }
        #expect(try store.claimDue(owner: "w", now: 5000, leaseMillis: 60_000, account: "b") == nil, "nothing left to post")
    }

    @Test("a part parked as poison holds the rest; a single post beside a waiting thread is claimed as usual")
    func parkedHolds() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let parts = try store.insert(Self.thread(2) + [draft("single", due: 1500)], now: 1)
        let first = try #require(try store.claimDue(owner: "w", now: 2000, leaseMillis: 10, account: "news-x"))
        #expect(first.id == parts[0].id)
        _ = try store.beginAttempt(postId: first.id, owner: "w", idempotencyKey: "k", adapter: "x", now: 2000, leaseMillis: 10)
        _ = try store.expireLeases(now: 3000, poisonLimit: 1)
        #expect(try store.post(id: first.id).state == .parked)
        let next = try #require(try store.claimDue(owner: "w", now: 3000, leaseMillis: 60_000, account: "news-x"))
        #expect(next.id == parts[2].id, "the single post, not part 2")
        #expect(try store.post(id: parts[1].id).threadWaiting)
    }

    @Test("a part waiting for the part before it is not a late post, whatever its thread's time")
    func waitingIsNotLate() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        _ = try store.insert(Self.thread(3, gap: 3_600_000), now: 1)
        try Self.run(store, now: 2000) { _ in .published(platformId: "1") }
        #expect(try store.stuckPosts(now: 1_000_000, after: 60_000) == 0, "part 2 is due an hour after part 1; part 3 waits")
        #expect(try store.stuckPosts(now: 3_700_000, after: 60_000) == 1, "part 2 overdue now")
    }

    @Test("the outcome journal keeps a Bluesky cid, and reads journals written without one")
    func journalCid() throws {
        let record = OutcomeJournal.Record(postId: "p_1", attemptId: "a_1", outcome: .published(platformId: "at://x", cid: "bafy"), at: 5)
        #expect(OutcomeJournal.decode(OutcomeJournal.encode(record)) == record)
        let old = "p_1\ta_1\tpublished\tat://x\t0\t5"
        #expect(OutcomeJournal.decode(old)?.outcome == .published(platformId: "at://x"))
    }
}
