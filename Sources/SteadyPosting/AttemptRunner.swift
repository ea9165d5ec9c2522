import Logging
import SteadyCore
import SteadyHTTP
import SteadyMedia
import SteadyPlatforms
import SteadyStore

/// One attempt at one claimed post, on its own thread (DESIGN.md 3.1-3.5):
/// 1. the attempt (id, idempotency material, content hash) is committed: intent before effect;
/// 2. the adapter's create, with the attempt's key (Mastodon's Idempotency-Key, Bluesky's
///    record key), once more after a successful refresh if the credentials were refused;
/// 3. the outcome by the taxonomy, recorded in the store, or in the fsync'd journal if the
///    store fails.
struct AttemptRunner: Sendable {
    let store: any PostingWorkerStore
    let journal: OutcomeJournal
    let settings: PostingSettings
    let owner: String
    let logger: Logger
    /// Test fault points; nil (nothing checked) unless `STEADYPOST_FAULTS` is set.
    let faults: PostingFaults?
    /// Where attachments' bytes are (`STATE_DIR/media`).
    let media: MediaStore

    /// A named crash point of the attempt (`PostingFaults`).
    func crashPoint(_ point: PostingFaults.CrashPoint, _ post: Post) {
        faults?.crash(at: point, account: post.account, postId: post.id, part: post.threadPosition) { logger.critical("\($0)") }
    }

    var refresher: AuthRefresher { AuthRefresher(store: store, settings: settings, logger: logger) }

    func run(_ post: Post, slot: AccountSlot) -> JobResult {
        var meta: Logger.Metadata = ["POST_ID": "\(post.id)", "ACCOUNT": "\(slot.name)", "PLATFORM": "\(slot.platform.rawValue)"]
        func notStarted(_ why: String) -> JobResult {
            let now = SteadyClock.wallMillis()
            do {
                try store.release(postId: post.id, owner: owner, now: now, reason: why, retryAt: now + 5_000)
            } catch {
                logger.error("cannot give the claim back (its lease will): \(error)", metadata: meta)
            }
            return JobResult(kind: .attempt, account: slot.name, postId: post.id, event: .notStarted, recording: .none,
                             health: .silent, pause: nil, refreshed: false)
        }
        guard let adapter = slot.adapter else { return notStarted("account has no usable credentials: \(slot.credentialsError ?? "?")") }
        guard refresher.flushUnsaved(slot) else { return notStarted("rotated tokens cannot be stored yet") }
        // Tokens another process renewed since, or a renewal ahead of expiry: before the
        // attempt begins, so its time comes out of the claim, not the attempt's lease.
        refresher.prepare(slot, adapter: adapter, deadline: SteadyClock.wallMillis() + settings.leaseMillis / 4)

        // 0. Media, while claimed: uploads publish nothing (MediaUploadStep).
        var draft = PostDraft(text: post.text, replyTo: post.inReplyTo)
        do {
            draft.media = try store.attachments(postId: post.id)
        } catch {
            return notStarted("its attachments cannot be read: \(error)")
        }
        if (post.threadPosition ?? 1) > 1 {
            switch threadLinks(post) {
            case .ready(let parent, let root):
                draft.replyTo = parent.uri
                draft.replyParentCid = parent.cid
                draft.replyRoot = root
            case .notYet(let why):
                return notStarted(why)
            }
        }
        if !draft.media.isEmpty {
            switch uploadMedia(post, draft.media, slot: slot, adapter: adapter, meta: meta) {
            case .ready(let handles): draft.mediaHandles = handles
            case .stopped(let stop): return stop
            }
        }

        // 1. Intent before effect.
        crashPoint(.beforeIntent, post)
        let startedAt = SteadyClock.wallMillis()
        let attemptId = StoreIds.newAttemptId()
        let key = AttemptKey(attemptId: attemptId, startedAtMicros: startedAt * 1000)
        let attempt: Attempt
        do {
            attempt = try store.beginAttempt(postId: post.id, owner: owner, idempotencyKey: slot.definition.idempotencyKey(for: key),
                                             adapter: slot.platform.rawValue, now: startedAt, leaseMillis: settings.leaseMillis,
                                             attemptId: attemptId)
        } catch {
            logger.error("cannot commit the attempt, so nothing is sent: \(error)", metadata: meta)
            return notStarted("the attempt could not be committed: \(error)")
        }
        meta["ATTEMPT_ID"] = "\(attempt.id)"
        crashPoint(.afterIntent, post)

        // 2. The request(s).
        var refreshed = false
        var refreshedOK = false
        var health = PlatformHealth.silent
        var pause: AccountPause?
        var outcome: AttemptOutcome
        attemptLoop: while true {
            do {
                let remote = try create(adapter, draft, key, slot: slot, post: post)
                crashPoint(.afterResponse, post)
                outcome = .published(platformId: remote.id, cid: remote.cid)
                health = .healthy
                slot.refusalsAfterRefresh = 0
                pause = Self.pauseBeforeRefusal(adapter.lastRateLimit, definition: slot.definition, now: SteadyClock.wallMillis())
                break attemptLoop
            } catch {
                // Only an answer that was read counts (not a refusal before sending).
                if error.evidence.httpStatus != nil { crashPoint(.afterResponse, post) }
                if error.mediaRefused { forgetUploads(post, count: draft.media.count, meta: meta) }
                // A lost answer is judged when verification knows what happened: a post found
                // live was a healthy platform, whatever the connection did (seed 004).
                health = error.errorClass == .unknownOutcome ? .silent : PlatformHealth.of(error)
                let decision = AttemptDecision.decide(error, attemptNumber: attempt.number, refreshed: refreshed,
                                                      refusalsAfterRefreshBefore: slot.refusalsAfterRefresh,
                                                      now: SteadyClock.wallMillis(), jitter: Double.random(in: 0..<1), settings: settings)
                if case .outcome(let o, let p) = decision {
                    if refreshedOK, error.errorClass == .auth { slot.refusalsAfterRefresh += 1 }
                    outcome = o
                    pause = p
                    if case .unknown = o { logger.warning("outcome unknown, verification follows: \(error)", metadata: meta) }
                    break attemptLoop
                }
                // The credentials were refused: nothing was published. Refresh once, then
                // the same attempt (same key) once more.
                refreshed = true
                logger.notice("credentials refused; refreshing once: \(error)", metadata: meta)
                // Refresh tries must leave the lease room for the create after them.
                let deadline = attempt.startedAt + settings.leaseMillis - 2 * settings.httpTimeoutMillis - 1_000
                switch refresher.refresh(slot, adapter: adapter, deadline: deadline) {
                case .refreshed:
                    refreshedOK = true
                    continue attemptLoop
                case .failed(let reason, let p):
                    let now = SteadyClock.wallMillis()
                    pause = p
                    let retryAt = p?.until ?? now + slot.definition.noEffectRetry.delay(failures: attempt.number, jitter: Double.random(in: 0..<1))
                    outcome = .noEffect(reason: "credentials refused: \(reason)", retryAt: retryAt)
                }
                break attemptLoop
            }
        }

        // 3. The outcome, never lost.
        let recording = record(post: post, attempt: attempt, outcome: outcome, meta: meta)
        let event: JobResult.Event
        switch outcome {
        case .published(let id, _):
            event = .posted
            logger.info("posted as \(id)", metadata: meta)
        case .noEffect(let reason, let retryAt):
            event = .retry
            logger.info("no effect; due again at \(retryAt): \(reason)", metadata: meta)
        case .unknown:
            event = .unknown
        case .permanent(let reason):
            event = .failed
            logger.warning("failed for good: \(reason)", metadata: meta)
        }
        return JobResult(kind: .attempt, account: slot.name, postId: post.id, event: event, recording: recording,
                         health: health, pause: pause, refreshed: refreshedOK)
    }

