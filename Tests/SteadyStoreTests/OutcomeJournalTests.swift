import Glibc
import Testing
import CSQLite
@testable import SteadyStore

@Suite("outcome journal", .timeLimit(.minutes(1)))
struct OutcomeJournalTests {
    @Test("records round-trip; a torn tail is recognised and skipped")
    func tornTail() throws {
        let tmp = TempDatabase()
        let journal = OutcomeJournal(path: tmp.dir + "/outcomes.journal")
        let records: [OutcomeJournal.Record] = [
            .init(postId: "p1", attemptId: "a1", outcome: .published(platformId: "123"), at: 10),
            .init(postId: "p2", attemptId: "a2", outcome: .unknown(reason: "timeout\tafter send", verifyAt: 99), at: 11),
            .init(postId: "p3", attemptId: "a3", outcome: .noEffect(reason: "429", retryAt: 500), at: 12),
            .init(postId: "p4", attemptId: "a4", outcome: .permanent(reason: "too long by 3"), at: 13),
        ]
        for r in records { try journal.append(r) }
        var read = journal.read()
        #expect(read.records.count == 4 && read.tornBytes == 0)
        #expect(read.records[0] == records[0])
        #expect(read.records[1].outcome == .unknown(reason: "timeout after send", verifyAt: 99))
        // A crash mid-append leaves half a record: it is skipped, the rest kept.
        let fd = open(journal.path, O_WRONLY | O_APPEND)
        let half: [UInt8] = [0, 0, 0, 40, 1, 2, 3, 4, 65, 66]
        _ = half.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        read = journal.read()
        #expect(read.records.count == 4 && read.tornBytes == half.count)
        unlink(journal.path)
    }

    @Test("F01 (store level): an outcome the store could not take is journaled, replayed once, and the post ends posted")
    func f01_journalReplay() throws {
        let tmp = TempDatabase()
        let store = FaultInjectingStore(try SQLitePostStore(path: tmp.path), retry: TransientRetry(limit: 1, baseMillis: 1))
        let journal = OutcomeJournal(path: tmp.dir + "/outcomes.journal")
        defer { unlink(journal.path) }
        let p = try store.insert([draft("live")], now: 0)[0]
        _ = try store.claimDue(owner: "w", now: 1000, leaseMillis: 60_000, limit: 1)
        let attempt = try store.beginAttempt(postId: p.id, owner: "w", idempotencyKey: "k", adapter: "x", now: 1000, leaseMillis: 60_000)
        // The platform said 201; the store fails to record it.
        store.failNextWrites(5, with: DatabaseFailure.injectedIOError("test"))
        #expect(throws: StoreError.self) {
            _ = try store.recordOutcome(postId: p.id, attemptId: attempt.id, outcome: .published(platformId: "777"), now: 1001)
        }
        try journal.append(.init(postId: p.id, attemptId: attempt.id, outcome: .published(platformId: "777"), at: 1001))
        store.failNextWrites(0, with: DatabaseFailure.injectedIOError("test"))
        #expect(try store.post(id: p.id).state == .attempting)
        // Replay (at start, or on store recovery) records it; a second replay finds nothing.
        let first = try journal.replay(into: store, now: 2000)
        #expect(first.applied == 1 && first.skipped.isEmpty)
        let post = try store.post(id: p.id)
        #expect(post.state == .posted && post.platformId == "777")
        #expect(try journal.replay(into: store, now: 2001).applied == 0)
        #expect(journal.read().records.isEmpty)
    }

    @Test("replay keeps the journal when the store is still failing")
    func replayKeepsJournalOnFailure() throws {
        let tmp = TempDatabase()
        let store = FaultInjectingStore(try SQLitePostStore(path: tmp.path), retry: TransientRetry(limit: 1, baseMillis: 1))
        let journal = OutcomeJournal(path: tmp.dir + "/outcomes.journal")
        defer { unlink(journal.path) }
        let p = try store.insert([draft("kept")], now: 0)[0]
        _ = try store.claimDue(owner: "w", now: 1000, leaseMillis: 60_000, limit: 1)
        let a = try store.beginAttempt(postId: p.id, owner: "w", idempotencyKey: "k", adapter: "x", now: 1000, leaseMillis: 60_000)
        try journal.append(.init(postId: p.id, attemptId: a.id, outcome: .published(platformId: "9"), at: 1001))
        store.failNextWrites(5, with: DatabaseFailure(kind: .busy, message: "database is locked (injected)", context: "write"))
        #expect(throws: StoreError.self) { _ = try journal.replay(into: store, now: 2000) }
        #expect(journal.read().records.count == 1)
        store.failNextWrites(0, with: DatabaseFailure.injectedIOError("test"))
        #expect(try journal.replay(into: store, now: 2001).applied == 1)
    }
}
