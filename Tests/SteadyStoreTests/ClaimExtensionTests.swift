import Testing
import SteadyCore
@testable import SteadyStore

/// `extendClaim`: a claim held while media uploads before the attempt keeps its lease; only
/// its owner's, only while `claimed`.
@Suite("claim extension", .timeLimit(.minutes(1)))
struct ClaimExtensionTests {
    @Test("the owner moves its claim's lease; another owner, an attempt begun or a released claim cannot")
    func extendClaim() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let p = try store.insert([draft("uploading")], now: 0)[0]
        _ = try store.claimDue(owner: "w", now: 1000, leaseMillis: 100, account: p.account)
        #expect(try store.extendClaim(postId: p.id, owner: "w", now: 1090, leaseMillis: 100))
        #expect(try store.nextLeaseExpiry() == 1190)
        #expect(try store.expireLeases(now: 1150).isEmpty, "the extended lease has not run out")
        #expect(try !store.extendClaim(postId: p.id, owner: "other", now: 1100, leaseMillis: 100))
        _ = try store.beginAttempt(postId: p.id, owner: "w", idempotencyKey: "k", adapter: "x", now: 1100, leaseMillis: 100)
        #expect(try !store.extendClaim(postId: p.id, owner: "w", now: 1110, leaseMillis: 10_000), "an attempt's lease is not a claim's")
        #expect(try store.nextLeaseExpiry() == 1200)
    }
}
