import Glibc
import SteadyControl
import SteadyCore
import SteadyPlatforms
import SteadyProtocol
import SteadySystem

/// A real `steadypostd run` over a temporary directory that outlives it: the config is
/// written once, `start()` may be called again after a stop or a kill (the same config, store
/// and journal), each start logging to `daemon.N.log`. Spoken to over its control socket; the
/// supervisor is ended by its pid and every worker it was seen to run by theirs; the
/// directory is removed by `cleanUp()` (or on release).
public final class DaemonProcess {
    /// Starts the daemon in place of `steadypostd run --config` (e.g. with an inherited
    /// socket): config path, log path, environment → the started process.
    public typealias Launcher = (_ configPath: String, _ logPath: String, _ environment: [String]) throws -> SpawnedProcess

    public let dir: TempDir
    public let configPath: String
    public let environment: [String]
    /// The supervisor of the latest start (nil before the first).
    public private(set) var process: SpawnedProcess!
    /// How the latest supervisor ended, once it has (nil while it runs).
    public var exited: ExitStatus?
    /// Every worker pid a status answer has named, for the cleanup.
    public private(set) var knownPids: Set<Int32> = []
    public private(set) var starts = 0
    private let launcher: Launcher?
    private let ready: ((StatusReport) -> Bool)?

    public var credentialsDir: String { dir.path + "/credentials" }
    public var socketPath: String { dir.path + "/run/control.sock" }
    public var storePath: String { dir.path + "/state/steadypost.db" }
    public var client: ControlClient { ControlClient(socketPath: socketPath, timeoutMillis: 20_000) }
    public func logPath(_ n: Int) -> String { dir.path + "/daemon.\(n).log" }
    /// The latest start's log.
    public var logPath: String { logPath(max(1, starts)) }

    /// Writes the config; does not start. Every role gets fast test timings
    /// (`heartbeat`, `hangTimeout`, a 500 ms term grace, a 50 ms restart delay) and
    /// `workers[role]` lines, unless `extraConfig` has that `[workers.ROLE]` table itself;
    /// the api worker listens on a free port unless `extraConfig` has an `[api]` table. Each
    /// of `accounts` (platform, name, quota TOML or nil) is created on `sim`, which writes its
    /// credentials. `ready` is what `start()` waits for (nothing: it returns once spawned).
    public init(prefix: String = "steadypost-test", sim: SimulatorProcess? = nil, accounts: [(Platform, String, String?)] = [],
                daemonConfig: String = "", workers: [Role: String] = [:], extraConfig: String = "", allowFaults: Bool = true,
                shutdownTimeout: String = "10s", heartbeat: String = "100ms", hangTimeout: String = "1500ms",
                environment: [String] = [], launcher: Launcher? = nil, ready: ((StatusReport) -> Bool)? = nil) throws {
        dir = TempDir(prefix)
        configPath = dir.path + "/steadypost.toml"
        self.launcher = launcher
        self.ready = ready
        self.environment = currentEnvironment().filter { !$0.hasPrefix("NOTIFY_SOCKET=") && !$0.hasPrefix("LISTEN_") }
            + ["SWIFT_BACKTRACE=enable=no"] + environment
        var toml = """
        [daemon]
        state_dir = "\(dir.path)/state"
        runtime_dir = "\(dir.path)/run"
        credentials_dir = "\(credentialsDir)"
        allow_fault_injection = \(allowFaults)
        shutdown_timeout = "\(shutdownTimeout)"
        \(daemonConfig)

        """
        for role in Role.allCases where !extraConfig.contains("[workers.\(role.rawValue)]") {
            toml += "[workers.\(role.rawValue)]\nheartbeat_interval = \"\(heartbeat)\"\nhang_timeout = \"\(hangTimeout)\"\n"
                + "term_grace = \"500ms\"\nrestart_base_delay = \"50ms\"\n" + (workers[role] ?? "") + "\n"
        }
        // Never the default 8787 another daemon may hold.
        if !extraConfig.contains("[api]") { toml += "[api]\nlisten = \"127.0.0.1:0\"\n\n" }
        if let sim {
            try Files.makeDirectories(credentialsDir, mode: 0o700)
            for (platform, name, quota) in accounts {
                try sim.createAccount(platform, name, credentialsDir: credentialsDir)
                toml += "[[accounts]]\nname = \"\(name)\"\nplatform = \"\(platform.rawValue)\"\nbase_url = \"\(sim.baseURL)\"\n"
                    + "credentials = \"\(name).json\"\n" + (quota.map { "quota = \($0)\n" } ?? "") + "\n"
            }
        }
        toml += extraConfig
        try Files.writeAtomically(configPath, toml)
    }

