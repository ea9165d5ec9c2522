import Glibc
import Logging
import SteadyCore
import SteadyJSON
import SteadySystem

/// The bounded, leased pool of headless Chromium processes. Runs on one thread: the worker
/// loop calls `processEvents()` when `descriptor` is readable and `tick(now:)` at `wakeAt`.
///
/// - At most `capacity` browsers (the configured count, lowered by the memory budget), started
///   lazily when a lease needs one.
/// - One lease per browser at a time, each in its own browser context and tab; a bounded queue
///   behind them; past it a lease is refused with `busy` at once.
/// - Every lease is answered by its deadline (`timeout`, or `unknownOutcome` for a submit
///   after its click); its tab is closed then, and a browser that does not answer the close
///   within `closeTimeoutMs` is killed.
/// - Identical scrapes share one run (single-flight): a second caller joins the first.
/// - Browsers are recycled after `leasesPerBrowser` leases, when they crash, stop answering,
///   or pass `browserMemoryMax`; the whole process group is killed and reaped, the profile
///   removed.
public final class BrowserPool {
    public let settings: BrowserPoolSettings
    let logger: Logger
    public let poller: Poller
    /// Nil when Chromium can be used; else why not (leases answer `unavailable`).
    public private(set) var unavailableReason: String?

    private(set) var browsers: [BrowserProcess] = []
    private var reaping: [BrowserProcess] = []
    private var queue: [Lease] = []
    private var flights: [String: Lease] = [:]
    private var cleanupDeadlines: [Int: Int64] = [:]
    private var startDeadlines: [Int: Int64] = [:]
    private var nextBrowserSerial = 1
    private var nextLeaseSerial = 1
    private var launchBackoffUntil: Int64 = 0
    private var launchFailures = 0
    private var nextMemoryCheck: Int64 = 0
    private var maxObservedPss: UInt64 = 0
    private var pumpScheduled = false
    public private(set) var draining = false
    public private(set) var stats = Stats()

    public struct Stats: Sendable, Equatable {
        public var leases: Int64 = 0
        public var completed: Int64 = 0
        public var failed: Int64 = 0
        public var timeouts: Int64 = 0
        public var unknownOutcomes: Int64 = 0
        public var refusals: Int64 = 0
        public var joined: Int64 = 0
        public var launched: Int64 = 0
        public var launchFailures: Int64 = 0
        public var recycles: Int64 = 0
        public var recyclesByReason: [String: Int64] = [:]
        public var crashes: Int64 = 0
        public var reaped: Int64 = 0
    }

    public init(settings: BrowserPoolSettings, logger: Logger) throws {
        self.settings = settings
        self.logger = logger
        poller = try Poller()
        // A write to a dead browser's pipe must be an EPIPE, not the end of this process.
        signal(SIGPIPE, SIG_IGN)
        if access(settings.chromiumPath, X_OK) != 0 {
            unavailableReason = "Chromium not found at \(settings.chromiumPath) (\(String(cString: strerror(errno)))): install the chromium package or set STEADYPOST_CHROMIUM"
            return
        }
        if !ProcessGroup.becomeChildSubreaper() {
            logger.warning("cannot become a child subreaper: orphaned Chromium processes are left to init to reap")
        }
        do {
            try Files.makeDirectories(settings.profileRoot, mode: 0o700)
        } catch {
            unavailableReason = "cannot create the browser profile directory \(settings.profileRoot): \(error)"
            return
        }
        // Profiles left by an earlier worker that was killed.
        for name in Files.list(settings.profileRoot) ?? [] where name.hasPrefix("profile-") {
            removeTree(settings.profileRoot + "/" + name, under: settings.profileRoot)
        }
    }

    deinit { shutdown() }

    public var descriptor: Int32 { poller.fd.raw }
    public var available: Bool { unavailableReason == nil }

    /// Browsers the budget allows now.
    public var capacity: Int { settings.budgetedBrowsers(observedMaxBytes: maxObservedPss) }

    public var runningLeases: Int { browsers.filter { $0.lease != nil }.count }
    public var queueDepth: Int { queue.count }
    /// Leases admitted and not yet answered, plus tabs still closing.
    public var inFlight: Int { queue.count + browsers.filter { $0.state == .busy }.count }

    // MARK: - Leases

