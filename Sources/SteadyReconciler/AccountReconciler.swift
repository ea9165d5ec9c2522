import Logging
import SteadyConfig
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyBackground
import SteadyStore
import SteadySystem

/// One account's reconciliation: read its own timeline over the window (with the platform's
/// paging), match it against the store (`TimelineMatcher`), and, unless it is a dry run, apply
/// the plan — each fix one store transaction through `PostTransitions`, foreign posts and
/// duplicate findings recorded. Runs on a job thread (the adapter blocks).
struct AccountReconciler {
    let store: any ReconcileStore & PostingStore & AccountStore
    let settings: ReconcilerSettings
    let logger: Logger

    func run(reader: ReadingAccount, windowMs: Int64, dryRun: Bool, now: Int64) -> AccountReport {
        let account = reader.config
        var report = AccountReport(account: account.name, platform: account.platform.rawValue, since: now - windowMs)
        let meta: Logger.Metadata = ["ACCOUNT": "\(account.name)", "PLATFORM": "\(account.platform.rawValue)"]
        // 1. The timeline, newest first, back to the window's start.
        let read: TimelineRead
        switch readTimeline(reader, since: report.since, meta: meta) {
        case .success(let r): read = r
        case .failure(let why):
            report.error = why.message
            logger.error("reconcile: \(why.message)", metadata: meta)
            return report
        }
        report.complete = read.complete
        report.rateLimitWaitedMs = read.waitedMs
        if let limit = read.rateLimit {
            // What was read is matched and fixed as usual (a fix needs only the post found
            // live); the rest of the window waits for the follow-up pass after the reset.
            report.partial = "rate limited by \(account.platform.rawValue) until \(HTTPTime.formatISO8601(millis: limit.untilMs)) "
                + "(past rate_limit_wait, \(settings.config.rateLimitWaitMs) ms for this account and pass) after \(read.pages) page(s): \(limit.message); "
                + "this account is read again once the limit resets"
            report.resumeAt = limit.untilMs
            logger.notice("reconcile: partial: \(report.partial!)", metadata: meta)
        }
        let timeline = read.timeline
        report.scanned = timeline.count
        // 2. The plan.
        let plan: TimelineMatcher.Plan
        do {
            let candidates = try store.reconcileCandidates(account: account.name, since: report.since - settings.config.matchSlackMs, platformIds: timeline.map(\.id))
            plan = TimelineMatcher.plan(timeline: timeline, candidates: candidates, knownForeign: try store.foreignPostIds(account: account.name),
                                        slackMs: settings.config.matchSlackMs, unknownSettledBefore: now - settings.config.unknownGraceMs)
            report.threadMismatches = try threadMismatches(timeline: timeline, candidates: candidates, owners: plan.owners)
        } catch {
            report.error = "reading the store: \(error)"
            logger.error("reconcile: \(report.error!)", metadata: meta)
            return report
        }
        report.known = plan.known
        report.foreignKnown = plan.foreignKnown
        report.unknownNotFound = plan.unknownNotFound
        report.unknownDeferred = plan.unknownDeferred
        report.duplicates = plan.duplicates
        for d in plan.duplicates {
            logger.error("DUPLICATE on the platform: \(d.platformIds.count) posts with one text: \(d.platformIds.joined(separator: ", "))\(d.postId.map { " (ours: \($0))" } ?? "")", metadata: meta)
        }
        for m in report.threadMismatches {
            logger.error("\(m.logLine)", metadata: meta.merging(["POST_ID": "\(m.postId)"]) { a, _ in a })
        }
        // 3. Apply, or say what would be done.
        guard !dryRun else {
            report.fixes = plan.fixes.map { FixReport(fix: $0, applied: false, note: "dry run: would mark posted") }
            report.foreignNew = plan.foreignNew.map(\.id)
            return report
        }
        for fix in plan.fixes {
            do {
                try store.markLive(postId: fix.postId, platformId: fix.platformId, expected: fix.from, evidence: "found on the timeline by \(fix.evidence.rawValue)", now: now)
                report.fixes.append(FixReport(fix: fix, applied: true, note: nil))
                report.changes += 1
                logger.notice("reconciled: \(fix.from.rawValue) → posted as \(fix.platformId) (\(fix.adopted ? "adopted, " : "")by \(fix.evidence.rawValue))",
                              metadata: meta.merging(["POST_ID": "\(fix.postId)"]) { a, _ in a })
            } catch {
                // The posting worker moved it first (or the store failed): left for the next run.
                report.fixes.append(FixReport(fix: fix, applied: false, note: "not applied: \(error)"))
                logger.warning("reconcile: not applied: \(error)", metadata: meta.merging(["POST_ID": "\(fix.postId)"]) { a, _ in a })
            }
        }
        do {
            let foreign = plan.foreignNew.map {
                ForeignPost(account: account.name, platformId: $0.id, contentHash: $0.contentHash, text: $0.text, createdAtMs: $0.createdAtMs)
            }
            let added = try store.recordForeign(foreign, now: now)
            report.changes += added
            if added > 0 {
                logger.notice("reconcile: \(foreign.count) post(s) on the timeline are not ours (foreign): \(foreign.map(\.platformId).joined(separator: ", "))", metadata: meta)
            }
            report.foreignNew = foreign.map(\.platformId)
            try store.recordDuplicates(plan.duplicates.map {
                DuplicateFinding(account: account.name, contentHash: $0.contentHash, platformIds: $0.platformIds, postId: $0.postId)
            }, now: now)
        } catch {
            report.error = "recording foreign posts and duplicates: \(error)"
            logger.error("reconcile: \(report.error!)", metadata: meta)
        }
        return report
    }
}

