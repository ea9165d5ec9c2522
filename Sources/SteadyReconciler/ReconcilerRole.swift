import Glibc
import Logging
import SteadyConfig
import SteadyCore
import SteadyPlatforms
import SteadyBackground
import SteadyStore
import SteadyWorker

/// The reconciler worker (DESIGN.md section 2): two `PeriodicJob`s — `reconcile-quick`
/// (hourly over the last day) and `reconcile-deep` (daily over 7 days) — and the routed `run`
/// (`steadypost reconcile [--account NAME] [--dry-run]`). One pass at a time, on its own
/// thread (adapters block); the loop only schedules, records the jobs' heartbeats and answers.
/// A job that fails or does not finish is `late` after two intervals without a success, which
/// the heartbeat's `job.NAME.late` counter carries to `steadypost status` (F11).
public final class ReconcilerRole: WorkerRole {
    let config: Config
    let settings: ReconcilerSettings
    let store: any ReconcileStore & PostingStore & AccountStore
    let journal: OutcomeJournal
    /// Each configured account as the reconciler reads it (used on the pass thread only: one
    /// pass at a time).
    let readers: [ReadingAccount]
    var logger: Logger
    var replies: WorkerReplies?
    let completions: LoopInbox<ReconcilePass.Result>
    /// `reconcile-quick`, `reconcile-deep`.
    var jobs: [PeriodicJob]
    /// Manual runs waiting for the running pass to end (answered in order).
    var queued: [ReconcilePass] = []
    /// The pass on its thread, if any.
    var running: ReconcilePass?
    var draining = false
    var stats = Stats()
    /// Accounts a long rate limit cut short (a `partial` pass): read again in a
    /// `reconcile-resume` pass over the same window once the latest of their limits resets.
    var resume: (accounts: Set<String>, at: Int64, windowMs: Int64)?
    static let maxQueued = 8

    struct Stats {
        var runs: Int64 = 0
        var runFailures: Int64 = 0
        /// Passes some account of which a long rate limit cut short (not failures).
        var partialRuns: Int64 = 0
        var fixed: Int64 = 0
        var foreign: Int64 = 0
        var duplicates: Int64 = 0
        /// Thread parts found live not answering the part before them, summed over passes.
        var threadMismatches: Int64 = 0
        /// From the latest scheduled pass over every account (nil before the first): what
        /// /health reads as `orphaned_posts` and `duplicate_rate`.
        var orphaned: Int64?
        var duplicateCopies: Int64?
    }

    /// Opens the store and the journal in `daemon.state_dir` (the posting worker's files).
    public init(config: Config, environment: [String: String], logger: Logger) throws {
        self.config = config
        self.logger = logger
        settings = ReconcilerSettings(config: config.reconciler, environment: environment)
        store = try SharedStore.open(config)
        journal = OutcomeJournal(path: config.daemon.stateDir + "/outcomes.journal")
        completions = try LoopInbox()
        let options = settings.httpOptions
        readers = config.accounts.map { ReadingAccount(config: $0, daemon: config, httpOptions: options, logger: logger) }
        let now = SteadyClock.wallMillis()
        jobs = [PeriodicJob(name: "reconcile-quick", intervalMs: settings.config.quickIntervalMs, createdAt: now),
                // The deep pass first runs one quick interval after start, not on top of the quick one.
                PeriodicJob(name: "reconcile-deep", intervalMs: settings.config.deepIntervalMs, createdAt: now, firstRunAt: now + settings.config.quickIntervalMs)]
    }

    func window(of job: String) -> Int64 { job == "reconcile-deep" ? settings.config.deepWindowMs : settings.config.quickWindowMs }

    // MARK: - WorkerRole

    public var summary: String {
        let d = { (ms: Int64) in DurationText.format(millis: ms) }
        var text = "reconciling \(config.accounts.count) account(s): quick every \(d(settings.config.quickIntervalMs)) over \(d(settings.config.quickWindowMs)), "
            + "deep every \(d(settings.config.deepIntervalMs)) over \(d(settings.config.deepWindowMs))"
        for job in jobs { if let e = job.lastError { text += "; \(job.name) last error: \(e)" } }
        return text
    }

