/// Where a post is in the posting contract (DESIGN.md section 3). Stored as its raw value.
public enum PostState: String, CaseIterable, Sendable, Codable {
    /// Waiting for its due time (or its retry time after a `noEffect` failure).
    case scheduled
    /// Leased by a posting worker; no request has been made yet.
    case claimed
    /// The attempt (id, idempotency material, content hash) is committed; a request that could
    /// publish may be in flight.
    case attempting
    /// Live on the platform, with its platform id.
    case posted
    /// A request may have published it and nobody knows: verified before anything else.
    case unknown
    /// Permanently refused, with the reason.
    case failed
    /// Cancelled before any attempt started.
    case cancelled
    /// Quarantined: it crashed its worker repeatedly (poison) and waits for an operator.
    case parked

    /// States no worker will act on again without an operator.
    public var isTerminal: Bool { self == .posted || self == .failed || self == .cancelled || self == .parked }
}

/// What can happen to a post. Each is applied in one store transaction.
public enum PostEvent: Equatable, Sendable {
    /// A worker leases the due post.
    case claim
    /// The attempt is committed: intent before effect.
    case beginAttempt
    /// The platform has it, with this id (from the response, or found by verification).
    case published
    /// Provably not published (refused connection, 429, validation before send): due again later.
    case noEffect
    /// A request may have published it: verify before any re-send.
    case unknownOutcome
    /// Verification proved it absent: it may be sent again.
    case verifiedAbsent
    /// Refused for good.
    case permanentFailure
    /// The worker holding the lease is gone. `poison`: it has now died holding this post
    /// as often as the poison limit allows.
    case leaseExpired(poison: Bool)
    /// The operator cancels it.
    case cancel
    /// A worker gives a claim back without attempting (draining, account paused, breaker open).
    case release
    /// A part before it in its thread failed for good: it can never answer that part.
    case threadStopped
}

/// The post state machine, pure: `next(state, event)` is the whole of the contract's
/// transitions. Anything not listed is refused, so a bug cannot, say, move an `unknown`
/// post back to `scheduled` without verification.
public enum PostTransitions {
    public struct Refused: Error, Equatable, CustomStringConvertible, Sendable {
        public var state: PostState
        public var event: PostEvent
        public var description: String { "a \(state.rawValue) post cannot take \(event)" }
    }

    public static func next(_ state: PostState, _ event: PostEvent) throws(Refused) -> PostState {
        switch (state, event) {
        case (.scheduled, .claim): return .claimed
        case (.scheduled, .cancel): return .cancelled
        case (.scheduled, .threadStopped): return .failed
        case (.claimed, .beginAttempt): return .attempting
        case (.claimed, .release): return .scheduled
        case (.claimed, .permanentFailure): return .failed  // refused before any request (validation)
        // A claim without an attempt made no request: safe to schedule again.
        case (.claimed, .leaseExpired(let poison)): return poison ? .parked : .scheduled
        case (.attempting, .published): return .posted
        case (.attempting, .noEffect): return .scheduled
        case (.attempting, .unknownOutcome): return .unknown
        case (.attempting, .permanentFailure): return .failed
        // Never back to scheduled: the request may have gone out.
        case (.attempting, .leaseExpired(let poison)): return poison ? .parked : .unknown
        case (.unknown, .published): return .posted
        case (.unknown, .verifiedAbsent): return .scheduled
        case (.unknown, .unknownOutcome): return .unknown  // still undecided: retried with backoff
        // Verification proved it absent and the refusal real (X's duplicate-content refusal
        // of a text whose earlier post is not this one's): re-sending would be refused again.
        case (.unknown, .permanentFailure): return .failed
        // The reconciler finds failed and parked posts live on the platform (F26).
        case (.failed, .published): return .posted
        case (.parked, .published): return .posted
        default: throw Refused(state: state, event: event)
        }
    }
}