    /// Asks for a lease. `completion` is called exactly once: at once (from inside this call)
    /// for a refusal (`busy`, `unavailable`, `badRequest`, a deadline already past), else
    /// later from `processEvents`/`tick`, never after `deadline`.
    public func lease(_ kind: LeaseKind, deadline: Int64, completion: @escaping LeaseCompletion) {
        let now = SteadyClock.monotonicMillis()
        if let reason = unavailableReason {
            return completion(.failure(LeaseError(LeaseError.unavailable, reason)))
        }
        if draining {
            return completion(.failure(LeaseError(LeaseError.unavailable, "the browser worker is draining")))
        }
        if deadline <= now {
            stats.timeouts += 1
            let code = if case .submit = kind { LeaseError.timeoutBeforeSubmit } else { LeaseError.timeout }
            return completion(.failure(LeaseError(code, "the deadline passed before the lease was admitted")))
        }
        let waiter = LeaseWaiter(deadline: deadline, completion: completion)
        if case .scrape(let s) = kind, let running = flights[s.flightKey], !running.isFinished {
            running.waiters.append(waiter)
            running.deadline = max(running.deadline, deadline)
            stats.joined += 1
            return
        }
        let startsNow = queue.isEmpty && browsers.contains { $0.state == .idle }
        if !startsNow && queue.count >= settings.queueLimit {
            stats.refusals += 1
            return completion(.failure(LeaseError(LeaseError.busy,
                "the browser pool is full (\(runningLeases) running, \(queue.count) queued of \(settings.queueLimit)); try later")))
        }
        let lease = Lease(serial: nextLeaseSerial, kind: kind, deadline: deadline, waiter: waiter, now: now)
        nextLeaseSerial += 1
        stats.leases += 1
        lease.onFinish = { [unowned self] l in self.leaseFinished(l) }
        if let key = lease.flightKey { flights[key] = lease }
        queue.append(lease)
        pump()
    }

    private var startingCount: Int { browsers.filter { $0.state == .starting }.count }

    /// Starts queued leases on idle browsers and launches browsers for the rest, within capacity.
    private func pump() {
        pumpScheduled = false
        let now = SteadyClock.monotonicMillis()
        while !queue.isEmpty, let idle = browsers.first(where: { $0.state == .idle }) {
            let lease = queue.removeFirst()
            idle.state = .busy
            idle.lease = lease
            lease.run(on: idle, now: now)
        }
        guard !queue.isEmpty, unavailableReason == nil, !draining else { return }
        var wanted = queue.count - startingCount
        while wanted > 0 && browsers.count < capacity && now >= launchBackoffUntil {
            if !launch(now: now) { break }
            wanted -= 1
        }
        if browsers.isEmpty && now < launchBackoffUntil {
            // Nothing will start these before the back-off ends: say so now.
            let queued = queue
            queue.removeAll()
            for lease in queued {
                lease.fail(LeaseError(LeaseError.unavailable, "Chromium cannot be started (\(launchFailures) failure(s) in a row); retrying later"))
            }
        }
    }

    private func schedulePump() {
        guard !pumpScheduled else { return }
        pumpScheduled = true
        poller.post { [weak self] in self?.pump() }
    }

    private func launch(now: Int64) -> Bool {
        let serial = nextBrowserSerial
        nextBrowserSerial += 1
        let browser: BrowserProcess
        do {
            browser = try BrowserProcess.launch(serial: serial, settings: settings, poller: poller) { [weak self] b in
                self?.browserExited(b)
            }
        } catch {
            launchFailures += 1
            stats.launchFailures += 1
            launchBackoffUntil = now + min(30_000, 500 << min(launchFailures, 6))
            logger.error("cannot start Chromium (\(settings.chromiumPath)): \(error)")
            return false
        }
        stats.launched += 1
        browsers.append(browser)
        // A pipe that ends (EOF, a malformed or oversized message) ends the browser too.
        browser.connection.onClose = { [weak self, weak browser] why in
            guard let self, let browser, browser.state != .dead else { return }
            self.retire(browser, reason: "crash", why: "its DevTools pipe closed (\(why))")
        }
        startDeadlines[serial] = now + settings.startTimeoutMs
        logger.info("browser \(serial) started: pid \(browser.pid), profile \(browser.profileDir)")
        browser.connection.send("Browser.getVersion") { [weak self, weak browser] r in
            guard let self, let browser, browser.state == .starting else { return }
            switch r {
            case .success(let v):
                browser.version = v["product"]?.string
                browser.readyAt = SteadyClock.monotonicMillis()
                browser.state = .idle
                browser.noteStrays()
                self.startDeadlines[browser.serial] = nil
                self.launchFailures = 0
                self.logger.info("browser \(browser.serial) ready in \(browser.readyAt! - browser.startedAt) ms (\(browser.version ?? "?"))")
                self.pump()
            case .failure(let e):
                self.retire(browser, reason: "crash", why: "failed its first command: \(e)")
            }
        }
        return true
    }

