import Glibc
import Testing
import CSQLite
import SteadyCore
@testable import SteadyStore

/// The store methods the posting worker adds (migration 2): per-account claims, releases,
/// schedule figures, account state, and the verification of unknown posts.
@Suite("posting store", .timeLimit(.minutes(1)))
struct PostingStoreTests {
    /// A post moved to `unknown` through a real attempt and an unknown outcome.
    static func unknownPost(_ store: SQLitePostStore, text: String = "maybe", verifyAt: Int64 = 2000) throws -> (Post, Attempt) {
        let p = try store.insert([draft(text)], now: 0)[0]
        _ = try store.claimDue(owner: "w", now: 1000, leaseMillis: 100, account: p.account)
        let a = try store.beginAttempt(postId: p.id, owner: "w", idempotencyKey: "k", adapter: "x", now: 1000, leaseMillis: 100, attemptId: "a_fixed_" + text)
        let post = try store.recordOutcome(postId: p.id, attemptId: a.id, outcome: .unknown(reason: "timeout", verifyAt: verifyAt), now: 1001)
        return (post, a)
    }

    @Test("migration 2 adds account state; opening again applies nothing twice")
    func migrationTwo() throws {
        let tmp = TempDatabase()
        #expect(try tmp.store().schemaVersion == Migrations.all.count, "2 and every later migration")
        #expect(try tmp.store().accountStates().isEmpty)
    }

