import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import class SteadyTestSupport.TempDir
import func SteadyTestSupport.waitFor
@testable import SteadyStore

/// A fresh state directory per test, removed at the end.
final class ReconcileStateDir {
    let dir = TempDir("steadypost-reconcile")
    var path: String { dir.path }
    var dbPath: String { path + "/steadypost.db" }
}

/// Migration 4 and the reconciler's store calls; the transitions it relies on.
@Suite("reconcile store", .timeLimit(.minutes(1)))
struct ReconcileStoreTests {
    /// A post of account `a` taken through a real attempt to `outcome` (nil: left attempting).
    static func attempted(_ store: SQLitePostStore, _ text: String, outcome: AttemptOutcome?) throws -> Post {
        let p = try store.insert([NewPost(account: "a", platform: "x", text: text, dueAt: 1_000, contentHash: ContentNormalizer.hash(text))], now: 0)[0]
        _ = try store.claimDue(owner: "w", now: 1_000, leaseMillis: 100, account: "a")
        let attempt = try store.beginAttempt(postId: p.id, owner: "w", idempotencyKey: "k-" + text, adapter: "x", now: 1_000, leaseMillis: 100)
        guard let outcome else { return try store.post(id: p.id) }
        return try store.recordOutcome(postId: p.id, attemptId: attempt.id, outcome: outcome, now: 1_001)
    }

    @Test("the reconciler's fixes in the transition table: unknown, failed and parked become posted; nothing else does through it",
          arguments: PostState.allCases)
    func transitions(state: PostState) {
        let next = try? PostTransitions.next(state, .published)
        switch state {
        case .unknown, .failed, .parked: #expect(next == .posted)
        case .attempting: #expect(next == .posted, "the posting worker's own outcome (the reconciler never plans an attempting post)")
        default: #expect(next == nil, "\(state) must refuse .published")
        }
    }

    @Test("migration 4 is applied and reopening applies nothing twice")
    func migration() throws {
        let dir = ReconcileStateDir()
        #expect(try SQLitePostStore(path: dir.dbPath).schemaVersion >= 4, "4 and any later migration")
        #expect(try SQLitePostStore(path: dir.dbPath).reconcileRuns().isEmpty)
    }

    @Test("markLive: failed → posted with the id and evidence; a post that moved meanwhile is a conflict, unchanged")
    func markLive() throws {
        let dir = ReconcileStateDir()
        let store = try SQLitePostStore(path: dir.dbPath)
        let failed = try Self.attempted(store, "refused but live", outcome: .permanent(reason: "400"))
        #expect(failed.state == .failed)
        let fixed = try store.markLive(postId: failed.id, platformId: "555", expected: .failed, evidence: "test", now: 2_000)
        #expect(fixed.state == .posted && fixed.platformId == "555")
        #expect(try store.attempts(postId: failed.id).last?.platformId == "555")
        #expect(throws: StoreError.self) { try store.markLive(postId: failed.id, platformId: "556", expected: .failed, evidence: "again", now: 2_001) }
        #expect(try store.post(id: failed.id).platformId == "555", "a second fix changes nothing")
        let inFlight = try Self.attempted(store, "in flight", outcome: nil)
        #expect(throws: StoreError.self) { try store.markLive(postId: inFlight.id, platformId: "9", expected: .unknown, evidence: "x", now: 2_002) }
        #expect(try store.post(id: inFlight.id).state == .attempting)
    }

    @Test("candidates: attempted in the window, unknown/failed/parked changed since, and holders of the timeline's ids")
    func candidates() throws {
        let dir = ReconcileStateDir()
        let store = try SQLitePostStore(path: dir.dbPath)
        let posted = try Self.attempted(store, "old posted", outcome: .published(platformId: "77"))
        let unknown = try Self.attempted(store, "unknown", outcome: .unknown(reason: "timeout", verifyAt: 5_000))
        _ = try store.insert([NewPost(account: "a", platform: "x", text: "never tried", dueAt: 9_000, contentHash: "h")], now: 0)
        let inWindow = try store.reconcileCandidates(account: "a", since: 500, platformIds: [])
        #expect(Set(inWindow.map(\.post.id)) == [posted.id, unknown.id])
        #expect(inWindow.first { $0.post.id == unknown.id }?.attempts.count == 1)
        let late = try store.reconcileCandidates(account: "a", since: 100_000, platformIds: ["77"])
        #expect(late.map(\.post.id) == [posted.id], "only the holder of a timeline id, outside the window")
        #expect(try store.reconcileCandidates(account: "b", since: 0, platformIds: ["77"]).isEmpty, "another account's posts never match")
    }

    @Test("foreign posts and duplicate findings are recorded once; a second run adds nothing new")
    func foreignAndDuplicates() throws {
        let dir = ReconcileStateDir()
        let store = try SQLitePostStore(path: dir.dbPath)
        let f = ForeignPost(account: "a", platformId: "1", contentHash: "h", text: "t", createdAtMs: 5)
        #expect(try store.recordForeign([f], now: 10) == 1)
        #expect(try store.recordForeign([f], now: 20) == 0)
        #expect(try store.foreignPostIds(account: "a") == ["1"])
        let d = DuplicateFinding(account: "a", contentHash: "h", platformIds: ["1", "2"], postId: nil)
        #expect(try store.recordDuplicates([d], now: 10) == 1)
        #expect(try store.recordDuplicates([d], now: 20) == 0)
        let found = try store.duplicateFindings(account: "a")
        #expect(found.count == 1 && found[0].platformIds == ["1", "2"] && found[0].timesReported == 2)
    }

