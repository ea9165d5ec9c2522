import Logging
import SteadyBackground
import SteadyConfig
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyStore
import SteadyWorker

/// The metrics worker (DESIGN.md section 2). One periodic job, `scrape`: each run puts newly
/// posted items on their schedule (`ScrapeSchedule`), takes the items now due, and hands them
/// to a `ScrapePass` on the background thread. Single-flight per item (F19): an item is held
/// from the moment a pass takes it until its report comes back, and any trigger for a held
/// item — the schedule's or an operator's `metrics.scrape` — joins that scrape instead of
/// starting another.
public final class MetricsEngine: PeriodicRole<ScrapeReport> {
    let config: Config
    public let settings: MetricsConfig
    let schedule: ScrapeSchedule
    let store: any MetricsStore & AccountStore
    let accounts: [String: ReadingAccount]
    /// Items a pass holds (loop only).
    var held: Set<String> = []
    var totals = Totals()

    struct Totals {
        var passes: Int64 = 0
        var sampled: Int64 = 0
        var sampledByBrowser: Int64 = 0
        var retries: Int64 = 0
        var failedForGood: Int64 = 0
        var coalesced: Int64 = 0
        var triggered: Int64 = 0
    }

    public init(config: Config, logger: Logger) throws {
        self.config = config
        settings = config.metrics
        schedule = ScrapeSchedule(offsetsMs: settings.scheduleMs, maxTries: settings.maxTries,
                                  backoff: Backoff(baseMillis: settings.retryBaseDelayMs, maxMillis: settings.retryMaxDelayMs))
        store = try SharedStore.open(config)
        let http = HTTPClientOptions(connectTimeoutMillis: 5_000, totalTimeoutMillis: 20_000)
        accounts = Dictionary(uniqueKeysWithValues: config.accounts.map { ($0.name, ReadingAccount(config: $0, daemon: config, httpOptions: http, logger: logger)) })
        try super.init(job: PeriodicJob(name: "scrape", intervalMs: settings.scanIntervalMs, createdAt: SteadyClock.wallMillis()), logger: logger)
    }

    public override var description: String {
        let steps = settings.scheduleMs.map { DurationText.format(millis: $0) }.joined(separator: ", ")
        return "scraping metrics for \(accounts.count) account(s) at \(steps) after posting; \(settings.maxTries) tries per step; browser fallback \(settings.browserFallback ? "on" : "off")"
    }

    public override var figures: [String: Int64] {
        var out: [String: Int64] = [
            "passes": totals.passes, "samples": totals.sampled, "samples_by_browser": totals.sampledByBrowser,
            "scrape_retries": totals.retries, "scrape_failed_for_good": totals.failedForGood, "triggers": totals.triggered,
            "triggers_coalesced": totals.coalesced, "items_in_flight": Int64(held.count),
        ]
        if let counts = try? store.metricItemCounts() {
            for state in MetricItem.State.allCases { out["items_\(state.rawValue)"] = Int64(counts[state.rawValue] ?? 0) }
            out["items_retrying"] = Int64(counts["retrying"] ?? 0)
        }
        return out
    }

    public override func beginRun(now: Int64, outbox: WorkerOutbox) {
        let due: [MetricItem]
        do {
            try enroll(now: now)
            due = try store.dueMetricItems(now: now, limit: 200).filter { !held.contains($0.postId) }
        } catch {
            return endRun(errors: ["store: \(error)"])
        }
        guard !due.isEmpty else {
            // Items waiting after failed tries keep the job failed between their retries.
            let retrying = (try? store.metricItemCounts()["retrying"]) ?? 0
            return endRun(errors: retrying > 0 ? ["\(retrying) item(s) wait to be scraped again after failed tries"] : [])
        }
        launch(due, triggered: false)
    }

    /// Puts posted items without a schedule on theirs.
    func enroll(now: Int64) throws(StoreError) {
        for item in try store.unscheduledPostedItems(limit: 500) {
            guard case .step(let step, let at) = schedule.first(postedAt: item.postedAt, now: now) else { continue }
            if try store.scheduleMetrics(item, step: step, nextAt: at, now: now) {
                logger.info("on the metrics schedule: step \(step) at \(at)", metadata: ["POST_ID": "\(item.postId)", "ACCOUNT": "\(item.account)"])
            }
        }
    }

    func launch(_ items: [MetricItem], triggered: Bool) {
        guard let outbox else { return }
        held.formUnion(items.map(\.postId))
        let pass = ScrapePass(store: store, accounts: accounts, schedule: schedule, browserFallback: settings.browserFallback,
                              outbox: outbox, logger: logger)
        queue.submit { pass.run(items, triggered: triggered) }
    }

