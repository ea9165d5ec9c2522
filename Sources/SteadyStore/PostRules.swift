// The contract's rules that decide more than a state, beside `PostTransitions` and as pure as
// it: a backend reads the row, asks these, and writes what they say, in one transaction.

/// What a lease that ran out does to its post: back to `scheduled` (a claim made no request),
/// to `unknown` (an attempt may have published: verified before anything else), or — once its
/// worker has died holding it `poisonLimit` times — `parked` as poison for an operator (F27).
public struct LeaseExpiry: Equatable, Sendable {
    public var next: PostState
    /// Parked: it has crashed its worker as often as the poison limit allows.
    public var poison: Bool
    /// Lease losses to add to the post's count: 0 when the loss is no evidence against it.
    public var lossesCounted: Int
    public var lastError: String
    public var lastErrorClass: String
    /// An `unknown` post is verified at once; otherwise nil (the post's own due time applies).
    public var nextTryAt: Int64?
}

/// What a verification result means for an `unknown` post: its event, its next state and what
/// the post row and its attempt row keep.
public struct VerificationEffect: Equatable, Sendable {
    public var event: PostEvent
    public var next: PostState
    /// The platform id found (published only; otherwise the post keeps its own).
    public var platformId: String?
    public var nextTryAt: Int64?
    public var lastError: String?
    public var lastErrorClass: String?
    /// Verification rounds start again from 0 (the post goes back to be sent) or count one more.
    public var resetsVerifyTries: Bool
    /// The attempt's outcome and the evidence appended to its detail; nil leaves the attempt
    /// as it is (still undecided).
    public var attemptOutcome: String?
    public var attemptDetail: String?
}

extension PostTransitions {
    /// A `claimed` or `attempting` post whose lease ran out at `now` (or whose holder is known
    /// dead): nil for a post in any other state. `countLoss` false: the holder's death is no
    /// evidence against the post (an outside SIGKILL), so the loss is neither counted nor
    /// able to park it.
    public static func leaseExpiry(_ post: Post, now: Int64, poisonLimit: Int, countLoss: Bool) -> LeaseExpiry? {
        let poison = countLoss && post.leaseLosses + 1 >= poisonLimit
        guard let next = try? next(post.state, .leaseExpired(poison: poison)) else { return nil }
        let early = (post.leaseExpiresAt ?? 0) > now
        let reason = poison
            ? "parked: its worker died holding it \(post.leaseLosses + 1) times (last while \(post.state.rawValue))"
            : early ? "its worker (\(post.leaseOwner ?? "?")) died while \(post.state.rawValue)" : "lease expired while \(post.state.rawValue)"
        return LeaseExpiry(next: next, poison: poison, lossesCounted: countLoss ? 1 : 0, lastError: reason,
                           lastErrorClass: next == .unknown ? "unknownOutcome" : "leaseExpired", nextTryAt: next == .unknown ? now : nil)
    }

    /// What `result` does to a post in `state` (an `unknown` one; any other refuses, as the
    /// table does): published → `posted` with its id; absent → `scheduled`, due at once, to be
    /// sent again; refused → `failed`; undecided → still `unknown`, checked again at its time.
    public static func verification(_ result: VerificationResult, from state: PostState, now: Int64) throws(Refused) -> VerificationEffect {
        switch result {
        case .published(let platformId, let evidence, _):
            return VerificationEffect(event: .published, next: try next(state, .published), platformId: platformId, nextTryAt: nil,
                                      lastError: nil, lastErrorClass: nil, resetsVerifyTries: false,
                                      attemptOutcome: "published", attemptDetail: "verified published: \(evidence)")
        case .absent(let evidence):
            return VerificationEffect(event: .verifiedAbsent, next: try next(state, .verifiedAbsent), platformId: nil, nextTryAt: now,
                                      lastError: "verified absent (\(evidence)); sending again", lastErrorClass: "verifiedAbsent",
                                      resetsVerifyTries: true, attemptOutcome: "verifiedAbsent", attemptDetail: "verified absent: \(evidence)")
        case .refused(let reason):
            return VerificationEffect(event: .permanentFailure, next: try next(state, .permanentFailure), platformId: nil, nextTryAt: nil,
                                      lastError: reason, lastErrorClass: "permanent", resetsVerifyTries: false,
                                      attemptOutcome: "permanent", attemptDetail: "verified absent; refused for good: \(reason)")
        case .undecided(let reason, let nextAt):
            return VerificationEffect(event: .unknownOutcome, next: try next(state, .unknownOutcome), platformId: nil, nextTryAt: nextAt,
                                      lastError: reason, lastErrorClass: "unknownOutcome", resetsVerifyTries: false,
                                      attemptOutcome: nil, attemptDetail: nil)
        }
    }
}
