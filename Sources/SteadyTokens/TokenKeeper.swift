import Glibc
import Logging
import SteadyCore
import SteadyPlatforms
import SteadyStore
import SteadySystem

/// One account's tokens as every process that reads or posts to the platform keeps them: the
/// posting worker's attempts and verifications, and the metrics, replies and reconciler
/// workers' reads all renew through here, so any of them can renew an expired token and
/// none spends X's single-use refresh token twice.
///
/// The rule: a renewal happens only under the account's lock (`state_dir/tokens/ACCOUNT.lock`,
/// an exclusive `flock`, so one renewer at a time across processes and threads). Under it,
/// the stored tokens are read again: if they are no longer the ones the caller found refused
/// or expiring, someone else renewed them meanwhile and those are taken (`adopted`); else the
/// platform is asked, and the rotated tokens are stored before the lock is let go and before
/// any use. A transient failure of the refresh (5xx, timeout, connection) is retried with
/// the same refresh token after short growing delays; only the platform's refusal of the
/// token (`invalid_grant`, `invalid_request`, a 401) means the account must be
/// re-authorized.
///
/// When the store refuses the rotated tokens (a failing disk, a locked database), they are
/// kept in `state_dir/tokens/ACCOUNT.pending` (0600, fsync'd, renamed into place) until it
/// takes them: the only copy of a spent refresh token's successor must outlive this process.
/// Every process reads that file before the store (`stored()`), and it is moved into the
/// store under the account's lock.
///
/// Threading: one keeper per account and process, used by whoever holds that account's
/// adapter (one thread at a time, as the adapter).
public final class TokenKeeper: @unchecked Sendable {
    /// How renewals retry and wait.
    public struct Policy: Sendable, Equatable {
        /// Delays before the 2nd, 3rd, … refresh try after a transient failure.
        public var retryDelaysMs: [Int64]
        /// Renew ahead of expiry once less than a fifth of the token's life, and at most
        /// this much, remains.
        public var maxLeadMs: Int64

        public init(retryDelaysMs: [Int64] = [1_000, 2_000, 4_000], maxLeadMs: Int64 = 300_000) {
            self.retryDelaysMs = retryDelaysMs
            self.maxLeadMs = maxLeadMs
        }
    }

    /// What a renewal came to.
    public enum Renewal: Sendable, Equatable {
        /// Another process (or thread) had renewed them: the stored tokens are in the adapter.
        case adopted
        /// Renewed here, stored, and in the adapter.
        case refreshed
        /// Renewed, but the store refused them: they are held (`unsaved`) and must not be
        /// used until `flushUnsaved()` stores them.
        case unsaved(String)
        /// The platform refused the refresh token (or the credentials): only re-authorizing
        /// the account helps. The reason says so precisely.
        case refused(String)
        /// The platform has nothing to renew (Mastodon), or the adapter cannot.
        case notRefreshable(String)
        /// The refresh did not get through (5xx, timeout, connection, the lock's wait) within
        /// the tries and the deadline; the same refresh token is still good for a later try.
        case transient(String)
        /// The token endpoint is rate limited until then.
        case rateLimited(untilMs: Int64, String)

        /// New tokens are in the adapter: the refused request may be sent again.
        public var renewed: Bool {
            switch self {
            case .adopted, .refreshed: return true
            default: return false
            }
        }
    }

    public let account: String
    public let platform: Platform
    /// Identifies the credentials file's secrets (`TokenRecord`).
    public let fingerprint: String
    /// `STATE_DIR/tokens` (0700): the account's lock and pending file.
    public let directory: String
    /// `tokens/ACCOUNT.lock` (account names are `[a-z0-9-]+`).
    public let lockPath: String
    /// Rotated tokens the store has not taken yet (see the type's comment).
    public let pendingPath: String
    /// `tokens/ACCOUNT.refreshing`: written (fsync'd) before a refresh is sent and removed once
    /// its answer is dealt with. Found by the next renewer (under the lock, so its writer is
    /// gone), it says a refresh was cut off between the platform's answer and the store: a
    /// rotating platform (X) may have spent the refresh token, and a refusal says so.
    public let refreshingPath: String
    let store: any AccountStore
    let policy: Policy
    let logger: Logger
    /// Tokens a refresh returned that neither the store nor the pending file took: kept in
    /// memory, never used, until one of them does.
    public private(set) var unsaved: SessionTokens?

    public init(account: String, platform: Platform, credentials: Credentials, store: any AccountStore, stateDir: String,
                policy: Policy = Policy(), logger: Logger) {
        self.account = account
        self.platform = platform
        fingerprint = TokenRecord.fingerprint(credentials)
        directory = (stateDir.hasSuffix("/") ? stateDir : stateDir + "/") + "tokens"
        lockPath = directory + "/" + account + ".lock"
        pendingPath = directory + "/" + account + ".pending"
        refreshingPath = directory + "/" + account + ".refreshing"
        self.store = store
        self.policy = policy
        self.logger = logger
    }

