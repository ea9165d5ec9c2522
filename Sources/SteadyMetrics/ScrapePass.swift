import Logging
import SteadyBackground
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyStore
import SteadyWorker

/// What one scrape pass did, for the loop's counters and the job's health.
public struct ScrapeReport: Sendable {
    /// The items the pass held (single-flight: the loop frees them when the report arrives).
    public var postIds: [String] = []
    /// From an operator's `metrics.scrape`, not the schedule.
    public var triggered = false
    public var sampled = 0
    public var sampledByBrowser = 0
    public var retries = 0
    /// Items that used their last try and are now `failed` with the reason.
    public var failedForGood = 0
    public var errors: [String] = []
}

/// One scrape pass, on the metrics worker's background thread: the items' figures from the
/// platform API, one call per account (adapters batch what their platform allows); for an item
/// the API gives no figures for, the browser pool's `scrape` lease on the post's public page
/// (`browser.scrape` through the outbox). Every item ends the pass sampled (moved on its
/// schedule), retried later with backoff, or — after its last try — `failed` with the reason.
/// Nothing is skipped silently (F14).
struct ScrapePass: @unchecked Sendable {
    let store: any MetricsStore & AccountStore
    let accounts: [String: ReadingAccount]
    let schedule: ScrapeSchedule
    let browserFallback: Bool
    let outbox: WorkerOutbox
    let logger: Logger
    static let browserTimeoutMs: Int64 = 30_000

    func run(_ items: [MetricItem], triggered: Bool) -> ScrapeReport {
        var report = ScrapeReport(postIds: items.map(\.postId), triggered: triggered)
        let byAccount = Dictionary(grouping: items, by: \.account)
        for (name, group) in byAccount.sorted(by: { $0.key < $1.key }) {
            guard let account = accounts[name] else {
                for item in group { fail(item, "account \(name) is not in the config", into: &report) }
                continue
            }
            // A platform whose figures are not read yet gets no browser fallback either: the
            // fallback reads only the simulator's page layout, not that platform's pages.
            let rules = PlatformRegistry.rules(for: account.platform)
            guard rules.readsMetrics else {
                for item in group { fail(item, "\(rules.displayName) metrics are not read yet (no API figures, no page extraction)", into: &report) }
                continue
            }
            let figures: [String: PostMetrics]
            do {
                figures = try account.withAdapter(store: store) { (a: any PlatformAdapter) throws(PlatformError) in
                    try a.metrics(ids: group.map(\.platformId))
                }
            } catch {
                for item in group { fail(item, "\(error)", into: &report) }
                continue
            }
            for item in group {
                if let m = figures[item.platformId] {
                    record(item, m, source: "api", into: &report)
                } else if browserFallback {
                    switch browserFigures(item, baseURL: account.config.baseURL) {
                    case .success(let m): record(item, m, source: "browser", into: &report)
                    case .failure(let why): fail(item, "the API gave no figures; browser: \(why.message)", into: &report)
                    }
                } else {
                    fail(item, "the API gave no figures (the post may be deleted); browser_fallback is off", into: &report)
                }
            }
        }
        return report
    }

    func record(_ item: MetricItem, _ m: PostMetrics, source: String, into report: inout ScrapeReport) {
        let now = SteadyClock.wallMillis()
        let sample = MetricSample(postId: item.postId, step: item.step, takenAt: now, source: source, likes: m.likes, reposts: m.reposts,
                                  replies: m.replies, quotes: m.quotes, bookmarks: m.bookmarks, impressions: m.impressions)
        let next = schedule.next(after: item.step, postedAt: item.postedAt, now: now)
        do {
            switch next {
            case .step(let step, let at): try store.recordSample(sample, nextStep: step, nextAt: at, now: now)
            case .done: try store.recordSample(sample, nextStep: nil, nextAt: nil, now: now)
            }
        } catch {
            report.errors.append("store: cannot record a sample: \(error)")
            logger.error("cannot record the sample (the step is scraped again): \(error)", metadata: ["POST_ID": "\(item.postId)"])
            return
        }
        report.sampled += 1
        if source == "browser" { report.sampledByBrowser += 1 }
        logger.info("metrics step \(item.step) via \(source): \(m.likes) likes, \(m.reposts) reposts, \(m.replies) replies",
                    metadata: ["POST_ID": "\(item.postId)", "ACCOUNT": "\(item.account)"])
    }

    func fail(_ item: MetricItem, _ reason: String, into report: inout ScrapeReport) {
        let now = SteadyClock.wallMillis()
        let tries = item.tries + 1
        let retryAt = schedule.retryAt(afterTries: tries, now: now)
        let meta: Logger.Metadata = ["POST_ID": "\(item.postId)", "ACCOUNT": "\(item.account)"]
        report.errors.append("\(item.postId): \(reason)")
        do {
            try store.recordScrapeFailure(postId: item.postId, error: reason, retryAt: retryAt, now: now)
        } catch {
            report.errors.append("store: cannot record a scrape failure: \(error)")
            logger.error("cannot record the scrape failure (the step is tried again): \(error)", metadata: meta)
            return
        }
        if retryAt == nil {
            report.failedForGood += 1
            logger.error("metrics failed for good after \(tries) tries of step \(item.step): \(reason)", metadata: meta)
        } else {
            report.retries += 1
            logger.warning("metrics try \(tries) of \(schedule.maxTries) failed; retried at \(retryAt!): \(reason)", metadata: meta)
        }
    }

    struct BrowserFailure: Error { var message: String }

    /// The public page's figures through the browser pool (the simulator's page layout:
    /// `[data-metric="likes"]` and so on, SIMULATOR.md).
    func browserFigures(_ item: MetricItem, baseURL: String) -> Result<PostMetrics, BrowserFailure> {
        let names = ["likes", "reposts", "replies", "quotes", "impressions"]
        let extract = JSON.obj(names.map { name in
            (name, JSON("(e => e ? Number(e.textContent.trim()) : null)(document.querySelector('[data-metric=\"\(name)\"]'))"))
        })
        let body = JSON.obj([
            ("url", JSON(baseURL + "/web/posts/" + URLEncoding.percentEncode(item.platformId))),
            ("extract", extract), ("deadline_ms", JSON(Int(Self.browserTimeoutMs - 5_000))),
        ])
        switch outbox.call("browser.scrape", body: body.bytes, timeoutMs: Self.browserTimeoutMs) {
        case .error(let code, let message):
            return .failure(BrowserFailure(message: "\(code): \(message)"))
        case .ok(let bytes):
            guard let values = (try? JSON.parse(bytes))?["values"], values.isObject else {
                return .failure(BrowserFailure(message: "the lease answered without values"))
            }
            guard let likes = values["likes"]?.int, let reposts = values["reposts"]?.int else {
                return .failure(BrowserFailure(message: "the page shows no figures"))
            }
            return .success(PostMetrics(likes: likes, reposts: reposts, replies: values["replies"]?.int ?? 0,
                                        quotes: values["quotes"]?.int ?? 0, impressions: values["impressions"]?.int))
        }
    }
}