    public override func finished(_ r: ScrapeReport) {
        held.subtract(r.postIds)
        totals.passes += 1
        totals.sampled += Int64(r.sampled)
        totals.sampledByBrowser += Int64(r.sampledByBrowser)
        totals.retries += Int64(r.retries)
        totals.failedForGood += Int64(r.failedForGood)
        if !r.triggered { endRun(errors: r.errors) }
    }

    // MARK: - Routed methods

    /// `metrics.scrape {"post_id"}`: sample the item's current step now, unless a scrape of
    /// it is already under way (then it joins that one: `coalesced`). `metrics.show
    /// {"post_id"}`: its schedule and samples. `metrics.failed`: items that ended failed, with
    /// their reasons. `metrics.run`: a scheduled run now.
    public override func handle(method: String, body: [UInt8]) -> WorkerReply? {
        let json = (try? JSON.parse(body)) ?? .null
        switch method {
        case "scrape": return trigger(json["post_id"]?.string)
        case "show": return show(json["post_id"]?.string)
        case "failed":
            do {
                let items = try store.failedMetricItems(limit: min(max(json["limit"]?.int ?? 100, 1), 1000)).map(Self.json)
                return .ok(JSON.obj([("items", .array(items))]).bytes)
            } catch {
                return .error(code: "store", message: "\(error)")
            }
        case "run":
            job.trigger(now: SteadyClock.wallMillis())
            return .ok(JSON.obj([("run", JSON(job.running ? "after the running pass" : "now"))]).bytes)
        default:
            return nil
        }
    }

    func trigger(_ postId: String?) -> WorkerReply {
        guard let postId, !postId.isEmpty else { return .error(code: "invalid", message: "expected {\"post_id\": \"POST_ID\"}") }
        guard !draining, outbox != nil else { return .error(code: "unavailable", message: "the metrics worker is draining") }
        totals.triggered += 1
        if held.contains(postId) {
            totals.coalesced += 1
            return .ok(JSON.obj([("post_id", JSON(postId)), ("scrape", JSON("coalesced"))]).bytes)
        }
        let item: MetricItem?
        do {
            try enroll(now: SteadyClock.wallMillis())
            item = try store.metricItem(postId: postId)
        } catch {
            return .error(code: "store", message: "\(error)")
        }
        guard let item else { return .error(code: "not-found", message: "post \(postId) is not a posted item on the metrics schedule") }
        guard item.state == .active else {
            return .error(code: "conflict", message: "post \(postId)'s schedule is over (\(item.state.rawValue)\(item.lastError.map { ": \($0)" } ?? ""))")
        }
        launch([item], triggered: true)
        return .ok(JSON.obj([("post_id", JSON(postId)), ("scrape", JSON("started"))]).bytes)
    }

    func show(_ postId: String?) -> WorkerReply {
        guard let postId, !postId.isEmpty else { return .error(code: "invalid", message: "expected {\"post_id\": \"POST_ID\"}") }
        do {
            guard let item = try store.metricItem(postId: postId) else { return .error(code: "not-found", message: "post \(postId) has no metrics schedule") }
            let samples = try store.metricSamples(postId: postId).map { s in
                JSON.obj([("step", JSON(s.step)), ("taken_at", JSON(Int(s.takenAt))), ("source", JSON(s.source)), ("likes", JSON(s.likes)),
                          ("reposts", JSON(s.reposts)), ("replies", JSON(s.replies)), ("quotes", JSON(s.quotes)),
                          ("impressions", s.impressions.map(JSON.init) ?? .null)])
            }
            var out = Self.json(item)
            if case .object(var members) = out { members.append(("samples", .array(samples))); out = .object(members) }
            return .ok(out.bytes)
        } catch {
            return .error(code: "store", message: "\(error)")
        }
    }

    static func json(_ item: MetricItem) -> JSON {
        JSON.obj([
            ("post_id", JSON(item.postId)), ("account", JSON(item.account)), ("platform_id", JSON(item.platformId)),
            ("posted_at", JSON(Int(item.postedAt))), ("state", JSON(item.state.rawValue)), ("step", JSON(item.step)),
            ("next_at", item.nextAt.map { JSON(Int($0)) } ?? .null), ("tries", JSON(item.tries)), ("failures", JSON(item.failures)),
            ("last_error", item.lastError.map(JSON.init) ?? .null),
        ])
    }
}