    var meta: Logger.Metadata { ["ACCOUNT": "\(account)", "PLATFORM": "\(platform.rawValue)"] }

    /// The newest stored session of these credentials: the pending file's, else the store's
    /// (nil if none, or from an older credentials file).
    public func stored() throws(StoreError) -> SessionTokens? {
        if let pending = pending() { return pending }
        return TokenRecord.decode(try store.tokens(account: account), fingerprint: fingerprint)
    }

    /// The pending file's tokens, if it holds some of these credentials.
    func pending() -> SessionTokens? {
        guard let text = Files.read(pendingPath, limit: 1 << 16) else { return nil }
        return TokenRecord.decode(text, fingerprint: fingerprint)
    }

    /// Writes rotated tokens to the pending file, durably (its name fsync'd in the directory).
    func writePending(_ tokens: SessionTokens) throws(SystemError) {
        try Files.writeAtomically(pendingPath, TokenRecord.encode(tokens, fingerprint: fingerprint), mode: 0o600)
        try Files.syncDirectory(directory)
    }

    /// Moves the pending file's tokens into the store; true when no pending tokens are left.
    /// Only under the account's lock (a renewer may be writing a newer file).
    func flushPending() -> Bool {
        guard Files.exists(pendingPath) else { return true }
        if let tokens = pending() {
            do {
                try save(tokens)
            } catch {
                logger.warning("rotated tokens still wait in \(pendingPath): the store refuses them: \(error)", metadata: meta)
                return false
            }
            logger.notice("rotated tokens moved from the pending file into the store", metadata: meta)
        }
        // Stored now, or from older credentials (nothing of them to keep).
        try? Files.remove(pendingPath)
        return true
    }

    /// Keeps tokens a refresh returned that the store refused then: into the store now, or
    /// else into the pending file; false while neither takes them (nothing may be sent with
    /// them, nor with the spent ones before them). A pending file is moved into the store
    /// when the account's lock is free.
    public func flushUnsaved() -> Bool {
        if let tokens = unsaved {
            do {
                try save(tokens)
                unsaved = nil
                logger.notice("rotated tokens stored after an earlier failure", metadata: meta)
            } catch {
                do {
                    try writePending(tokens)
                    unsaved = nil
                    logger.notice("rotated tokens kept in \(pendingPath) until the store takes them", metadata: meta)
                } catch let fileError {
                    logger.error("rotated tokens still cannot be stored (\(error); \(fileError)); not sending with them", metadata: meta)
                    return false
                }
            }
        }
        if Files.exists(pendingPath), let lock = try? FileLock.acquire(lockPath, timeoutMillis: 0) {
            _ = flushPending()
            lock.release()
        }
        return true
    }

    /// Before using the adapter: takes tokens another process stored since it last looked
    /// (one small read, no lock). Never while tokens of its own wait to be stored.
    public func adoptStored(into adapter: any PlatformAdapter) {
        guard flushUnsaved(), let stored = try? stored(), !stored.sameTokens(as: adapter.session) else { return }
        adapter.adopt(stored)
        logger.debug("took the tokens another process renewed", metadata: meta)
    }

    /// Renews ahead of expiry when the platform said when the access token expires and the
    /// time has come (`SessionTokens.renewalDue`); nil when it has not. A failure here leaves
    /// the current (still valid) token in use: a refusal shows again when it matters.
    public func renewIfDue(_ adapter: any PlatformAdapter, deadline: Int64) -> Renewal? {
        guard unsaved == nil, adapter.session.renewalDue(nowMs: SteadyClock.wallMillis(), maxLeadMs: policy.maxLeadMs) else { return nil }
        logger.info("access token near its expiry: renewing ahead of it", metadata: meta)
        return renew(adapter, refused: adapter.session, deadline: deadline)
    }

