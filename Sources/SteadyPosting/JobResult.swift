import SteadyStore

/// What a job thread hands back to the loop.
struct JobResult: Sendable {
    enum Kind: Sendable { case attempt, verification }

    /// How the job ended, for the counters and the log.
    enum Event: Sendable, Equatable {
        /// The platform has it (from the create's answer).
        case posted
        /// Refused for good.
        case failed
        /// The create's outcome is unknown: verification follows.
        case unknown
        /// No effect: scheduled again.
        case retry
        /// Verification found it live.
        case verifiedPosted
        /// Verification proved it absent: scheduled to send again.
        case verifiedAbsent
        /// Verification could not decide yet.
        case undecided
        /// Nothing was sent (the store refused the attempt, tokens could not be stored).
        case notStarted
    }

    /// Where the outcome went.
    enum Recording: Sendable, Equatable {
        case store
        /// The store failed; the fsync'd journal has it, replayed before the next claim.
        case journal
        /// Neither took it (logged as critical; lease expiry makes the post `unknown`).
        case lost
        /// The store refused it: the post had moved on (logged).
        case conflict
        /// Nothing to record.
        case none
    }

    var kind: Kind
    var account: String
    var postId: String
    var event: Event
    var recording: Recording
    /// What the platform's answers said about its health (breaker input). An attempt whose
    /// answer was lost reports `.silent`; its verification reports what it found (see
    /// `Verifier.health(of:readFailure:)`).
    var health: PlatformHealth
    var pause: AccountPause?
    /// A refresh happened and its tokens were stored.
    var refreshed: Bool
}
