import Logging
import SteadyCore
import SteadyPlatforms
import SteadyStore

/// The media step of an attempt (`MediaUploadStep`), before the attempt begins: its
/// handles, or how the claimed post was given back (or failed) when it could not finish.
extension AttemptRunner {
    enum MediaReady {
        case ready([String])
        case stopped(JobResult)
    }

    func uploadMedia(_ post: Post, _ attachments: [MediaAttachment], slot: AccountSlot, adapter: any PlatformAdapter,
                     meta: Logger.Metadata) -> MediaReady {
        let step = MediaUploadStep(store: store, media: media, settings: settings, owner: owner, logger: logger) { crashPoint($0, post) }
        var refreshed = false
        var authPause: AccountPause?
        while true {
            do {
                return .ready(try step.run(post, attachments: attachments, adapter: adapter, meta: meta))
            } catch {
                // Credentials refused: nothing was published; refresh once, then the uploads
                // once more (what is stored is reused).
                if error.errorClass == .auth, !refreshed {
                    refreshed = true
                    switch refresher.refresh(slot, adapter: adapter, deadline: SteadyClock.wallMillis() + settings.leaseMillis / 2) {
                    case .refreshed: continue
                    case .failed(_, let pause): authPause = pause
                    }
                }
                var stopped = uploadStopped(post, error, slot: slot, refreshed: refreshed, meta: meta)
                if stopped.pause == nil { stopped.pause = authPause }
                return .stopped(stopped)
            }
        }
    }

    /// The platform no longer knows the handles the create named: the next try uploads again.
    func forgetUploads(_ post: Post, count: Int, meta: Logger.Metadata) {
        logger.notice("the platform no longer knows this post's uploads; they are uploaded again", metadata: meta)
        for position in 0..<count {
            do { try store.dropMediaUpload(postId: post.id, position: position) } catch {
                logger.error("cannot forget upload \(position + 1) (the next create names it again and is refused again): \(error)", metadata: meta)
            }
        }
    }

    /// An upload that did not finish. Nothing was published either way: a permanent refusal
    /// (processing failed, media missing) fails the post through an attempt that sends no
    /// create, so its reason is on record; anything else gives the claim back, due again
    /// after a backoff (or the rate limit's reset, pausing the account).
    func uploadStopped(_ post: Post, _ error: PlatformError, slot: AccountSlot, refreshed: Bool, meta: Logger.Metadata) -> JobResult {
        let now = SteadyClock.wallMillis()
        let health = PlatformHealth.of(error)
        func result(_ event: JobResult.Event, _ recording: JobResult.Recording, pause: AccountPause? = nil) -> JobResult {
            JobResult(kind: .attempt, account: slot.name, postId: post.id, event: event, recording: recording, health: health,
                      pause: pause, refreshed: refreshed)
        }
        if case .permanent(let reason) = error.errorClass {
            logger.warning("media upload refused for good; the post fails, nothing was published: \(error)", metadata: meta)
            let attemptId = StoreIds.newAttemptId()
            let key = AttemptKey(attemptId: attemptId, startedAtMicros: now * 1000)
            do {
                let attempt = try store.beginAttempt(postId: post.id, owner: owner, idempotencyKey: slot.definition.idempotencyKey(for: key),
                                                     adapter: slot.platform.rawValue, now: now, leaseMillis: settings.leaseMillis,
                                                     attemptId: attemptId)
                let recording = record(post: post, attempt: attempt, outcome: .permanent(reason: "media upload: \(reason)"), meta: meta)
                return result(.failed, recording)
            } catch {
                logger.error("cannot record the failure (the claim's lease will end it; the upload fails again): \(error)", metadata: meta)
                return result(.notStarted, .none)
            }
        }
        var pause: AccountPause?
        let retryAt: Int64
        if case .rateLimited(let until) = error.errorClass {
            pause = AccountPause(kind: .rateLimit, until: max(until, now + 1), reason: error.message)
            retryAt = max(until, now + 1)
        } else {
            retryAt = now + slot.definition.noEffectRetry.delay(failures: post.attempts + 1, jitter: Double.random(in: 0..<1))
        }
        // A refused refresh pauses the account (the caller adds it): the post waits for it.
        logger.notice("media upload did not finish (nothing was published); due again at \(retryAt): \(error)", metadata: meta)
        do {
            try store.release(postId: post.id, owner: owner, now: now, reason: "media upload: \(error.message)", retryAt: retryAt)
        } catch {
            logger.error("cannot give the claim back (its lease will): \(error)", metadata: meta)
        }
        return result(.retry, .store, pause: pause)
    }
}
