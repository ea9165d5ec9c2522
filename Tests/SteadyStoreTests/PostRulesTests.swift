import Testing
@testable import SteadyStore

/// The rules beside `PostTransitions`, pure: what a lease that ran out does (poison parking)
/// and what a verification result means.
struct PostRulesTests {
    static func post(_ state: PostState, losses: Int = 0, leaseExpiresAt: Int64? = 1000, owner: String? = "w1") -> Post {
        Post(id: "p", account: "a", platform: "x", kind: "post", text: "t", inReplyTo: nil, contentHash: "h", dueAt: 0, state: state,
             createdAt: 0, updatedAt: 0, leaseOwner: owner, leaseExpiresAt: leaseExpiresAt, nextTryAt: nil, attempts: 1,
             leaseLosses: losses, platformId: nil, lastError: nil, lastErrorClass: nil)
    }

    /// (state, losses before, countLoss, poisonLimit) → (next, losses counted, error class, verified now)
    static let expiries: [(PostState, Int, Bool, Int, PostState, Int, String, Bool)] = [
        (.claimed, 0, true, 2, .scheduled, 1, "leaseExpired", false),
        (.attempting, 0, true, 2, .unknown, 1, "unknownOutcome", true),
        (.claimed, 1, true, 2, .parked, 1, "leaseExpired", false),
        (.attempting, 1, true, 2, .parked, 1, "leaseExpired", false),
        (.attempting, 2, true, 4, .unknown, 1, "unknownOutcome", true),
        (.attempting, 3, true, 4, .parked, 1, "leaseExpired", false),
        // An outside SIGKILL: no evidence against the post, never parked, not counted.
        (.attempting, 5, false, 2, .unknown, 0, "unknownOutcome", true),
        (.claimed, 5, false, 2, .scheduled, 0, "leaseExpired", false),
    ]

    @Test("F27/F04: a run-out lease schedules a claim again, sends an attempt to verification, parks a post that crashed its worker poisonLimit times",
          arguments: expiries.indices)
    func f27_leaseExpiry(_ i: Int) throws {
        let (state, losses, countLoss, limit, next, counted, errorClass, verifyNow) = Self.expiries[i]
        let e = try #require(PostTransitions.leaseExpiry(Self.post(state, losses: losses), now: 2000, poisonLimit: limit, countLoss: countLoss))
        #expect(e.next == next && e.lossesCounted == counted && e.lastErrorClass == errorClass)
        #expect(e.poison == (next == .parked))
        #expect(e.nextTryAt == (verifyNow ? 2000 : nil))
        if e.poison { #expect(e.lastError.hasPrefix("parked: its worker died holding it \(losses + 1) times")) }
    }

    @Test("F27: a lease whose holder died early says so; one that ran out says it expired")
    func f27_reasons() throws {
        let early = try #require(PostTransitions.leaseExpiry(Self.post(.claimed, leaseExpiresAt: 9000), now: 2000, poisonLimit: 2, countLoss: false))
        #expect(early.lastError == "its worker (w1) died while claimed")
        let late = try #require(PostTransitions.leaseExpiry(Self.post(.attempting), now: 2000, poisonLimit: 2, countLoss: true))
        #expect(late.lastError == "lease expired while attempting")
    }

    @Test("only claimed and attempting posts have a lease to expire", arguments: PostState.allCases)
    func leaseExpiryOnlyForLeased(_ state: PostState) {
        let e = PostTransitions.leaseExpiry(Self.post(state), now: 2000, poisonLimit: 2, countLoss: true)
        #expect((e != nil) == (state == .claimed || state == .attempting))
    }

    @Test("F02/F05: what each verification result means for an unknown post")
    func f02_verificationEffects() throws {
        let published = try PostTransitions.verification(.published(platformId: "99", evidence: "by id"), from: .unknown, now: 5)
        #expect(published == VerificationEffect(event: .published, next: .posted, platformId: "99", nextTryAt: nil, lastError: nil, lastErrorClass: nil,
                                                 resetsVerifyTries: false, attemptOutcome: "published", attemptDetail: "verified published: by id"))
        let absent = try PostTransitions.verification(.absent(evidence: "getRecord 404"), from: .unknown, now: 5)
        #expect(absent.next == .scheduled && absent.nextTryAt == 5, "sent again, now: only after absence is proven")
        #expect(absent.resetsVerifyTries && absent.lastErrorClass == "verifiedAbsent" && absent.attemptOutcome == "verifiedAbsent")
        let refused = try PostTransitions.verification(.refused(reason: "duplicate"), from: .unknown, now: 5)
        #expect(refused.next == .failed && refused.lastError == "duplicate" && refused.attemptOutcome == "permanent")
        let undecided = try PostTransitions.verification(.undecided(reason: "timeline incomplete", nextAt: 60), from: .unknown, now: 5)
        #expect(undecided.next == .unknown && undecided.nextTryAt == 60 && undecided.lastErrorClass == "unknownOutcome")
        #expect(undecided.attemptOutcome == nil && !undecided.resetsVerifyTries, "the attempt stays undecided; the round is counted")
    }

    @Test("F02: a verification result is refused for a post that is not unknown, as the table refuses it",
          arguments: PostState.allCases.filter { $0 != .unknown })
    func f02_verificationOnlyForUnknown(_ state: PostState) {
        #expect(throws: PostTransitions.Refused.self) {
            _ = try PostTransitions.verification(.absent(evidence: "x"), from: state, now: 1)
        }
    }
}