    private func leaseFinished(_ lease: Lease) {
        let result = lease.result!
        if let key = lease.flightKey, flights[key] === lease { flights[key] = nil }
        switch result {
        case .success: stats.completed += 1
        case .failure(let e):
            stats.failed += 1
            if e.code == LeaseError.timeout || e.code == LeaseError.timeoutBeforeSubmit { stats.timeouts += 1 }
            if e.code == LeaseError.unknownOutcome { stats.unknownOutcomes += 1 }
            logger.notice("lease \(lease.serial) (\(lease.kind.name)) failed: \(e)")
        }
        let waiters = lease.waiters
        lease.waiters = []
        for w in waiters { w.completion(result) }
        if let i = queue.firstIndex(where: { $0 === lease }) { queue.remove(at: i) }
        if let browser = lease.browser, browser.state == .busy, browser.lease === lease {
            closeTab(of: browser)
        }
        schedulePump()
    }

    /// Disposes every browser context but the default one (the lease's, and any leaked by an
    /// earlier one); the browser is free once that is answered, or killed if it is not in time.
    private func closeTab(of browser: BrowserProcess) {
        cleanupDeadlines[browser.serial] = SteadyClock.monotonicMillis() + settings.closeTimeoutMs
        browser.connection.send("Target.getBrowserContexts") { [weak self, weak browser] r in
            guard let self, let browser, browser.state == .busy else { return }
            let contexts: [String]
            switch r {
            case .success(let v): contexts = (v["browserContextIds"]?.array ?? []).compactMap(\.string)
            case .failure(.closed): return self.retire(browser, reason: "crash", why: "died while closing a tab")
            case .failure(let e): return self.retire(browser, reason: "unresponsive", why: "could not list its browser contexts: \(e)")
            }
            var left = contexts.count
            if left == 0 { return self.release(browser) }
            for ctx in contexts {
                browser.connection.send("Target.disposeBrowserContext", .obj([("browserContextId", JSON(ctx))])) { [weak self, weak browser] r in
                    guard let self, let browser, browser.state == .busy else { return }
                    if case .failure(.closed) = r { return self.retire(browser, reason: "crash", why: "died while closing a tab") }
                    left -= 1
                    if left == 0 { self.release(browser) }
                }
            }
        }
    }

    private func release(_ browser: BrowserProcess) {
        cleanupDeadlines[browser.serial] = nil
        browser.lease = nil
        browser.leasesServed += 1
        if browser.leasesServed >= settings.leasesPerBrowser {
            retire(browser, reason: "leases", why: "served \(browser.leasesServed) leases")
        } else if browser.pssBytes > settings.browserMemoryMax {
            retire(browser, reason: "memory", why: "PSS \(browser.pssBytes >> 20) MiB over the \(settings.browserMemoryMax >> 20) MiB bound")
        } else if draining && queue.isEmpty {
            retire(browser, reason: nil, why: "draining")
        } else {
            browser.state = .idle
        }
        schedulePump()
    }

    // MARK: - Browser ends

    private func browserExited(_ browser: BrowserProcess) {
        guard browser.state != .dead else { return }
        retire(browser, reason: "crash", why: "exited unexpectedly")
    }

    /// Kills a browser's process group and moves it to reaping; its lease (if any) fails at
    /// once through its pending commands. `reason` nil: not counted as a recycle (shutdown).
    private func retire(_ browser: BrowserProcess, reason: String?, why: String) {
        guard let i = browsers.firstIndex(where: { $0 === browser }) else { return }
        browsers.remove(at: i)
        startDeadlines[browser.serial] = nil
        cleanupDeadlines[browser.serial] = nil
        if reason == "crash" { stats.crashes += 1 }
        if let reason {
            stats.recycles += 1
            stats.recyclesByReason[reason, default: 0] += 1
        }
        logger.notice("browser \(browser.serial) (pid \(browser.pid)) recycled: \(why)")
        let lease = browser.lease
        browser.lease = nil
        browser.kill(reason: "browser \(browser.serial) \(why)")
        // Pending commands failed above; a lease between commands fails here.
        if let lease, !lease.isFinished {
            lease.fail(LeaseError(LeaseError.browserCrashed, "browser \(browser.serial) \(why)"))
        }
        reaping.append(browser)
        reapPass()
        schedulePump()
    }

