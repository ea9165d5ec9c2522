import SteadyWorker
import Logging
import SteadyConfig
import SteadyCore
import SteadyHTTP
import SteadyMedia
import SteadyPlatforms
import SteadyStore
import Synchronization

/// What the HTTP handlers and the routed methods share: the config, the store (reads, and
/// the tokens), the path to the other roles, and the request counters. Safe from any thread.
public final class APIService: Sendable {
    public let config: Config
    public let store: any PostStore & FiguresStore & AccountStore & APITokenStore
    let logger: Logger
    private let linkBox = Mutex<(any SupervisorLink)?>(nil)
    private let tallies = Mutex<[String: Int64]>([:])

    /// How long a routed request may take before the API answers 503.
    static let routedTimeoutMs: Int64 = 10_000

    /// Where `POST /api/media` writes (`STATE_DIR/media`, shared with the posting worker); nil: 503.
    public let media: MediaStore?

    /// Checks the signed links `/media/...` serves (`MediaLinks`); nil: every link is a 404.
    public let mediaLinks: MediaLinks?

    public init(config: Config, store: any PostStore & FiguresStore & AccountStore & APITokenStore, media: MediaStore? = nil,
                mediaLinks: MediaLinks? = nil, logger: Logger) {
        self.config = config
        self.store = store
        self.media = media
        self.mediaLinks = mediaLinks
        self.logger = logger
    }

    /// Set once the worker runtime hands over its outbox.
    public var link: (any SupervisorLink)? {
        get { linkBox.withLock { $0 } }
        set { linkBox.withLock { $0 = newValue } }
    }

    /// A routed request; `unavailable` before the link exists.
    func call(_ method: String, _ body: [UInt8]) async -> WorkerCallResult {
        guard let link else { return .error(code: "unavailable", message: "the api worker is still starting") }
        return await link.request(method, body: body, timeoutMs: Self.routedTimeoutMs)
    }

    /// The supervisor's view (`supervisor.status`), parsed; nil with the reason when it
    /// cannot be had.
    func supervisorStatus() async -> (JSON?, String?) {
        switch await call("supervisor.status", Array("{}".utf8)) {
        case .ok(let body):
            guard let j = try? JSON.parse(body), j.isObject else { return (nil, "supervisor.status answered something that is not a JSON object") }
            return (j, nil)
        case .error(let code, let message):
            return (nil, "supervisor.status: \(code): \(message)")
        }
    }

    // MARK: - Counters

    func count(_ name: String, by n: Int64 = 1) {
        tallies.withLock { $0[name, default: 0] += n }
    }

    /// The request tallies sent in heartbeats (`http_requests`, `http_4xx`, ...).
    public var counters: [String: Int64] { tallies.withLock { $0 } }

    // MARK: - Health