    @Test("account state: tokens, pause and breaker are kept apart and survive a reopen")
    func accountState() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        try store.saveTokens(account: "a", tokens: "{\"t\":1}", now: 10)
        try store.setPause(account: "a", until: 5000, reason: "rate-limit: 429", now: 11)
        try store.saveBreaker(account: "b", breaker: "{\"state\":\"open\"}", now: 12)
        let states = try tmp.store().accountStates()
        #expect(states["a"] == AccountState(account: "a", tokens: "{\"t\":1}", tokensUpdatedAt: 10, pausedUntil: 5000, pauseReason: "rate-limit: 429", updatedAt: 11))
        #expect(states["b"]?.breaker == "{\"state\":\"open\"}" && states["b"]?.tokens == nil)
        try store.setPause(account: "a", until: nil, reason: nil, now: 13)
        #expect(try store.accountStates()["a"]?.pausedUntil == nil)
        #expect(try store.accountStates()["a"]?.tokens == "{\"t\":1}", "clearing a pause keeps the tokens")
        #expect(!states["a"]!.redacted.contains("\"t\""), "the redacted form hides the tokens")
    }

    @Test("a per-account claim is not hidden by another account's backlog")
    func perAccountClaim() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        _ = try store.insert((0..<200).map { draft("busy \($0)", account: "busy", due: 500) }, now: 0)
        let quiet = try store.insert([draft("quiet", account: "quiet", due: 900)], now: 0)[0]
        #expect(try store.claimDue(owner: "w", now: 1000, leaseMillis: 100, account: "quiet")?.id == quiet.id)
        #expect(try store.claimDue(owner: "w", now: 1000, leaseMillis: 100, account: "quiet") == nil)
        #expect(try store.claimDue(owner: "w", now: 400, leaseMillis: 100, account: "busy") == nil, "not due yet")
    }

    @Test("release gives a claim back (owner only), due again at retryAt")
    func release() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let p = try store.insert([draft("r")], now: 0)[0]
        _ = try store.claimDue(owner: "w1", now: 1000, leaseMillis: 100, account: p.account)
        #expect(throws: StoreError.self) { try store.release(postId: p.id, owner: "w2", now: 1001) }
        let back = try store.release(postId: p.id, owner: "w1", now: 1001, reason: "draining", retryAt: 6000)
        #expect(back.state == .scheduled && back.leaseOwner == nil && back.nextTryAt == 6000)
        #expect(try store.nextDueByAccount() == [p.account: 6000])
        #expect(throws: StoreError.self) { try store.release(postId: p.id, owner: "w1", now: 1002) }
    }

    @Test("beginAttempt takes the caller's attempt id (its idempotency material is derived from it)")
    func callerAttemptId() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let p = try store.insert([draft("id")], now: 0)[0]
        _ = try store.claimDue(owner: "w", now: 1000, leaseMillis: 100, account: p.account)
        let id = StoreIds.newAttemptId()
        #expect(id.hasPrefix("a_") && id.count == 18)
        let a = try store.beginAttempt(postId: p.id, owner: "w", idempotencyKey: "key-of-" + id, adapter: "x", now: 1001, leaseMillis: 100, attemptId: id)
        #expect(a.id == id)
        #expect(try store.attempts(postId: p.id).first?.idempotencyKey == "key-of-" + id)
    }

    @Test("schedule figures: next due and next verification per account, next lease expiry, quota window start")
    func figures() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        _ = try store.insert([draft("a1", account: "a", due: 3000), draft("a2", account: "a", due: 2000), draft("b1", account: "b", due: 9000)], now: 0)
        #expect(try store.nextDueByAccount() == ["a": 2000, "b": 9000])
        #expect(try store.nextLeaseExpiry() == nil)
        _ = try store.claimDue(owner: "w", now: 2500, leaseMillis: 700, account: "a")
        #expect(try store.nextLeaseExpiry() == 3200)
        let (u, a) = try Self.unknownPost(store, verifyAt: 4000)
        #expect(try store.nextVerificationByAccount() == [u.account: 4000])
        #expect(try store.oldestAttemptStarted(account: u.account, since: 0) == a.startedAt)
        #expect(try store.oldestAttemptStarted(account: u.account, since: a.startedAt + 1) == nil)
        #expect(try store.platformIdTaken("123", account: u.account, excluding: "p_other") == false)
    }

    @Test("verification claims are leases: a post is checked by one verifier at a time and again if it dies")
    func verificationLease() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let (u, a) = try Self.unknownPost(store, verifyAt: 2000)
        #expect(try store.claimVerifications(account: u.account, now: 1999, leaseMillis: 500, limit: 5).isEmpty, "not due")
        let jobs = try store.claimVerifications(account: u.account, now: 2000, leaseMillis: 500, limit: 5)
        #expect(jobs.map(\.post.id) == [u.id])
        #expect(jobs.first?.attempt?.id == a.id && jobs.first?.tries == 0)
        #expect(try store.claimVerifications(account: u.account, now: 2499, leaseMillis: 500, limit: 5).isEmpty, "taken")
        #expect(try store.claimVerifications(account: u.account, now: 2500, leaseMillis: 500, limit: 5).count == 1, "its verifier died: again")
        #expect(try store.post(id: u.id).state == .unknown, "no state change")
    }

    @Test("verification outcomes: published, absent (due again at once), undecided (later, counted)")
    func verificationOutcomes() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let (p1, a1) = try Self.unknownPost(store, text: "one")
        let posted = try store.recordVerification(postId: p1.id, attemptId: a1.id, result: .published(platformId: "777", evidence: "timeline"), now: 3000)
        #expect(posted.state == .posted && posted.platformId == "777" && posted.lastError == nil)
        let attempt = try store.attempts(postId: p1.id)[0]
        #expect(attempt.outcome == "published" && attempt.platformId == "777")
        #expect(attempt.detail == "timeout; verified published: timeline", "the history is kept")
        #expect(try store.platformIdTaken("777", account: p1.account, excluding: "p_else"))
        #expect(throws: StoreError.self) { try store.recordVerification(postId: p1.id, attemptId: a1.id, result: .absent(evidence: "x"), now: 3001) }

        let (p2, a2) = try Self.unknownPost(store, text: "two")
        let later = try store.recordVerification(postId: p2.id, attemptId: a2.id, result: .undecided(reason: "timeline lags", nextAt: 9000), now: 3000)
        #expect(later.state == .unknown && later.nextTryAt == 9000 && later.lastError == "timeline lags")
        #expect(try store.claimVerifications(account: p2.account, now: 9000, leaseMillis: 10, limit: 1).first?.tries == 1)
        let again = try store.recordVerification(postId: p2.id, attemptId: a2.id, result: .absent(evidence: "getRecord"), now: 9001)
        #expect(again.state == .scheduled && again.nextTryAt == 9001)
        #expect(try store.attempts(postId: p2.id)[0].outcome == "verifiedAbsent")
        // Re-sent as a new attempt.
        #expect(try store.claimDue(owner: "w", now: 9001, leaseMillis: 10, account: p2.account)?.id == p2.id)

        let (p3, a3) = try Self.unknownPost(store, text: "three")
        let refused = try store.recordVerification(postId: p3.id, attemptId: a3.id, result: .refused(reason: "duplicate of an earlier post"), now: 3000)
        #expect(refused.state == .failed && refused.lastError == "duplicate of an earlier post" && refused.lastErrorClass == "permanent")
        #expect(try store.attempts(postId: p3.id)[0].outcome == "permanent")
    }
}