    private func reapPass() {
        let now = SteadyClock.monotonicMillis()
        reaping.removeAll { b in
            if b.reap() {
                stats.reaped += 1
                return true
            }
            if now - (b.killedAt ?? now) > 10_000 {
                logger.error("browser \(b.serial) (pgid \(b.pid)): processes \(ProcessGroup.members(b.pid)) still there 10 s after SIGKILL; giving up on them")
                return true
            }
            return false
        }
    }

    /// Browsers killed and not fully reaped yet.
    public var reapingCount: Int { reaping.count }

    // MARK: - Loop

    public func processEvents() {
        poller.dispatch()
    }

    public var wakeAt: Int64? {
        let now = SteadyClock.monotonicMillis()
        if poller.hasPosted { return now }
        var next: [Int64] = []
        for lease in queue { next.append(lease.waiters.map(\.deadline).min() ?? lease.deadline) }
        for b in browsers {
            if let lease = b.lease { next.append(lease.waiters.map(\.deadline).min() ?? lease.deadline) }
        }
        next += startDeadlines.values
        next += cleanupDeadlines.values
        if !reaping.isEmpty { next.append(now + 20) }
        if !browsers.isEmpty { next.append(nextMemoryCheck) }
        if !queue.isEmpty && launchBackoffUntil > now { next.append(launchBackoffUntil) }
        return next.min()
    }

    public func tick(now: Int64) {
        poller.runPosted()
        // Callers whose own deadline passed (a joiner may have an earlier one than the lease).
        for lease in queue + browsers.compactMap(\.lease) where !lease.isFinished {
            if now >= lease.deadline {
                lease.expire()
                continue
            }
            let (expired, waiting) = lease.waiters.partitioned { now >= $0.deadline }
            if !expired.isEmpty {
                lease.waiters = waiting
                for w in expired {
                    stats.timeouts += 1
                    w.completion(.failure(LeaseError(LeaseError.timeout, "the \(lease.kind.name) lease did not finish by this caller's deadline")))
                }
                if waiting.isEmpty { lease.fail(LeaseError(LeaseError.timeout, "every caller of this lease stopped waiting")) }
            }
        }
        for b in browsers where b.state == .starting {
            if let d = startDeadlines[b.serial], now >= d {
                retire(b, reason: "unresponsive", why: "did not answer within \(settings.startTimeoutMs) ms of starting")
            }
        }
        for b in browsers where b.state == .busy {
            if let d = cleanupDeadlines[b.serial], now >= d {
                retire(b, reason: "unresponsive", why: "did not close a tab within \(settings.closeTimeoutMs) ms")
            }
        }
        if !browsers.isEmpty && now >= nextMemoryCheck {
            nextMemoryCheck = now + settings.memoryCheckIntervalMs
            for b in browsers where b.state != .starting {
                b.measure()
                maxObservedPss = max(maxObservedPss, b.pssBytes)
            }
            for b in browsers where b.state == .idle && b.pssBytes > settings.browserMemoryMax {
                retire(b, reason: "memory", why: "PSS \(b.pssBytes >> 20) MiB over the \(settings.browserMemoryMax >> 20) MiB bound")
            }
        }
        if draining && queue.isEmpty {
            for b in browsers where b.state == .idle || b.state == .starting { retire(b, reason: nil, why: "draining") }
        }
        if !reaping.isEmpty { reapPass() }
        if !queue.isEmpty { pump() }
        poller.runPosted()
    }

    // MARK: - Drain and shutdown

    public func beginDrain() {
        draining = true
    }

    /// Draining, nothing queued or running, and every browser gone and reaped.
    public var drained: Bool { draining && queue.isEmpty && browsers.isEmpty && reaping.isEmpty }

