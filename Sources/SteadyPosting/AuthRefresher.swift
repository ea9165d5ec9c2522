import Logging
import SteadyCore
import SteadyPlatforms
import SteadyStore

/// Refreshing an account's credentials once, on a job thread, with the rule that rotated
/// tokens reach the store before they are used (X refresh tokens are single-use: a worker
/// that used new tokens it had not stored could lose the account at its next crash).
struct AuthRefresher: Sendable {
    let store: SQLitePostStore
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
        guard let tokens = slot.unsavedTokens else { return true }
        do {
            try store.saveTokens(account: slot.name, tokens: TokenRecord.encode(tokens, fingerprint: slot.credentialsFingerprint), now: SteadyClock.wallMillis())
            slot.unsavedTokens = nil
            logger.notice("rotated tokens stored after an earlier failure", metadata: ["ACCOUNT": "\(slot.name)"])
            return true
        } catch {
            logger.error("rotated tokens still cannot be stored; not sending with them: \(error)", metadata: ["ACCOUNT": "\(slot.name)"])
            return false
        }
    }

    func refresh(_ slot: AccountSlot, adapter: any PlatformAdapter) -> Result {
        let now = SteadyClock.wallMillis()
        let meta: Logger.Metadata = ["ACCOUNT": "\(slot.name)", "PLATFORM": "\(slot.platform.rawValue)"]
        do {
            switch try adapter.refreshAuth() {
            case .refreshed(let tokens):
                do {
                    try store.saveTokens(account: slot.name, tokens: TokenRecord.encode(tokens, fingerprint: slot.credentialsFingerprint), now: SteadyClock.wallMillis())
                } catch {
                    slot.unsavedTokens = tokens
                    logger.critical("credentials refreshed but the new tokens cannot be stored; not using them until they are: \(error)", metadata: meta)
                    return .failed(reason: "refreshed tokens could not be stored: \(error)", pause: nil)
                }
                logger.notice("credentials refreshed; new tokens stored", metadata: meta)
                return .refreshed
            case .notRefreshable(let why):
                let pause = AccountPause(kind: .auth, until: now + settings.authPauseMillis, reason: "credentials refused and not refreshable: \(why)")
                logger.error("refresh impossible: \(pause.reason)", metadata: meta)
                return .failed(reason: pause.reason, pause: pause)
            }
        } catch {
            switch error.errorClass {
            case .auth, .unknownOutcome, .permanent:
                // Refused, or (X) the single-use refresh token may have been consumed without
                // an answer: only an operator can help. The account waits; others go on.
                let pause = AccountPause(kind: .auth, until: now + settings.authPauseMillis,
                                         reason: "credentials refused and the refresh failed (\(error.errorClass.name)): re-authorize the account")
                logger.error("refresh failed: \(error)", metadata: meta)
                return .failed(reason: "\(pause.reason): \(error)", pause: pause)
            case .rateLimited(let until):
                let pause = AccountPause(kind: .rateLimit, until: max(until, now + 1), reason: "token refresh rate limited")
                return .failed(reason: error.description, pause: pause)
            case .noEffect:
                return .failed(reason: "the refresh did not get through: \(error)", pause: nil)
            }
        }
    }
}