    deinit { cleanUp() }

    // MARK: The config, before a start

    /// Rewrites the config file.
    public func editConfig(_ change: (String) throws -> String) throws {
        guard let text = Files.read(configPath) else { throw TestFailure("cannot read \(configPath)") }
        try Files.writeAtomically(configPath, try change(text))
    }

    /// Adds `lines` (TOML keys) to the table `[name]` of the config.
    public func addToTable(_ name: String, _ lines: String) throws {
        try editConfig { text in
            let header = "[\(name)]\n"
            guard text.contains(header) else { throw TestFailure("no \(header) table in the test config") }
            return text.replacing(header, with: header + lines + "\n", maxReplacements: 1)
        }
    }

    /// Adds `lines` to the `[workers.ROLE]` table.
    public func configure(_ role: Role, _ lines: String) throws { try addToTable("workers.\(role.rawValue)", lines) }

    // MARK: Starting and stopping

    /// Starts a supervisor (the launcher, else `steadypostd run --config`) and waits, up to
    /// `timeoutMillis`, for what the daemon was made to be ready on.
    public func start(timeoutMillis: Int64 = 20_000) throws {
        starts += 1
        let path = logPath(starts)
        if let launcher {
            process = try launcher(configPath, path, environment)
        } else {
            process = try spawnLogged([TestBinaries.daemon, "run", "--config", configPath], log: path, environment: environment)
        }
        exited = nil
        if let ready { _ = try waitFor("the daemon ready", timeoutMillis: timeoutMillis) { ready($0) ? true : nil } }
    }

    /// Sends `signal` to the supervisor and waits (up to `timeoutMillis`) for it to exit.
    @discardableResult
    public func stop(signal: Int32, timeoutMillis: Int64 = 20_000) throws -> ExitStatus {
        if exited == nil, process != nil { _ = try? status() }
        guard let status = signalAndWait(signal, timeoutMillis: timeoutMillis) else {
            throw TestFailure("the supervisor did not exit within \(timeoutMillis) ms of signal \(signal)")
        }
        return status
    }

    /// Sends `signal` to the supervisor now, asking nothing first (`stop` asks for status
    /// first, to know every worker): for tests whose kills must land together.
    public func signalNow(_ signal: Int32) {
        if exited == nil, let process { signalProcess(process, signal) }
    }

    /// SIGTERM, then up to `timeoutMillis` for the exit; how it ended (nil: still running).
    public func terminate(timeoutMillis: Int64 = 15_000) -> ExitStatus? { signalAndWait(SIGTERM, timeoutMillis: timeoutMillis) }

    private func signalAndWait(_ signal: Int32, timeoutMillis: Int64) -> ExitStatus? {
        if let exited { return exited }
        guard let process else { return nil }
        signalProcess(process, signal)
        exited = waitExit(process, timeoutMillis: timeoutMillis)
        return exited
    }

    /// Waits until every worker seen so far is gone (they exit when their supervisor does:
    /// socket EOF or PDEATHSIG).
    public func waitWorkersGone(timeoutMillis: Int64 = 20_000) throws {
        _ = try SteadyTestSupport.waitFor("the old workers to exit", timeoutMillis: timeoutMillis) { () -> Bool? in
            knownPids.filter { isAlive($0) && isOurs($0) }.isEmpty ? true : nil
        }
    }