extension AccountReconciler {
    /// The thread parts among the timeline's posts matched here, checked against the part
    /// before each (`ThreadCheck`); reads each such thread's parts. Changes nothing.
    func threadMismatches(timeline: [RemotePost], candidates: [ReconcileCandidate], owners: [String: String]) throws(StoreError) -> [ThreadCheck.Mismatch] {
        let posts = Dictionary(candidates.map { ($0.post.id, $0.post) }, uniquingKeysWith: { a, _ in a })
        let live = timeline.compactMap { remote in owners[remote.id].flatMap { posts[$0] }.map { (remote: remote, post: $0) } }
        var parts: [String: [Post]] = [:]
        for (_, post) in live {
            guard let threadId = post.threadId, (post.threadPosition ?? 0) > 1, parts[threadId] == nil else { continue }
            parts[threadId] = try store.threadParts(threadId: threadId)
        }
        return parts.isEmpty ? [] : ThreadCheck.mismatches(live: live, parts: parts)
    }

    /// The own timeline as far as one pass read it.
    struct TimelineRead {
        var timeline: [RemotePost] = []
        /// The listing reached the window's start within the page budget.
        var complete = false
        var pages = 0
        /// Time spent waiting out short rate limits.
        var waitedMs: Int64 = 0
        /// A rate limit too long to wait out in the pass: the read stopped there.
        var rateLimit: (untilMs: Int64, message: String)?
    }

    /// The own timeline from `since`, at most `max_pages` pages, through the shared
    /// `ReadingAccount` (tokens renewed as every process renews them). A rate limit is waited
    /// out and the same page asked again while the account's waits in this pass add up to no
    /// more than `rate_limit_wait`; past that the read ends there, partial.
    func readTimeline(_ reader: ReadingAccount, since: Int64, meta: Logger.Metadata) -> Result<TimelineRead, ReadFailure> {
        let pages = settings.config.maxPages
        let maxWait = settings.config.rateLimitWaitMs
        let logger = logger
        do throws(PlatformError) {
            return .success(try reader.withAdapter(store: store) { (adapter: any PlatformAdapter) throws(PlatformError) in
                var read = TimelineRead()
                var cursor: PageCursor?
                while read.pages < pages {
                    let page: Page<RemotePost>
                    do throws(PlatformError) {
                        page = try adapter.ownPosts(since: since, cursor: cursor, limit: 100)
                    } catch {
                        guard case .rateLimited(let until) = error.errorClass else { throw error }
                        let wait = max(0, until - SteadyClock.wallMillis()) + Self.rateLimitMarginMs
                        guard read.waitedMs + wait <= maxWait + Self.rateLimitMarginMs else {
                            read.rateLimit = (until, error.message)
                            return read
                        }
                        logger.notice("reconcile: rate limited for \(wait) ms (within rate_limit_wait): waiting it out", metadata: meta)
                        sleepMillis(wait)
                        read.waitedMs += wait
                        continue
                    }
                    read.pages += 1
                    read.timeline += page.items.filter { ($0.createdAtMs ?? since) >= since }
                    guard let next = page.next else {
                        read.complete = true
                        return read
                    }
                    cursor = next
                }
                return read
            })
        } catch {
            return .failure(ReadFailure(message: "reading the timeline: \(error)"))
        }
    }