    /// Ends everything now: queued and running leases fail (`unavailable`), every browser's
    /// group is killed and reaped (waiting on the pidfds, at most `timeoutMs`).
    public func shutdown(timeoutMs: Int64 = 5_000) {
        draining = true
        let queued = queue
        queue.removeAll()
        for lease in queued { lease.fail(LeaseError(LeaseError.unavailable, "the browser pool is shutting down")) }
        for b in browsers { retire(b, reason: nil, why: "shut down") }
        let deadline = SteadyClock.monotonicMillis() + timeoutMs
        while !reaping.isEmpty && SteadyClock.monotonicMillis() < deadline {
            var fds = reaping.filter { !$0.leaderReaped }.map { pollfd(fd: $0.process.pidfd.raw, events: Int16(POLLIN), revents: 0) }
            if fds.isEmpty {
                // Only orphans left: they were SIGKILLed; their exit is a matter of microseconds.
                var ts = timespec(tv_sec: 0, tv_nsec: 5_000_000)
                _ = nanosleep(&ts, nil)
            } else {
                _ = poll(&fds, nfds_t(fds.count), 50)
            }
            reapPass()
        }
        poller.runPosted()
    }

    // MARK: - Status

    public func statusJSON() -> JSON {
        let list = browsers.map { b in
            JSON.obj([
                ("serial", JSON(b.serial)), ("pid", JSON(b.pid)), ("state", JSON(b.state.rawValue)),
                ("leases", JSON(b.leasesServed)), ("pss_bytes", JSON(b.pssBytes)), ("rss_bytes", JSON(b.rssBytes)),
                ("processes", JSON(b.processCount)),
            ])
        }
        return .obj([
            ("available", .bool(available)),
            ("unavailable_reason", unavailableReason.map { JSON($0) }),
            ("chromium", JSON(settings.chromiumPath)),
            ("browsers", JSON(browsers.count)),
            ("starting", JSON(browsers.filter { $0.state == .starting }.count)),
            ("busy", JSON(browsers.filter { $0.state == .busy }.count)),
            ("idle", JSON(browsers.filter { $0.state == .idle }.count)),
            ("reaping", JSON(reaping.count)),
            ("capacity", JSON(capacity)),
            ("max_browsers", JSON(settings.maxBrowsers)),
            ("memory_budget_bytes", JSON(settings.memoryMax)),
            ("queue_depth", JSON(queue.count)),
            ("queue_limit", JSON(settings.queueLimit)),
            ("leases", JSON(stats.leases)), ("completed", JSON(stats.completed)), ("failed", JSON(stats.failed)),
            ("timeouts", JSON(stats.timeouts)), ("unknown_outcomes", JSON(stats.unknownOutcomes)),
            ("refusals", JSON(stats.refusals)), ("joined", JSON(stats.joined)), ("launched", JSON(stats.launched)),
            ("launch_failures", JSON(stats.launchFailures)), ("crashes", JSON(stats.crashes)),
            ("recycles", JSON(stats.recycles)), ("recycles_by_reason", JSON.sorted(stats.recyclesByReason.mapValues { JSON($0) })),
            ("browser_list", .array(list)),
        ])
    }

    /// The heartbeat figures: the same as `status`, flat.
    public var counters: [String: Int64] {
        var c: [String: Int64] = [
            "browsers": Int64(browsers.count),
            "browsers_busy": Int64(browsers.filter { $0.state == .busy }.count),
            "browsers_idle": Int64(browsers.filter { $0.state == .idle }.count),
            "browser_capacity": Int64(capacity),
            "queue_depth": Int64(queue.count),
            "queue_limit": Int64(settings.queueLimit),
            "reaping": Int64(reaping.count),
            "leases": stats.leases, "leases_ok": stats.completed, "leases_failed": stats.failed,
            "timeouts": stats.timeouts, "unknown_outcomes": stats.unknownOutcomes,
            "refusals": stats.refusals, "joined": stats.joined, "recycles": stats.recycles, "crashes": stats.crashes,
            "browser_pss_bytes": Int64(browsers.reduce(0) { $0 + $1.pssBytes }),
            "browser_rss_bytes": Int64(browsers.reduce(0) { $0 + $1.rssBytes }),
        ]
        for (i, b) in browsers.enumerated() { c["browser\(i + 1)_pss_bytes"] = Int64(b.pssBytes) }
        if !available { c["unavailable"] = 1 }
        return c
    }
}

extension Array {
    func partitioned(_ isFirst: (Element) -> Bool) -> ([Element], [Element]) {
        var a: [Element] = [], b: [Element] = []
        for e in self { if isFirst(e) { a.append(e) } else { b.append(e) } }
        return (a, b)
    }
}
