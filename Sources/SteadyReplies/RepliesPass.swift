import Logging
import SteadyBackground
import SteadyConfig
import SteadyCore
import SteadyPlatforms
import SteadyStore
import SteadyWorker

/// What one pass of the replies job did; the loop turns it into counters and the job's
/// success or failure.
public struct RepliesReport: Sendable {
    public var newMentions = 0
    public var ignored = 0
    public var enqueued = 0
    /// Enqueued earlier, the answer lost: found in the store and recorded (not re-sent).
    public var recovered = 0
    public var heldByQuota = 0
    public var quotaUnreadable = 0
    public var refused = 0
    public var generatorErrors: [GeneratorError.Kind: Int] = [:]
    public var enqueueErrors = 0
    /// Problems that make the pass a failure (reads, store, generator, enqueue), first first.
    public var errors: [String] = []
}

/// One pass of the replies job, on the worker's background thread: per account, read new
/// mentions (each platform's paging, newest first, until a page holds only mentions seen
/// before), record each once with its decision, then answer the mentions whose time has come.
/// Answering a mention: (1) a reply post already in the store for it is recorded instead of
/// making another (the enqueue is idempotent per mention); (2) a place in the account's hourly
/// quota is reserved — if the store cannot say, nothing is enqueued (fails closed, F18);
/// (3) the text is generated (or the one kept from an earlier try reused); (4) the reply goes to
/// the posting worker (`posting.create`): this worker never posts. Any failure leaves the
/// mention to answer later with backoff, classified and counted (F17).
struct RepliesPass: @unchecked Sendable {
    let store: any MentionsStore & AccountStore
    let accounts: [ReadingAccount]
    let generator: any ReplyGenerator
    let rules: ReplyRules
    let settings: RepliesConfig
    let outbox: WorkerOutbox
    let logger: Logger
    /// How long `posting.create` may take.
    static let enqueueTimeoutMs: Int64 = 10_000

    var backoff: Backoff { Backoff(baseMillis: settings.retryBaseDelayMs, maxMillis: settings.retryMaxDelayMs) }

    func run(now: Int64) -> RepliesReport {
        var report = RepliesReport()
        var identities: [String: ReplyRules.Me] = [:]
        for account in accounts {
            do {
                let id = try account.identity(store: store)
                let me = ReplyRules.Me(platform: account.platform, userId: id.userId, handle: id.handle)
                identities[account.name] = me
                try read(account, me: me, now: now, into: &report)
            } catch {
                report.errors.append("\(account.name): reading mentions: \(error)")
                logger.error("cannot read mentions: \(error)", metadata: ["ACCOUNT": "\(account.name)"])
            }
        }
        let due: [StoredMention]
        do { due = try store.mentionsToAnswer(now: now, limit: 50) } catch {
            report.errors.append("store: cannot read the mentions to answer: \(error)")
            return report
        }
        var quotaClosed: Set<String> = []
        for mention in due {
            guard let account = accounts.first(where: { $0.name == mention.account }), !quotaClosed.contains(account.name) else { continue }
            if !answer(mention, account: account, me: identities[account.name], now: now, into: &report) {
                quotaClosed.insert(account.name)
            }
        }
        // Mentions waiting after failed tries keep the pass failed even when none was due
        // now: replies that are not going out must not look healthy between retries (F17).
        if report.errors.isEmpty, let waiting = try? store.mentionCounts()["retrying"], waiting > 0 {
            report.errors.append("\(waiting) mention(s) wait to be answered after failed tries")
        }
        return report
    }

    func read(_ account: ReadingAccount, me: ReplyRules.Me, now: Int64, into report: inout RepliesReport) throws {
        var cursor: PageCursor?
        for _ in 0..<settings.maxPages {
            let page = try account.withAdapter(store: store) { (a: any PlatformAdapter) throws(PlatformError) in
                try a.mentions(cursor: cursor, limit: 50)
            }
            let seen = try store.seenMentionIds(account: account.name, among: page.items.map(\.id))
            for m in page.items where !seen.contains(m.id) {
                let decision = rules.decide(m, me: me, now: now)
                var reason: String?
                if case .ignore(let why) = decision { reason = why }
                let stored = StoredMention(account: account.name, mentionId: m.id, postId: m.postId, authorId: m.authorId,
                                           authorHandle: m.authorHandle, text: m.text, createdAt: m.createdAtMs, seenAt: now,
                                           decision: reason == nil ? .answer : .ignored, reason: reason)
                guard try store.insertMention(stored) else { continue }
                report.newMentions += 1
                let meta: Logger.Metadata = ["ACCOUNT": "\(account.name)", "MENTION_ID": "\(m.id)"]
                if let reason {
                    report.ignored += 1
                    logger.info("mention not answered: \(reason)", metadata: meta)
                } else {
                    logger.info("mention to answer from @\(m.authorHandle ?? "?")", metadata: meta)
                }
            }
            guard let next = page.next, !page.items.isEmpty, seen.count < page.items.count else { break }
            cursor = next
        }
    }