    /// Whether `pid` runs on this daemon's config (a worker of one of its supervisors).
    public func isOurs(_ pid: Int32) -> Bool { (Files.read("/proc/\(pid)/cmdline") ?? "").contains(configPath) }

    /// Ends the supervisor by its pid (SIGTERM, SIGKILL after the grace) and every worker it
    /// was seen to run by theirs; removes the directory.
    public func cleanUp() {
        if let process, exited == nil { exited = endProcess(process, graceMillis: 10_000) }
        for pid in knownPids where isAlive(pid) && isOurs(pid) { kill(pid, SIGKILL) }
        dir.remove()
    }

    // MARK: The control socket

    public func status() throws -> StatusReport {
        let report = try client.status()
        for w in report.workers { if let pid = w.pid { knownPids.insert(pid) } }
        return report
    }

    public func worker(_ role: Role) throws -> WorkerStatus {
        guard let w = try status().workers.first(where: { $0.role == role }) else { throw TestFailure("no \(role.rawValue) in status") }
        return w
    }

    /// Samples status until `condition` gives a value or the deadline passes; between samples
    /// it waits on the supervisor's pidfd, so its death ends the wait at once (an error with
    /// its log). Sampling the daemon's own figures is the measurement, not a guess at timing.
    public func waitFor<T>(_ what: String, timeoutMillis: Int64 = 20_000, _ condition: (StatusReport) throws -> T?) throws -> T {
        let deadline = SteadyClock.monotonicMillis() + timeoutMillis
        var last = "no answer"
        while true {
            if exited == nil, let process, let dead = try? reap(pid: process.pid) {
                exited = dead
                throw TestFailure("daemon \(dead) while waiting for \(what)\n\(log())")
            }
            do {
                let report = try status()
                if let value = try condition(report) { return value }
                last = report.workers.map { "\($0.role.rawValue)=\($0.state)" }.joined(separator: " ")
            } catch {
                last = "\(error)"
            }
            let left = deadline - SteadyClock.monotonicMillis()
            if left <= 0 { throw TestFailure("timed out after \(timeoutMillis) ms waiting for \(what); last: \(last)\n\(log())") }
            var pfd = pollfd(fd: exited == nil ? (process?.pidfd.raw ?? -1) : -1, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, Int32(min(left, 20)))
        }
    }

    /// The role's status once `condition` holds for it.
    @discardableResult
    public func waitWorker<T>(_ role: Role, _ what: String, timeoutMillis: Int64 = 20_000, _ condition: (WorkerStatus) throws -> T?) throws -> T {
        try waitFor(what, timeoutMillis: timeoutMillis) { report in
            try report.workers.first(where: { $0.role == role }).flatMap(condition)
        }
    }

    /// The role's status once it runs and its summary starts with `prefix` (its engine runs).
    @discardableResult
    public func waitWorker(_ role: Role, summaryPrefix prefix: String, timeoutMillis: Int64 = 30_000) throws -> WorkerStatus {
        try waitWorker(role, "the \(role.rawValue) engine running", timeoutMillis: timeoutMillis) { w in
            w.state == "running" && (w.summary ?? "").hasPrefix(prefix) ? w : nil
        }
    }

    /// Waits until every enabled worker is running.
    @discardableResult
    public func waitAllRunning(timeoutMillis: Int64 = 20_000, expect count: Int = Role.allCases.count) throws -> StatusReport {
        try waitFor("all workers running", timeoutMillis: timeoutMillis) { report in
            report.workers.filter { $0.state == "running" }.count == count ? report : nil
        }
    }

