import Testing
@testable import SteadyStore

struct PostTransitionsTests {
    static let allowed: [(PostState, PostEvent, PostState)] = [
        (.scheduled, .claim, .claimed),
        (.scheduled, .cancel, .cancelled),
        (.claimed, .beginAttempt, .attempting),
        (.claimed, .release, .scheduled),
        (.claimed, .permanentFailure, .failed),
        (.claimed, .leaseExpired(poison: false), .scheduled),
        (.claimed, .leaseExpired(poison: true), .parked),
        (.attempting, .published, .posted),
        (.attempting, .noEffect, .scheduled),
        (.attempting, .unknownOutcome, .unknown),
        (.attempting, .permanentFailure, .failed),
        (.attempting, .leaseExpired(poison: false), .unknown),
        (.attempting, .leaseExpired(poison: true), .parked),
        (.unknown, .published, .posted),
        (.unknown, .verifiedAbsent, .scheduled),
        (.unknown, .unknownOutcome, .unknown),
        (.unknown, .permanentFailure, .failed),
        (.failed, .published, .posted),
        (.parked, .published, .posted),
    ]

    static let events: [PostEvent] = [
        .claim, .beginAttempt, .published, .noEffect, .unknownOutcome, .verifiedAbsent, .permanentFailure,
        .leaseExpired(poison: false), .leaseExpired(poison: true), .cancel, .release,
    ]

    @Test("every allowed transition", arguments: allowed.indices)
    func allowedTransition(_ i: Int) throws {
        let (from, event, to) = Self.allowed[i]
        #expect(try PostTransitions.next(from, event) == to)
    }

    /// The whole state × event table: whatever is not allowed is refused.
    @Test("everything else is refused", arguments: PostState.allCases)
    func refused(_ state: PostState) {
        for event in Self.events where !Self.allowed.contains(where: { $0.0 == state && $0.1 == event }) {
            #expect(throws: PostTransitions.Refused.self, "\(state) + \(event)") { try PostTransitions.next(state, event) }
        }
    }

    @Test("an attempt in flight never goes back to scheduled without verification")
    func unknownIsNotRetry() {
        for event in Self.events {
            if let next = try? PostTransitions.next(.attempting, event) { #expect(next != .scheduled || event == .noEffect) }
            if let next = try? PostTransitions.next(.unknown, event) { #expect(next != .scheduled || event == .verifiedAbsent) }
        }
    }

    @Test("cancel only before any attempt")
    func cancelOnlyScheduled() {
        for state in PostState.allCases where state != .scheduled {
            #expect(throws: PostTransitions.Refused.self) { try PostTransitions.next(state, .cancel) }
        }
    }
}