    /// Answers one mention; false when the account's quota could not be read (nothing more is
    /// enqueued for it in this pass).
    func answer(_ m: StoredMention, account: ReadingAccount, me: ReplyRules.Me?, now: Int64, into report: inout RepliesReport) -> Bool {
        let meta: Logger.Metadata = ["ACCOUNT": "\(m.account)", "MENTION_ID": "\(m.mentionId)"]
        func retry(_ errorClass: String, _ error: String, at: Int64, countsAsTry: Bool) {
            do {
                try store.markReplyRetry(account: m.account, mentionId: m.mentionId, error: error, errorClass: errorClass,
                                         retryAt: at, countsAsTry: countsAsTry, now: now)
            } catch {
                logger.error("cannot record the retry (the mention is tried at the next pass): \(error)", metadata: meta)
            }
        }
        // (1) Made before, its answer lost: record it, never enqueue a second reply.
        do {
            if let existing = try store.replyPost(account: m.account, inReplyTo: m.postId) {
                try store.markReplyEnqueued(account: m.account, mentionId: m.mentionId, postId: existing, now: now)
                report.recovered += 1
                logger.notice("reply already enqueued as \(existing) (an earlier answer was lost); recorded", metadata: meta)
                return true
            }
        } catch {
            report.errors.append("store: cannot look for an earlier reply: \(error)")
            return true
        }
        // (2) The quota, failing closed.
        do {
            switch try store.reserveReply(account: m.account, mentionId: m.mentionId, limit: settings.hourlyQuota,
                                          windowMillis: 3_600_000, now: now) {
            case .reserved: break
            case .full(let until):
                report.heldByQuota += 1
                retry("quota", "hourly reply quota (\(settings.hourlyQuota)) used up", at: until, countsAsTry: false)
                return true
            }
        } catch {
            report.quotaUnreadable += 1
            report.errors.append("\(m.account): the reply quota cannot be read, nothing is enqueued (fails closed): \(error)")
            logger.error("reply quota unreadable: no reply enqueued for this account (quotas fail closed): \(error)", metadata: meta)
            retry("quota-unreadable", "the reply quota cannot be read: \(error)", at: now + settings.retryBaseDelayMs, countsAsTry: false)
            return false
        }
        // (3) The text.
        let text: String
        if let kept = m.replyText {
            text = kept
        } else {
            let context = ReplyContext(account: m.account, platform: account.platform, handle: me?.handle,
                                       authorHandle: m.authorHandle, text: m.text)
            do {
                text = try generator.reply(to: context)
            } catch {
                report.generatorErrors[error.kind, default: 0] += 1
                report.errors.append("\(m.account): \(error)")
                logger.error("reply generation failed (\(error.kind.rawValue)); tried again later: \(error.message)", metadata: meta)
                retry("generator-\(error.kind.rawValue)", error.description, at: now + backoff.delay(afterTries: m.tries + 1), countsAsTry: true)
                return true
            }
            do { try store.setReplyText(account: m.account, mentionId: m.mentionId, text: text, now: now) } catch {
                logger.warning("cannot keep the reply text (a retry generates it again): \(error)", metadata: meta)
            }
        }
        // (4) Through the posting worker.
        let body = JSON.obj([("account", JSON(m.account)), ("text", JSON(text)), ("reply_to", JSON(m.postId))])
        switch outbox.call("posting.create", body: body.bytes, timeoutMs: Self.enqueueTimeoutMs) {
        case .ok(let answer):
            guard let postId = (try? JSON.parse(answer))?["id"]?.string else {
                report.enqueueErrors += 1
                report.errors.append("\(m.account): posting.create answered without an id")
                retry("enqueue", "posting.create answered without an id", at: now + backoff.delay(afterTries: m.tries + 1), countsAsTry: true)
                return true
            }
            do {
                try store.markReplyEnqueued(account: m.account, mentionId: m.mentionId, postId: postId, now: now)
            } catch {
                // The next pass finds the post by its target (step 1): still answered once.
                logger.error("reply enqueued as \(postId) but not recorded yet: \(error)", metadata: meta)
            }
            report.enqueued += 1
            logger.info("reply enqueued as post \(postId)", metadata: meta.merging(["POST_ID": "\(postId)"]) { a, _ in a })
        case .error(let code, let message) where code == "invalid":
            report.refused += 1
            logger.error("the posting worker refuses the reply for good: \(message)", metadata: meta)
            do { try store.markReplyFailed(account: m.account, mentionId: m.mentionId, reason: "posting refused the reply: \(message)", errorClass: "invalid", now: now) } catch {
                logger.error("cannot record the refusal: \(error)", metadata: meta)
            }
        case .error(let code, let message):
            report.enqueueErrors += 1
            report.errors.append("\(m.account): posting.create: \(code): \(message)")
            logger.error("cannot enqueue the reply (\(code)); tried again later: \(message)", metadata: meta)
            // After a timeout the posting worker may still take the request: the retry waits
            // long enough for step (1) to see the post if it did.
            let delay = max(backoff.delay(afterTries: m.tries + 1), code == "timeout" ? 3 * Self.enqueueTimeoutMs : 0)
            retry("enqueue-\(code)", "\(code): \(message)", at: now + delay, countsAsTry: true)
        }
        return true
    }
}
