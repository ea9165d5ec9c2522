import Logging
import SteadyCore
import SteadyPlatforms
import SteadyStore
import SteadyTokens

/// The posting worker's side of token renewal, on a job thread. The renewal itself is the
/// one every process shares (`TokenKeeper`: one renewer per account at a time across
/// processes, rotated tokens stored before use, transient failures retried with the same
/// refresh token); this maps its outcome onto the account: renewed → send again; refused
/// by the platform → pause for re-authorization with the platform's reason; transient → no
/// pause, the post is due again shortly; rate limited → pause until the reset.
struct AuthRefresher: Sendable {
    let store: any PostingWorkerStore
    let settings: PostingSettings
    let logger: Logger

    enum Result: Sendable {
        /// New tokens are stored and in the adapter: retry.
        case refreshed
        /// Not refreshed: do not send; `pause` says whether the account must wait.
        case failed(reason: String, pause: AccountPause?)
    }

    /// Stores tokens a previous refresh could not store; false if the store still refuses
    /// (then nothing may be sent with them).
    func flushUnsaved(_ slot: AccountSlot) -> Bool {
        slot.tokens?.flushUnsaved() ?? true
    }

    /// Before a job's first request: takes tokens another process renewed since, and renews
    /// ahead of expiry when the platform said when the token expires. A failure here keeps
    /// the current token (still valid); a refusal shows again on the request itself.
    func prepare(_ slot: AccountSlot, adapter: any PlatformAdapter, deadline: Int64) {
        guard let keeper = slot.tokens else { return }
        keeper.adoptStored(into: adapter)
        if let renewal = keeper.renewIfDue(adapter, deadline: deadline), !renewal.renewed {
            logger.notice("renewing ahead of expiry did not succeed; the current token is used meanwhile: \(renewal)",
                          metadata: ["ACCOUNT": "\(slot.name)", "PLATFORM": "\(slot.platform.rawValue)"])
        }
    }

    /// Renews the adapter's tokens, which the platform just refused. No refresh try starts
    /// after `deadline` (wall-clock ms).
    func refresh(_ slot: AccountSlot, adapter: any PlatformAdapter, deadline: Int64) -> Result {
        let meta: Logger.Metadata = ["ACCOUNT": "\(slot.name)", "PLATFORM": "\(slot.platform.rawValue)"]
        guard let keeper = slot.tokens else {
            return .failed(reason: "the account has no usable credentials: \(slot.credentialsError ?? "?")", pause: nil)
        }
        let now = SteadyClock.wallMillis()
        switch keeper.renew(adapter, refused: adapter.session, deadline: deadline) {
        case .adopted, .refreshed:
            return .refreshed
        case .unsaved(let why):
            return .failed(reason: why, pause: nil)
        case .refused(let reason):
            // Only the platform's refusal of the token itself: an operator must re-authorize.
            return .failed(reason: reason, pause: AccountPause(kind: .auth, until: now + settings.authPauseMillis, reason: reason))
        case .notRefreshable(let why):
            let pause = AccountPause(kind: .auth, until: now + settings.authPauseMillis, reason: "credentials refused and not refreshable: \(why)")
            logger.error("refresh impossible: \(pause.reason)", metadata: meta)
            return .failed(reason: pause.reason, pause: pause)
        case .transient(let why):
            // The refresh token is still good: the post is due again shortly, no pause.
            return .failed(reason: why, pause: nil)
        case .rateLimited(let until, let why):
            return .failed(reason: why, pause: AccountPause(kind: .rateLimit, until: max(until, now + 1), reason: "token refresh rate limited"))
        }
    }
}
