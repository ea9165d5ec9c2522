import SteadyCore
import SteadyPlatforms
import SteadyStore

/// What an answer (or its absence) says about the platform's health, for the circuit
/// breaker (DESIGN.md 3.6): only 5xx, 408 and transport failures (timeouts, refused or reset
/// connections) are unhealthy; a 4xx refusal, a rate limit or an auth problem is the platform
/// answering sanely. An error the adapter raised before sending anything says nothing.
public enum PlatformHealth: Equatable, Sendable {
    case healthy
    case unhealthy
    case silent

    public static func of(_ error: PlatformError) -> PlatformHealth {
        if let status = error.evidence.httpStatus {
            return (500...599).contains(status) || status == 408 ? .unhealthy : .healthy
        }
        return error.evidence.transport != nil ? .unhealthy : .silent
    }
}

/// Why and until when an account takes no attempts.
public struct AccountPause: Equatable, Sendable {
    public enum Kind: String, Sendable { case rateLimit = "rate-limit", auth }
    public var kind: Kind
    public var until: Int64
    public var reason: String

    public init(kind: Kind, until: Int64, reason: String) {
        self.kind = kind
        self.until = until
        self.reason = reason
    }

    /// Stored as `KIND: reason`.
    public var stored: String { "\(kind.rawValue): \(reason)" }

    public static func parse(until: Int64?, stored: String?) -> AccountPause? {
        guard let until, let stored else { return nil }
        let kind: Kind = stored.hasPrefix("auth:") ? .auth : .rateLimit
        let reason = stored.split(separator: ":", maxSplits: 1).dropFirst().first.map { String($0.drop { $0 == " " }) } ?? stored
        return AccountPause(kind: kind, until: until, reason: reason)
    }
}

/// The taxonomy's fixed answer to one failed create (DESIGN.md 3.5), pure:
/// - `noEffect` → scheduled again after the platform's backoff;
/// - `unknownOutcome` → `unknown`, verified before anything else;
/// - `rateLimited(until)` → the account pauses until then and the post is due then (not a
///   failure: the breaker is not fed);
/// - `auth` → the caller refreshes once and retries the create within the same attempt (an
///   auth refusal means nothing was published); the refreshed token refused too → the
///   attempt retries with backoff, and the account pauses when that happens on
///   `authRefusalsAfterRefresh` attempts in a row (a failed refresh pauses at once);
/// - `permanent` → `failed` with the reason.
public enum AttemptDecision: Equatable, Sendable {
    case outcome(AttemptOutcome, pause: AccountPause?)
    case refreshAndRetry

    /// `refusalsAfterRefreshBefore`: the account's attempts in a row, before this one, whose
    /// freshly refreshed token was refused too.
    public static func decide(_ error: PlatformError, attemptNumber: Int, refreshed: Bool, refusalsAfterRefreshBefore: Int = 0,
                              now: Int64, jitter: Double, settings: PostingSettings) -> AttemptDecision {
        let reason = error.description
        switch error.errorClass {
        case .noEffect:
            let delay = RetryPolicy.noEffect(for: error.platform).delay(failures: attemptNumber, jitter: jitter)
            return .outcome(.noEffect(reason: reason, retryAt: now + delay), pause: nil)
        case .unknownOutcome:
            return .outcome(.unknown(reason: reason, verifyAt: now + settings.firstVerifyDelayMillis), pause: nil)
        case .rateLimited(let until):
            let resume = max(until, now + 1)
            return .outcome(.noEffect(reason: reason, retryAt: resume),
                            pause: AccountPause(kind: .rateLimit, until: resume, reason: error.message))
        case .auth:
            if !refreshed { return .refreshAndRetry }
            // The refresh itself was accepted, so the credentials are good: a fresh token
            // refused at once is a glitch (or a token expired by someone else in between)
            // until it happens `authRefusalsAfterRefresh` attempts in a row.
            if refusalsAfterRefreshBefore + 1 < settings.authRefusalsAfterRefresh {
                let delay = RetryPolicy.noEffect(for: error.platform).delay(failures: refusalsAfterRefreshBefore + 1, jitter: jitter)
                return .outcome(.noEffect(reason: "credentials refused right after a refresh: \(reason)", retryAt: now + delay), pause: nil)
            }
            let until = now + settings.authPauseMillis
            return .outcome(.noEffect(reason: reason, retryAt: until),
                            pause: AccountPause(kind: .auth, until: until,
                                                reason: "credentials refused after a refresh, \(settings.authRefusalsAfterRefresh) attempts in a row: \(error.message)"))
        case .permanent(let why):
            return .outcome(.permanent(reason: why), pause: nil)
        }
    }
}