    public var inFlight: Int { (running == nil ? 0 : 1) + queued.count }

    public var counters: [String: Int64] {
        let now = SteadyClock.wallMillis()
        var out: [String: Int64] = [
            "runs": stats.runs, "run_failures": stats.runFailures, "partial_runs": stats.partialRuns, "fixed": stats.fixed, "foreign": stats.foreign,
            "duplicates": stats.duplicates, "thread_mismatches": stats.threadMismatches, "in_flight": Int64(inFlight),
        ]
        for job in jobs { out.merge(job.counters(now: now)) { a, _ in a } }
        if let o = stats.orphaned { out["orphaned_posts"] = o }
        if let d = stats.duplicateCopies { out["duplicate_posts"] = d }
        return out
    }

    public func beginDrain() {
        draining = true
        for pass in queued { answer(pass, .error(code: "unavailable", message: "the reconciler is stopping")) }
        queued.removeAll()
        logger.info("draining: \(running == nil ? "no pass running" : "waiting for the running pass")")
    }

    public var drained: Bool { draining && running == nil }

    public var watchedDescriptors: [Int32] { [completions.readFd] }

    public func readable(_ fd: Int32) {
        guard fd == completions.readFd else { return }
        for result in completions.drain() { finished(result) }
    }

    public var wakeAt: Int64? {
        guard !draining, running == nil else { return nil }
        let mono = SteadyClock.monotonicMillis()
        if !queued.isEmpty { return mono }
        guard let next = (jobs.map(\.nextRunAt) + [resume?.at].compactMap { $0 }).min() else { return nil }
        return mono + max(0, next - SteadyClock.wallMillis())
    }

    public func tick(now: Int64) {
        guard !draining, running == nil else { return }
        if !queued.isEmpty {
            launch(queued.removeFirst())
            return
        }
        let wall = SteadyClock.wallMillis()
        if let r = resume, r.at <= wall {
            resume = nil
            let chosen = readers.filter { r.accounts.contains($0.name) }
            launch(ReconcilePass(name: "reconcile-resume", readers: chosen, accountFilter: chosen.count == 1 ? chosen[0].name : nil,
                                 windowMs: r.windowMs, dryRun: false))
            return
        }
        if let i = jobs.indices.first(where: { jobs[$0].isDue(now: wall) }) {
            jobs[i].started(now: wall)
            launch(ReconcilePass(name: jobs[i].name, readers: readers, accountFilter: nil, windowMs: window(of: jobs[i].name), dryRun: false))
        }
    }

    public func start(logger: Logger, replies: WorkerReplies) {
        self.logger = logger
        self.replies = replies
        logger.info("reconciler started: \(summary)")
        if let fault = settings.fault {
            logger.warning("fault injection armed: reconcile passes \(settings.faultJob ?? "(all)") \(fault.rawValue)")
        }
    }

    // MARK: - Routed requests

    /// `run` `{"account"?, "dry_run"?}`: a pass now, answered with its report once it ends.
    public func handle(request: WorkerRequest) -> WorkerReply? {
        switch request.method {
        case "run": return run(request)
        case "runs": return runs(request.body)
        default: return nil
        }
    }

    func run(_ request: WorkerRequest) -> WorkerReply {
        let parsed: RunRequest
        switch RunRequest.parse(request.body, accounts: config.accounts.map(\.name)) {
        case .failure(let e): return .error(code: "invalid", message: e.message)
        case .success(let r): parsed = r
        }
        guard !draining else { return .error(code: "unavailable", message: "the reconciler is stopping") }
        guard queued.count < Self.maxQueued else { return .error(code: "busy", message: "\(queued.count) reconcile runs are waiting already") }
        let chosen = readers.filter { parsed.account == nil || $0.name == parsed.account }
        queued.append(ReconcilePass(name: "manual", readers: chosen, accountFilter: parsed.account,
                                    windowMs: parsed.deep ? settings.config.deepWindowMs : settings.config.quickWindowMs,
                                    dryRun: parsed.dryRun, correlation: request.correlation))
        return .deferred
    }

