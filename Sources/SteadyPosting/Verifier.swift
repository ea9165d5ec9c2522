import Logging
import SteadyCore
import SteadyPlatforms
import SteadyStore

/// Decides an `unknown` post on its own thread (DESIGN.md 3.2), in order:
/// 1. by platform id, when one is known;
/// 2. by the platform's idempotency: Bluesky's getRecord under the attempt's record key is
///    definitive either way; X and Mastodon cannot be asked (re-POSTing a Mastodon key would
///    create the post if absent), so they go on to
/// 3. the own timeline from the attempt's start minus a minute, matched by normalized
///    content hash (t.co rewriting, whitespace), skipping posts that other posts of ours own.
///
/// Only a definitive absence moves the post back to `scheduled`: Bluesky's `absent`, or a
/// timeline scan that reached the attempt's start (complete), and either only once
/// `settleMillis` have passed since the attempt began (timelines lag behind creates, and a
/// request the client gave up on may still land). Anything else stays `unknown`, checked
/// again with a growing delay, and visible in `jobs`.
struct Verifier: Sendable {
    let store: any PostingWorkerStore
    let journal: OutcomeJournal
    let settings: PostingSettings
    let logger: Logger
    /// Timeline pages read per verification.
    var maxPages = 20

    var refresher: AuthRefresher { AuthRefresher(store: store, settings: settings, logger: logger) }

    func run(_ job: VerificationJob, slot: AccountSlot) -> JobResult {
        let post = job.post
        let meta: Logger.Metadata = ["POST_ID": "\(post.id)", "ACCOUNT": "\(slot.name)", "PLATFORM": "\(slot.platform.rawValue)",
                                     "ATTEMPT_ID": "\(job.attempt?.id ?? "-")"]
        let started = SteadyClock.wallMillis()
        let backoff = started + RetryPolicy.verification.delay(failures: job.tries + 1, jitter: Double.random(in: 0..<1))
        var pause: AccountPause?
        var refreshed = false
        var readFailure: PlatformHealth = .silent
        var result: VerificationResult
        if let adapter = slot.adapter, let attempt = job.attempt, refresher.flushUnsaved(slot) {
            refresher.prepare(slot, adapter: adapter, deadline: started + settings.leaseMillis / 4)
            verifyLoop: while true {
                do {
                    result = try check(post: post, attempt: attempt, adapter: adapter, backoff: backoff, meta: meta)
                    break verifyLoop
                } catch {
                    switch error.errorClass {
                    case .auth where !refreshed:
                        refreshed = true
                        switch refresher.refresh(slot, adapter: adapter, deadline: started + settings.leaseMillis / 2) {
                        case .refreshed: continue verifyLoop
                        case .failed(let reason, let p):
                            pause = p
                            result = .undecided(reason: "verification: credentials refused: \(reason)", nextAt: max(backoff, p?.until ?? 0))
                        }
                    case .rateLimited(let until):
                        pause = AccountPause(kind: .rateLimit, until: max(until, started + 1), reason: error.message)
                        result = .undecided(reason: "verification rate limited: \(error)", nextAt: max(until, started + 1))
                    default:
                        readFailure = PlatformHealth.of(error)
                        result = .undecided(reason: "verification could not decide: \(error)", nextAt: backoff)
                    }
                    break verifyLoop
                }
            }
        } else {
            let why = slot.adapter == nil ? "the account has no usable credentials" : job.attempt == nil ? "no attempt is recorded" : "rotated tokens cannot be stored yet"
            result = .undecided(reason: "cannot verify: \(why)", nextAt: backoff)
        }
        return record(job, result: result, slot: slot, pause: pause, refreshed: refreshed,
                      health: Self.health(of: result, readFailure: readFailure), meta: meta)
    }

    /// What a verification says about the platform's health, for the circuit breaker: the
    /// create whose answer was lost did not count (it is `.silent`), so it counts here, once
    /// its fate is known. Found live: the platform did its job (healthy). Verified absent: the
    /// request failed (unhealthy, as a 5xx would have). Undecided: only the verification's own
    /// read speaks, when it failed with a 5xx or on the wire (so an outage still opens the
    /// breaker: every lost create is followed by a failing read).
    static func health(of result: VerificationResult, readFailure: PlatformHealth) -> PlatformHealth {
        switch result {
        case .published: return .healthy
        case .absent: return .unhealthy
        case .refused: return .healthy
        case .undecided: return readFailure == .unhealthy ? .unhealthy : .silent
        }
    }