    /// A pause the platform asked for without refusing anything yet (Facebook's usage header
    /// at 95 % or more): the account waits until it regains access, so the next send is not refused.
    static func pauseBeforeRefusal(_ info: RateLimitInfo?, definition: any PlatformDefinition, now: Int64) -> AccountPause? {
        guard let info, let until = info.pauseBeforeRefusal(nowMs: now, fallbackMs: definition.defaultRateLimitPauseMs) else { return nil }
        return AccountPause(kind: .rateLimit, until: until,
                            reason: "\(definition.displayName) reports \(info.usagePercent ?? 0)% of its allowance used: paused before it refuses")
    }

    /// The adapter's create; with fault points armed, its HTTP client's observer is the
    /// `after_send` point (for the create's own request only, not a refresh's).
    func create(_ adapter: any PlatformAdapter, _ draft: PostDraft, _ key: AttemptKey, slot: AccountSlot, post: Post) throws(PlatformError) -> RemotePost {
        guard let faults, let client = slot.adapterClient else { return try adapter.create(draft, attempt: key) }
        client.transferObserver = { [logger] event in
            guard event == .answerArriving else { return }
            faults.crash(at: .afterSend, account: post.account, postId: post.id, part: post.threadPosition) { logger.critical("\($0)") }
        }
        defer { client.transferObserver = nil }
        return try adapter.create(draft, attempt: key)
    }

    /// Records the outcome; the journal takes it if the store cannot (DESIGN.md 3.3).
    func record(post: Post, attempt: Attempt, outcome: AttemptOutcome, meta: Logger.Metadata) -> JobResult.Recording {
        let now = SteadyClock.wallMillis()
        do throws(StoreError) {
            if case .published = outcome, let injected = faults?.outcomeWriteFailure(account: post.account, postId: post.id) {
                throw StoreError.database(injected)
            }
            crashPoint(.beforeOutcomeCommit, post)
            _ = try store.recordOutcome(postId: post.id, attemptId: attempt.id, outcome: outcome, now: now)
            crashPoint(.afterOutcomeCommit, post)
            return .store
        } catch .database(let e) {
            logger.error("the store cannot record the outcome (\(e)); appending it to the outcome journal", metadata: meta)
            do {
                try journal.append(OutcomeJournal.Record(postId: post.id, attemptId: attempt.id, outcome: outcome, at: now))
                return .journal
            } catch {
                logger.critical("the outcome journal failed too (\(error)); the lease will expire and the post will be verified as unknown", metadata: meta)
                return .lost
            }
        } catch {
            logger.warning("the store refused the outcome: \(error)", metadata: meta)
            return .conflict
        }
    }
}