    @Test("runs are stored with their report, newest first")
    func runs() throws {
        let dir = ReconcileStateDir()
        let store = try SQLitePostStore(path: dir.dbPath)
        for i in 0..<3 {
            try store.saveReconcileRun(ReconcileRun(id: "r\(i)", pass: "manual", account: nil, startedAt: Int64(i), finishedAt: Int64(i) + 1,
                                                                    ok: i != 1, changes: i, report: "{\"n\":\(i)}"))
        }
        let runs = try store.reconcileRuns(limit: 2)
        #expect(runs.map(\.id) == ["r2", "r1"] && runs[1].ok == false && runs[0].report == "{\"n\":2}")
    }

    /// Blocked `flock` waiters on `path`'s inode, from /proc/locks (`-> FLOCK` lines).
    static func flockWaiters(_ path: String) -> Int {
        var st = stat()
        guard stat(path, &st) == 0, let fd = fopen("/proc/locks", "r") else { return 0 }
        defer { fclose(fd) }
        var count = 0
        var line = [CChar](repeating: 0, count: 512)
        while fgets(&line, Int32(line.count), fd) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.contains("-> FLOCK"), text.contains(":\(st.st_ino) ") { count += 1 }
        }
        return count
    }

    /// Runs `body` on a thread of its own (not the test's cooperative pool: it blocks).
    static func thread(_ body: @escaping @Sendable () -> Void) -> pthread_t {
        final class Box { let body: @Sendable () -> Void; init(_ b: @escaping @Sendable () -> Void) { body = b } }
        var t = pthread_t()
        let rc = pthread_create(&t, nil, { arg in
            Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().body()
            return nil
        }, Unmanaged.passRetained(Box(body)).toOpaque())
        precondition(rc == 0, "pthread_create: \(rc)")
        return t
    }

    /// Whether `condition` holds within 20 s (the shared `waitFor`, sampled until the deadline).
    static func waitUntil(_ condition: () -> Bool) -> Bool {
        (try? waitFor("the condition", timeoutMillis: 20_000) { condition() ? true : nil }) != nil
    }

    @Test("the journal across processes: a replay and an append wait for the file's lock; no record is lost")
    func journalLock() throws {
        let dir = ReconcileStateDir()
        let store = try SQLitePostStore(path: dir.dbPath)
        let path = dir.path + "/outcomes.journal"
        let journal = OutcomeJournal(path: path)
        let p1 = try Self.attempted(store, "first", outcome: nil)
        let p2 = try Self.attempted(store, "second", outcome: nil)
        let a1 = try store.attempts(postId: p1.id)[0].id
        let a2 = try store.attempts(postId: p2.id)[0].id
        try journal.append(OutcomeJournal.Record(postId: p1.id, attemptId: a1, outcome: .published(platformId: "l1"), at: 3_000))
        // Another process holds the lock (its own open file description, as another process has).
        let other = open(path, O_RDWR | O_CLOEXEC)
        #expect(other >= 0 && flock(other, LOCK_EX) == 0)
        let replay = Self.thread { _ = try? journal.replay(into: store, now: 3_001) }
        let waited = Self.waitUntil { Self.flockWaiters(path) >= 1 }
        // A second journal object (as in the posting worker) appends meanwhile: it waits too.
        let append = Self.thread {
            try? OutcomeJournal(path: path).append(OutcomeJournal.Record(postId: p2.id, attemptId: a2, outcome: .published(platformId: "l2"), at: 3_002))
        }
        let bothWaited = Self.waitUntil { Self.flockWaiters(path) >= 2 }
        close(other)  // releases the lock; both go on, in either order
        pthread_join(replay, nil)
        pthread_join(append, nil)
        #expect(waited, "the replay waits for the lock")
        #expect(bothWaited, "the append waits for the lock")
        // Whichever got the lock first, the second record is in the store or still journaled.
        _ = try journal.replay(into: store, now: 3_003)
        #expect(try store.post(id: p1.id).platformId == "l1")
        #expect(try store.post(id: p2.id).platformId == "l2", "the record appended during the replay was not lost")
        #expect(journal.read().records.isEmpty)
    }

    @Test("the journal is replayed under its lock and emptied; a record appended afterwards survives for the next replay")
    func journalReplay() throws {
        let dir = ReconcileStateDir()
        let store = try SQLitePostStore(path: dir.dbPath)
        let journal = OutcomeJournal(path: dir.path + "/outcomes.journal")
        let p1 = try Self.attempted(store, "journaled one", outcome: nil)
        let p2 = try Self.attempted(store, "journaled two", outcome: nil)
        let a1 = try store.attempts(postId: p1.id)[0].id
        try journal.append(OutcomeJournal.Record(postId: p1.id, attemptId: a1, outcome: .published(platformId: "j1"), at: 3_000))
        #expect(try journal.replay(into: store, now: 3_001).applied == 1)
        #expect(journal.read().records.isEmpty)
        let a2 = try store.attempts(postId: p2.id)[0].id
        try journal.append(OutcomeJournal.Record(postId: p2.id, attemptId: a2, outcome: .published(platformId: "j2"), at: 3_002))
        #expect(journal.read().records.count == 1, "appending after a replay (the file was truncated in place, not replaced) works")
        #expect(try journal.replay(into: store, now: 3_003).applied == 1)
        #expect(try store.post(id: p2.id).platformId == "j2")
    }
}