    /// `runs` `{"limit"?}`: the latest stored reports, newest first.
    func runs(_ body: [UInt8]) -> WorkerReply {
        let json = body.isEmpty ? JSON.object([]) : ((try? JSON.parse(body)) ?? .null)
        guard json.isObject else { return .error(code: "invalid", message: "the request must be a JSON object") }
        do {
            let stored = try store.reconcileRuns(limit: min(max(json["limit"]?.int ?? 10, 1), 100))
            return .ok(JSON.array(stored.map { (try? JSON.parse($0.report)) ?? .null }).bytes)
        } catch {
            return .error(code: "store", message: "cannot read the stored reports: \(error)")
        }
    }

    // MARK: - Passes

    func launch(_ pass: ReconcilePass) {
        running = pass
        let (settings, store, journal, logger) = (settings, store, journal, logger)
        logger.info("reconcile pass \(pass.name) starting over \(pass.readers.count) account(s)\(pass.dryRun ? " (dry run)" : "")")
        do {
            try completions.run { pass.run(settings: settings, store: store, journal: journal, logger: logger) }
        } catch {
            running = nil
            logger.critical("cannot start a reconcile thread: \(error)")
            record(pass, ok: false, error: "cannot start a thread: \(error)")
            answer(pass, .error(code: "internal", message: "cannot start a reconcile thread: \(error)"))
        }
    }

    func finished(_ result: ReconcilePass.Result) {
        running = nil
        stats.runs += 1
        if !result.ok { stats.runFailures += 1 }
        stats.fixed += Int64(result.fixed)
        stats.foreign += Int64(result.foreignNew)
        stats.duplicates += Int64(result.duplicates)
        stats.threadMismatches += Int64(result.threadMismatches)
        if result.ok, result.pass.name != "manual", !result.pass.dryRun {
            stats.orphaned = Int64(result.orphaned)
            stats.duplicateCopies = Int64(result.duplicateCopies)
        }
        if !result.pass.dryRun { noteResume(result) }
        if result.ok, !result.partialAccounts.isEmpty {
            stats.partialRuns += 1
            let cut = result.partialAccounts.joined(separator: ", ")
            logger.notice("reconcile pass \(result.pass.name) partial (\(result.id)): \(result.changes) change(s); \(cut) cut short by a rate limit, read again after it resets")
        } else if result.ok {
            let found = "\(result.duplicates) duplicate finding(s), \(result.threadMismatches) thread mismatch(es)"
            logger.info("reconcile pass \(result.pass.name) done (\(result.id)): \(result.changes) change(s), \(found)")
        } else {
            logger.error("reconcile pass \(result.pass.name) failed (\(result.id)): \(result.error ?? "?")")
        }
        record(result.pass, ok: result.ok, error: result.error)
        answer(result.pass, .ok(result.report))
    }

    /// Accounts this pass read in full leave the follow-up list; those a long rate limit cut
    /// short join it, due when the latest limit resets (at least a second from now).
    func noteResume(_ result: ReconcilePass.Result) {
        let partial = Set(result.partialAccounts)
        var accounts = resume?.accounts ?? []
        if result.ok { accounts.subtract(result.pass.readers.map(\.name).filter { !partial.contains($0) }) }
        accounts.formUnion(partial)
        guard !accounts.isEmpty else {
            resume = nil
            return
        }
        let now = SteadyClock.wallMillis()
        let at = max(result.resumeAt ?? resume?.at ?? now, now + 1_000)
        resume = (accounts, max(at, resume?.at ?? at), max(result.pass.windowMs, resume?.windowMs ?? 0))
    }

    /// The job's heartbeat: success, or failure retried at the next interval.
    func record(_ pass: ReconcilePass, ok: Bool, error: String?) {
        guard let i = jobs.firstIndex(where: { $0.name == pass.name }) else { return }
        let now = SteadyClock.wallMillis()
        if ok { jobs[i].succeeded(now: now) } else { jobs[i].failed(now: now, error: error ?? "failed", retryAt: nil) }
    }

    func answer(_ pass: ReconcilePass, _ reply: WorkerReply) {
        guard let correlation = pass.correlation else { return }
        if replies?.reply(correlation: correlation, reply) != true {
            logger.notice("the reconcile report came after its asker stopped waiting; it is stored (steadypost reconcile shows the latest)")
        }
    }
}