    /// Every figure, from the store and from the supervisor's status (nil: unreachable).
    public func healthFigures(status: JSON?, statusError: String?, now: Int64) -> HealthFigures {
        var f = HealthFigures()
        let since = now - config.health.windowMs
        func read<T>(_ what: String, _ body: () throws(StoreError) -> T) -> T? {
            do { return try body() } catch {
                f.notes.append("\(what): \(error)")
                return nil
            }
        }
        if let settled = read("settled posts", { () throws(StoreError) in try store.settledCounts(since: since) }) {
            let posted = settled[.posted] ?? 0
            let bad = (settled[.failed] ?? 0) + (settled[.parked] ?? 0)
            f.successRate = posted + bad > 0 ? Double(posted) / Double(posted + bad) : nil
            if posted + bad == 0 { f.notes.append("success_rate: no post settled in the window") }
            if let reconciler = Self.worker("reconciler", in: status)?["counters"], let dupes = reconciler["duplicate_posts"]?.int {
                f.duplicateRate = posted > 0 ? Double(dupes) / Double(posted) : (dupes > 0 ? 1 : 0)
            }
        }
        f.avgPostTimeMs = read("post time", { () throws(StoreError) in try store.averageDueToPosted(since: since) }) ?? nil
        f.stuckPosts = read("stuck posts", { () throws(StoreError) in try store.stuckPosts(now: now, after: config.health.stuckAfterMs) })
        if let tally = read("verification", { () throws(StoreError) in
            try store.verificationTally(since: since, overdueBefore: now - config.health.stuckAfterMs)
        }) {
            let total = tally.verified + tally.overdue
            f.verificationRate = total > 0 ? Double(tally.verified) / Double(total) : nil
            if total == 0 { f.notes.append("verification_rate: no unknown outcome to verify in the window") }
        }
        if let counts = read("posts by state", { () throws(StoreError) in try store.counts() }) {
            f.unknownPosts = counts[.unknown] ?? 0
        }
        if let states = read("account state", { () throws(StoreError) in try store.accountStates() }) {
            let configured = Set(config.accounts.map(\.name))
            let current = states.values.filter { configured.contains($0.account) }
            f.openBreakers = current.filter { StoredBreaker.parse($0.breaker).state != .closed }.count
            f.pausedAccounts = current.filter { ($0.pausedUntil ?? 0) > now }.count
        }
        if let reconciler = Self.worker("reconciler", in: status)?["counters"] {
            f.orphanedPosts = reconciler["orphaned_posts"]?.int
        }
        if f.orphanedPosts == nil { f.notes.append("orphaned_posts, duplicate_rate: the reconciler is not reporting them") }
        if let status {
            let workers = status["workers"]?.array ?? []
            let parked = workers.filter { $0["state"]?.string == "failed" }.compactMap { $0["role"]?.string }
            f.parkedWorkers = parked.count
            f.parkedWorkerNames = parked
            let names = Self.lateJobNames(status)
            f.lateJobs = status["late_jobs"]?.int ?? names.count
            f.lateJobNames = names
        } else {
            f.notes.append("late_jobs, parked_workers: \(statusError ?? "the supervisor did not answer")")
        }
        return f
    }

    /// The report for `/health` and `api.health`.
    public func healthReport(status: JSON?, statusError: String?, now: Int64 = SteadyClock.wallMillis()) -> HealthReport {
        HealthReport(figures: healthFigures(status: status, statusError: statusError, now: now), config: config.health, now: now)
    }

    static func worker(_ role: String, in status: JSON?) -> JSON? {
        status?["workers"]?.array?.first { $0["role"]?.string == role }
    }

    /// `late_job_names` when the supervisor gives them, else every worker's
    /// `job.NAME.late` heartbeat counter that is 1, as `ROLE/NAME`.
    static func lateJobNames(_ status: JSON) -> [String] {
        if let names = status["late_job_names"]?.array { return names.compactMap(\.string) }
        var out: [String] = []
        for w in status["workers"]?.array ?? [] {
            guard let role = w["role"]?.string, case .object(let counters)? = w["counters"] else { continue }
            for (key, value) in counters where key.hasPrefix("job.") && key.hasSuffix(".late") && value.int == 1 {
                out.append("\(role)/\(key.dropFirst(4).dropLast(5))")
            }
        }
        return out.sorted()
    }

    // MARK: - Quotas

    /// Per account: the hourly and daily quota, attempts started in the last hour and day
    /// (what the posting worker counts), what is left, and a pause if any.
    public func quotas(now: Int64) throws(StoreError) -> JSON {
        let states = try store.accountStates()
        var items: [JSON] = []
        for account in config.accounts {
            let hour = try store.attemptsStarted(account: account.name, since: now - 3_600_000 + 1)
            let day = try store.attemptsStarted(account: account.name, since: now - 86_400_000 + 1)
            let paused = states[account.name].flatMap { ($0.pausedUntil ?? 0) > now ? $0 : nil }
            func window(_ limit: Int, _ used: Int) -> JSON {
                .obj([("limit", JSON(limit)), ("used", JSON(used)), ("left", JSON(max(0, limit - used)))])
            }
            items.append(.obj([
                ("account", JSON(account.name)), ("platform", JSON(account.platform.rawValue)),
                ("hourly", window(Int(account.quota.hourly), hour)), ("daily", window(Int(account.quota.daily), day)),
                ("paused_until", paused?.pausedUntil.map { JSON(HTTPTime.formatISO8601(millis: $0)) } ?? .null),
                ("pause_reason", paused?.pauseReason.map(JSON.init) ?? .null),
            ]))
        }
        return .obj([("accounts", .array(items))])
    }
}