    /// Renews the tokens `refused` (the ones the platform refused or that are expiring; the
    /// adapter's session when the caller found them). No refresh try starts after `deadline`
    /// (wall-clock ms), and the lock is waited for until then at most.
    public func renew(_ adapter: any PlatformAdapter, refused: SessionTokens, deadline: Int64) -> Renewal {
        guard flushUnsaved() else { return .unsaved("rotated tokens from an earlier refresh cannot be stored yet") }
        do {
            try Files.makeDirectories(directory, mode: 0o700)
        } catch {
            return .transient("cannot make the token lock's directory: \(error)")
        }
        let lock: FileLock
        do {
            lock = try FileLock.acquire(lockPath, timeoutMillis: max(0, deadline - SteadyClock.wallMillis()))
        } catch {
            return .transient("the token lock is busy: \(error)")
        }
        defer { lock.release() }
        // A pending file left by an earlier store failure (here or in another process) is
        // the newest: into the store if it takes it now; read first by `stored()` either way.
        _ = flushPending()

        // Under the lock: has someone renewed them since the caller looked?
        let current: SessionTokens?
        do {
            current = try stored()
        } catch {
            // Unknown whether a rotation is stored: refreshing with a maybe-spent token could
            // lose the account, so not now.
            return .transient("cannot read the stored tokens: \(error)")
        }
        if let current, !current.sameTokens(as: refused) {
            adapter.adopt(current)
            logger.notice("tokens already renewed by another process; using those", metadata: meta)
            return .adopted
        }
        if let current, !current.sameTokens(as: adapter.session) {
            adapter.adopt(current)
        }

        let interrupted = Files.read(refreshingPath, limit: 256).map { String($0.filter { $0 != "\n" }) }
        if let interrupted {
            logger.error("an earlier token refresh never finished (\(interrupted)): its process died after sending it and before storing the answer; if the platform rotated the refresh token, that one is spent", metadata: meta)
        }
        // Best effort: without the mark a refusal is only less clear.
        try? Files.writeAtomically(refreshingPath, "pid \(getpid()), started at \(SteadyClock.wallMillis()) ms\n", mode: 0o600)
        var keepMark = false
        defer { if !keepMark { try? Files.remove(refreshingPath) } }

        var failures = 0
        while true {
            do {
                switch try adapter.refreshAuth() {
                case .refreshed(let tokens):
                    do {
                        try save(tokens)
                    } catch {
                        do {
                            try writePending(tokens)
                        } catch let fileError {
                            unsaved = tokens
                            keepMark = true  // the new tokens live only in this process's memory
                            logger.critical("credentials refreshed but the new tokens can be stored neither in the store (\(error)) nor in \(pendingPath) (\(fileError)); not using them until they are", metadata: meta)
                            return .unsaved("refreshed tokens could not be stored: \(error)")
                        }
                        logger.warning("credentials refreshed; the store refused the new tokens (\(error)), kept in \(pendingPath) until it takes them", metadata: meta)
                        return .refreshed
                    }
                    logger.notice("credentials refreshed; new tokens stored", metadata: meta)
                    return .refreshed
                case .notRefreshable(let why):
                    return .notRefreshable(why)
                }
            } catch {
                switch error.errorClass {
                case .auth, .permanent:
                    let reason = Self.refusalReason(error, interrupted: interrupted)
                    logger.error("refresh refused: \(reason) [\(error)]", metadata: meta)
                    return .refused(reason)
                case .rateLimited(let until):
                    return .rateLimited(untilMs: until, "token refresh rate limited: \(error.message)")
                case .noEffect, .unknownOutcome:
                    failures += 1
                    let what = Self.transientSummary(error)
                    let delay = failures <= policy.retryDelaysMs.count ? policy.retryDelaysMs[failures - 1] : nil
                    guard let delay, SteadyClock.wallMillis() + delay < deadline else {
                        logger.warning("token refresh failed \(failures) time(s) (\(what)); the refresh token is kept for a later try", metadata: meta)
                        return .transient("the token refresh failed \(failures) time(s), last: \(what); retried later with the same refresh token")
                    }
                    logger.notice("token refresh failed (\(what)); retrying in \(delay) ms with the same refresh token", metadata: meta)
                    sleepMillis(delay)
                }
            }
        }
    }

    func save(_ tokens: SessionTokens) throws(StoreError) {
        try store.saveTokens(account: account, tokens: TokenRecord.encode(tokens, fingerprint: fingerprint), now: SteadyClock.wallMillis())
    }

    /// "the platform refused the refresh token (invalid_grant): re-authorize the account", or
    /// the adapter's own reason when nothing was sent (no refresh token at all).
    /// `interrupted`: what the mark of a refresh cut off earlier said (the likely cause).
    static func refusalReason(_ error: PlatformError, interrupted: String? = nil) -> String {
        guard let status = error.evidence.httpStatus else { return "cannot refresh: \(error.message)" }
        let name = error.evidence.platformError ?? "HTTP \(status)"
        guard let interrupted else { return "the platform refused the refresh token (\(name)): re-authorize the account" }
        return "the platform refused the refresh token (\(name)), likely spent by a refresh cut off before its answer was stored (\(interrupted)): re-authorize the account"
    }

    /// "HTTP 504 (Gateway Time-out)", "timeout", …: what failed, no secrets.
    static func transientSummary(_ error: PlatformError) -> String {
        if let status = error.evidence.httpStatus {
            return "HTTP \(status)" + (error.evidence.platformError.map { " (\($0))" } ?? "")
        }
        return error.evidence.transport ?? error.message
    }
}