    /// Asked again this long after the announced reset (clocks differ by a little); it also
    /// makes every wait count, so a platform that keeps answering 429 with a reset of "now"
    /// still ends the read as partial once the budget is spent.
    static let rateLimitMarginMs: Int64 = 250
}

struct ReadFailure: Error {
    var message: String
}

/// One fix as reported.
struct FixReport: Sendable {
    var fix: TimelineMatcher.Fix
    var applied: Bool
    var note: String?

    var json: JSON {
        .obj([("post_id", JSON(fix.postId)), ("platform_id", JSON(fix.platformId)), ("from", JSON(fix.from.rawValue)), ("to", JSON("posted")),
              ("by", JSON(fix.evidence.rawValue)), ("adopted", .bool(fix.adopted)), ("applied", .bool(applied)), ("note", note.map(JSON.init))])
    }
}

/// What one account's run found and did.
struct AccountReport: Sendable {
    var account: String
    var platform: String
    var since: Int64
    var scanned = 0
    /// The listing reached the window's start within the page budget.
    var complete = false
    var known = 0
    var fixes: [FixReport] = []
    var foreignNew: [String] = []
    var foreignKnown = 0
    var duplicates: [TimelineMatcher.Duplicate] = []
    var unknownNotFound: [String] = []
    var unknownDeferred: [String] = []
    /// Thread parts live on the timeline that do not answer the part before them (reported only).
    var threadMismatches: [ThreadCheck.Mismatch] = []
    var error: String?
    /// Why the read stopped before the window's start (a rate limit too long to wait out):
    /// the account is `partial`, read again after `resumeAt`.
    var partial: String?
    var resumeAt: Int64?
    var rateLimitWaitedMs: Int64 = 0

    /// `failed` (an error), `partial` (stopped by a long rate limit) or `ok`.
    var status: String { error != nil ? "failed" : partial != nil ? "partial" : "ok" }

    init(account: String, platform: String, since: Int64) {
        self.account = account
        self.platform = platform
        self.since = since
    }

    /// Store changes made: posts fixed and foreign posts newly recorded (0 in a dry run, and
    /// on a second run over the same data).
    var changes = 0

    var json: JSON {
        .obj([
            ("account", JSON(account)), ("platform", JSON(platform)), ("status", JSON(status)), ("since", JSON(Int(since))),
            ("scanned", JSON(scanned)), ("changes", JSON(changes)),
            ("complete", .bool(complete)), ("known", JSON(known)), ("fixes", .array(fixes.map(\.json))),
            ("foreign_new", .array(foreignNew.map(JSON.init))), ("foreign_known", JSON(foreignKnown)),
            ("duplicates", .array(duplicates.map { d in
                .obj([("content_hash", JSON(d.contentHash)), ("platform_ids", .array(d.platformIds.map(JSON.init))), ("post_id", d.postId.map(JSON.init))])
            })),
            ("unknown_not_found", .array(unknownNotFound.map(JSON.init))), ("unknown_deferred", .array(unknownDeferred.map(JSON.init))),
            ("thread_mismatches", .array(threadMismatches.map(\.json))), ("error", error.map(JSON.init)),
            ("partial", partial.map(JSON.init)), ("resume_at", resumeAt.map { JSON(Int($0)) }), ("rate_limit_waited_ms", JSON(Int(rateLimitWaitedMs))),
        ])
    }
}