    /// The checks, in order; a `PlatformError` ends them (the caller decides what it means).
    func check(post: Post, attempt: Attempt, adapter: any PlatformAdapter, backoff: Int64, meta: Logger.Metadata) throws(PlatformError) -> VerificationResult {
        let key = AttemptKey(attemptId: attempt.id, startedAtMicros: attempt.startedAt * 1000)
        let media: [MediaAttachment]
        do { media = try store.attachments(postId: post.id) } catch {
            return .undecided(reason: "its attachments cannot be read: \(error)", nextAt: backoff)
        }
        let draft = PostDraft(text: post.text, replyTo: post.inReplyTo, media: media)
        // 1. By id.
        if let id = post.platformId ?? attempt.platformId, let found = try adapter.lookup(id: id) {
            return .published(platformId: found.id, evidence: "found by its platform id", cid: found.cid)
        }
        // 2. By the platform's idempotency.
        switch try adapter.findByIdempotency(key, draft: draft) {
        case .found(let remote):
            return .published(platformId: remote.id, evidence: "found under the attempt's idempotency key \(attempt.idempotencyKey)", cid: remote.cid)
        case .absent:
            // Definitive for what has landed; a request the client gave up on may still land
            // (a slow server, a queue), so absence counts only once that is past.
            let settled = attempt.startedAt + settings.settleMillis
            let now = SteadyClock.wallMillis()
            guard now >= settled else {
                return .undecided(reason: "no record under the attempt's key yet; absence counts \(settings.settleMillis / 1000) s after the attempt began",
                                  nextAt: max(now + 1_000, settled + 100))
            }
            return .absent(evidence: "no record under the attempt's key \(attempt.idempotencyKey) (definitive)")
        case .keyHeldByOtherContent(let other):
            logger.error("the attempt's key is held by \(other.id) with other content; an operator must look", metadata: meta)
            return .undecided(reason: "the attempt's key \(attempt.idempotencyKey) is held by \(other.id) with other content", nextAt: backoff)
        case .notSupported:
            break
        }
        // 3. By content on the own timeline.
        let since = attempt.startedAt - settings.timelineSlackMillis
        var cursor: PageCursor?
        var scanned = 0
        var matches: [RemotePost] = []
        var complete = false
        for _ in 0..<maxPages {
            let page = try adapter.ownPosts(since: since, cursor: cursor, limit: 100)
            scanned += page.items.count
            // Its text and, where the platform shows them, as many attachments of the same kinds.
            matches += page.items.filter { $0.matches(contentHash: post.contentHash, media: media) }
            guard let next = page.next else {
                complete = true
                break
            }
            cursor = next
        }
        var ours: [RemotePost] = []
        for m in matches {
            let taken: Bool
            do { taken = try store.platformIdTaken(m.id, account: post.account, excluding: post.id) } catch {
                return .undecided(reason: "timeline match \(m.id) could not be checked against the store: \(error)", nextAt: backoff)
            }
            if !taken { ours.append(m) }
        }
        if !ours.isEmpty {
            let pick = ours.min { abs(($0.createdAtMs ?? 0) - attempt.startedAt) < abs(($1.createdAtMs ?? 0) - attempt.startedAt) }!
            if ours.count > 1 {
                logger.error("DUPLICATE: \(ours.count) posts on the timeline match this post's content: \(ours.map(\.id).joined(separator: ", "))", metadata: meta)
            }
            return .published(platformId: pick.id, evidence: "found on the timeline by content hash (\(ours.count) match(es) in \(scanned) posts)",
                              cid: pick.cid)
        }
        let now = SteadyClock.wallMillis()
        if complete && now >= attempt.startedAt + settings.settleMillis {
            if (attempt.detail ?? "").contains("DuplicateContent") {
                // X refused the text as a duplicate and it is not ours: an earlier post has
                // it. Sending again would be refused again (and count against the quota).
                return .refused(reason: "X refuses the text as a duplicate of an earlier post (not this one's: a complete timeline scan since the attempt has none)")
            }
            return .absent(evidence: "a complete timeline scan from \(since) (\(scanned) posts) has no post with its content")
        }
        if complete {
            let settled = attempt.startedAt + settings.settleMillis + 100
            return .undecided(reason: "not on the timeline yet; absence counts only \(settings.settleMillis / 1000) s after the attempt began",
                              nextAt: min(backoff, max(now + 1_000, settled)))
        }
        return .undecided(reason: "timeline scan incomplete (\(scanned) posts in \(maxPages) pages)", nextAt: backoff)
    }

    func record(_ job: VerificationJob, result: VerificationResult, slot: AccountSlot,
                pause: AccountPause?, refreshed: Bool, health: PlatformHealth, meta: Logger.Metadata) -> JobResult {
        let now = SteadyClock.wallMillis()
        var recording = JobResult.Recording.store
        do {
            try store.recordVerification(postId: job.post.id, attemptId: job.attempt?.id, result: result, now: now)
        } catch .database(let e) {
            if case .published(let id, _, let cid) = result, let attempt = job.attempt {
                logger.error("the store cannot record the verification (\(e)); appending it to the outcome journal", metadata: meta)
                do {
                    try journal.append(OutcomeJournal.Record(postId: job.post.id, attemptId: attempt.id, outcome: .published(platformId: id, cid: cid), at: now))
                    recording = .journal
                } catch {
                    logger.critical("the outcome journal failed too (\(error)); the post stays unknown and is verified again", metadata: meta)
                    recording = .lost
                }
            } else {
                // Nothing is lost: the post stays unknown and is verified again.
                logger.error("the store cannot record the verification (\(e)); the post stays unknown", metadata: meta)
                recording = .lost
            }
        } catch {
            logger.warning("the store refused the verification: \(error)", metadata: meta)
            recording = .conflict
        }
        let event: JobResult.Event
        switch result {
        case .published(let id, let evidence, _):
            event = .verifiedPosted
            logger.info("verified: posted as \(id) (\(evidence))", metadata: meta)
        case .absent(let evidence):
            event = .verifiedAbsent
            logger.notice("verified absent (\(evidence)); sending again", metadata: meta)
        case .refused(let reason):
            event = .failed
            logger.warning("failed for good after verification: \(reason)", metadata: meta)
        case .undecided(let reason, let nextAt):
            event = .undecided
            logger.warning("still unknown, next check at \(nextAt): \(reason)", metadata: meta)
        }
        return JobResult(kind: .verification, account: slot.name, postId: job.post.id, event: event, recording: recording,
                         health: health, pause: pause, refreshed: refreshed)
    }
}