    /// Blocks (event-driven, in the daemon) until `role` is running with a pid other than `notPid`.
    public func waitReady(_ role: Role, notPid: Int32?) throws -> String {
        let body = try client.call(.waitReady, body: try JSONCoding.encode(WaitReadyRequest(role: role, not_pid: notPid)))
        return try JSONCoding.decode(MessageBody.self, body, type: "answer").message
    }

    /// A routed method of any role (`posting.create`, `metrics.show`, `browser.status`, ...).
    public func routed(_ method: String, _ body: JSON = .obj([])) throws -> JSON {
        try JSON.parse(try client.call(method: method, body: body.bytes))
    }

    /// The counters of the role's last heartbeat.
    public func counters(_ role: Role) throws -> [String: Int64] { try worker(role).counters ?? [:] }

    /// Waits until the role's counter `name` reaches `value`; returns all its counters.
    @discardableResult
    public func waitCounter(_ role: Role, _ name: String, atLeast value: Int64, timeoutMillis: Int64 = 30_000) throws -> [String: Int64] {
        try waitWorker(role, "\(role.rawValue) counter \(name) ≥ \(value)", timeoutMillis: timeoutMillis) { w in
            let c = w.counters ?? [:]
            return (c[name] ?? 0) >= value ? c : nil
        }
    }

    /// `steadypost ARGS --socket SOCKET`, run to completion.
    public func cli(_ args: [String], environment: [String]? = nil, timeoutMillis: Int64 = 30_000) -> CommandResult {
        spawnAndWait([TestBinaries.cli] + args + ["--socket", socketPath], environment: environment, timeoutMillis: timeoutMillis)
    }

    /// Every start's log, oldest first.
    public func log() -> String { (1...max(1, starts)).map { Files.read(logPath($0)) ?? "" }.joined(separator: "\n----\n") }

    /// The fault entries that have fired (`state_dir/faults.fired`): entry → post id.
    public func firedFaults() -> [String: String] {
        var out: [String: String] = [:]
        for line in (Files.read(dir.path + "/state/faults.fired") ?? "").split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            if parts.count == 2 { out[parts[0]] = parts[1] }
        }
        return out
    }
}

extension DaemonProcess {
    /// The supervision tests' daemon, started at once (not waited for): `extraConfig` is TOML
    /// appended to the config, `daemonConfig` lines of `[daemon]`.
    public static func started(extraConfig: String = "", daemonConfig: String = "", allowFaults: Bool = true, environment: [String] = [],
                               heartbeat: String = "100ms", hangTimeout: String = "1500ms", launcher: Launcher? = nil) throws -> DaemonProcess {
        let d = try DaemonProcess(daemonConfig: daemonConfig, extraConfig: extraConfig, allowFaults: allowFaults, heartbeat: heartbeat,
                                  hangTimeout: hangTimeout, environment: environment, launcher: launcher)
        try d.start()
        return d
    }

    /// The posting tests' daemon over `sim`'s `accounts` (not started; `start()` waits until
    /// the posting worker runs the engine). `leaseMillis` shortens the claim lease (and with it
    /// the request timeout); `postingWorker`: more `[workers.posting]` lines.
    public convenience init(sim: SimulatorProcess, accounts: [(Platform, String, String?)], concurrency: Int = 4, leaseMillis: Int64 = 8000,
                            environment: [String] = [], drainTimeout: String = "5s", postingWorker: String = "", faultInjection: Bool = true) throws {
        try self.init(prefix: "steadypost-posting", sim: sim, accounts: accounts,
                      workers: [.posting: "concurrency = \(concurrency)\ndrain_timeout = \"\(drainTimeout)\"\n" + postingWorker],
                      allowFaults: faultInjection, shutdownTimeout: "15s", hangTimeout: "3s",
                      environment: ["STEADYPOST_POSTING_LEASE_MS=\(leaseMillis)"] + environment,
                      ready: { report in
                          let posting = report.workers.first { $0.role == .posting }
                          return posting?.state == "running" && (posting?.summary ?? "").hasPrefix("posting for")
                      })
    }
}
