import Glibc
import SteadyControl
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyProtocol
import SteadySystem

/// The posting tests' processes: the real `steadypost-sim` and a real `steadypostd run` whose
/// directory survives restarts (F20, F24), both ended by pid.

/// `steadypost-sim` on a loopback port of its own (SteadyTestSupport).
typealias Sim = SimulatorProcess

/// A supervisor over a directory that outlives it: `start()` may be called again after a
/// kill, on the same config, store and journal.
final class PostingDaemon {
    let dir: TempDir
    let configPath: String
    let environment: [String]
    var process: SpawnedProcess?
    var exited: ExitStatus?
    var knownPids: Set<Int32> = []
    var starts = 0

    var credentialsDir: String { dir.path + "/credentials" }
    var socketPath: String { dir.path + "/run/control.sock" }
    var client: ControlClient { ControlClient(socketPath: socketPath, timeoutMillis: 20_000) }
    func logPath(_ n: Int) -> String { dir.path + "/daemon.\(n).log" }

    /// `accounts`: (platform, name, quota TOML or nil) — the sim creates them and writes their
    /// credentials. `leaseMillis` shortens the claim lease (and with it the request timeout).
    /// `postingWorker`: more `[workers.posting]` lines (e.g. a restart policy for tests that
    /// kill the worker many times).
    init(sim: Sim, accounts: [(Platform, String, String?)], concurrency: Int = 4, leaseMillis: Int64 = 8000,
         environment: [String] = [], drainTimeout: String = "5s", postingWorker: String = "", faultInjection: Bool = true) throws {
        dir = TempDir("steadypost-posting")
        configPath = dir.path + "/steadypost.toml"
        let credentialsDir = dir.path + "/credentials"
        try Files.makeDirectories(credentialsDir, mode: 0o700)
        var toml = """
        [daemon]
        state_dir = "\(dir.path)/state"
        runtime_dir = "\(dir.path)/run"
        credentials_dir = "\(credentialsDir)"
        allow_fault_injection = \(faultInjection)
        shutdown_timeout = "15s"

        [api]
        listen = "127.0.0.1:0"


        """
        for role in Role.allCases {
            toml += "[workers.\(role.rawValue)]\nheartbeat_interval = \"100ms\"\nhang_timeout = \"3s\"\nterm_grace = \"500ms\"\nrestart_base_delay = \"50ms\"\n"
            if role == .posting { toml += "concurrency = \(concurrency)\ndrain_timeout = \"\(drainTimeout)\"\n" + postingWorker }
            toml += "\n"
        }
        for (platform, name, quota) in accounts {
            try sim.createAccount(platform, name, credentialsDir: credentialsDir)
            toml += """
            [[accounts]]
            name = "\(name)"
            platform = "\(platform.rawValue)"
            base_url = "\(sim.baseURL)"
            credentials = "\(name).json"
            \(quota.map { "quota = \($0)" } ?? "")


            """
        }
        try Files.writeAtomically(configPath, toml)
        self.environment = currentEnvironment().filter { !$0.hasPrefix("NOTIFY_SOCKET=") && !$0.hasPrefix("LISTEN_") }
            + ["SWIFT_BACKTRACE=enable=no", "STEADYPOST_POSTING_LEASE_MS=\(leaseMillis)"] + environment
    }

    /// Starts a supervisor and waits until the posting worker runs the engine.
    func start() throws {
        starts += 1
        let log = open(logPath(starts), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard log >= 0 else { throw TestFailure("cannot open the daemon log") }
        let logFd = Descriptor(log)
        defer { logFd.close() }
        process = try spawnProcess(path: Binaries.daemon, arguments: [Binaries.daemon, "run", "--config", configPath],
                                   environment: environment, passFds: [], stdout: logFd, stderr: logFd)
        exited = nil
        _ = try waitFor("the posting engine running", timeoutMillis: 20_000) { () -> Bool? in
            guard let report = try? self.client.status() else { return nil }
            for w in report.workers { if let pid = w.pid { self.knownPids.insert(pid) } }
            let posting = report.workers.first { $0.role == .posting }
            return posting?.state == "running" && (posting?.summary ?? "").hasPrefix("posting for") ? true : nil
        }
    }

    /// The fault entries that have fired (`state_dir/faults.fired`): entry → post id.
    func firedFaults() -> [String: String] {
        var out: [String: String] = [:]
        for line in (Files.read(dir.path + "/state/faults.fired") ?? "").split(separator: "\n") {
            let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
            if parts.count == 2 { out[parts[0]] = parts[1] }
        }
        return out
    }

    func postingPid() throws -> Int32 {
        let report = try client.status()
        for w in report.workers { if let pid = w.pid { knownPids.insert(pid) } }
        guard let pid = report.workers.first(where: { $0.role == .posting })?.pid else { throw TestFailure("no posting worker") }
        return pid
    }

    /// Sends `signal` to the supervisor and waits (up to `timeoutMillis`) for it to exit.
    @discardableResult
    func stop(signal: Int32, timeoutMillis: Int64 = 20_000) throws -> ExitStatus {
        guard let process else { throw TestFailure("not running") }
        if let status = try? client.status() { for w in status.workers { if let pid = w.pid { knownPids.insert(pid) } } }
        signalProcess(process, signal)
        let status: ExitStatus = try waitFor("the supervisor's exit", timeoutMillis: timeoutMillis) { () -> ExitStatus? in
            if let s = try? reap(pid: process.pid) { return s }
            var pfd = pollfd(fd: process.pidfd.raw, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 50)
            return nil
        }
        exited = status
        self.process = nil
        return status
    }

    /// Waits until every worker of the earlier supervisors is gone (they exit when their
    /// supervisor does: socket EOF or PDEATHSIG).
    func waitWorkersGone() throws {
        _ = try waitFor("the old workers to exit", timeoutMillis: 20_000) { () -> Bool? in
            knownPids.filter { isAlive($0) && isOurs($0) }.isEmpty ? true : nil
        }
    }

    func isOurs(_ pid: Int32) -> Bool { (Files.read("/proc/\(pid)/cmdline") ?? "").contains(configPath) }

    // MARK: the posting worker's routed methods

    func call(_ method: String, _ body: JSON) throws -> JSON {
        let answer = try client.call(method: "posting.\(method)", body: body.bytes)
        return try JSON.parse(answer)
    }

    func post(_ account: String, _ text: String, at: Int64? = nil) throws -> String {
        let body = JSON.obj([("account", JSON(account)), ("text", JSON(text)), ("at", at.map { .number(Double($0), raw: String($0)) })])
        guard let id = try call("create", body)["id"]?.string else { throw TestFailure("create answered without an id") }
        return id
    }

    /// One batch (all or nothing, one store transaction): its post ids in order. Tests that
    /// crash the worker create everything up front, so no create can be cut off by a crash.
    func postBatch(_ posts: [(account: String, text: String)]) throws -> [String] {
        let items = posts.map { JSON.obj([("account", JSON($0.account)), ("text", JSON($0.text))]) }
        let answer = try call("create", .obj([("posts", .array(items))]))
        let ids = (answer["posts"]?.array ?? []).compactMap { $0["id"]?.string }
        guard ids.count == posts.count else { throw TestFailure("the batch answered \(ids.count) ids for \(posts.count) posts") }
        return ids
    }

    func jobs(account: String? = nil, state: String? = nil) throws -> [JSON] {
        try call("list", .obj([("account", account.map(JSON.init)), ("state", state.map(JSON.init))])).array ?? []
    }

    func show(_ id: String) throws -> JSON { try call("show", .obj([("id", JSON(id))])) }

    func accounts() throws -> [JSON] { try call("accounts", .obj([]))["accounts"]?.array ?? [] }

    func account(_ name: String) throws -> JSON {
        guard let a = try accounts().first(where: { $0["name"]?.string == name }) else { throw TestFailure("no account \(name)") }
        return a
    }

    func counters() throws -> JSON { try call("accounts", .obj([]))["counters"] ?? .null }

    /// Waits until every post of `ids` is in `state`; returns them by id.
    @discardableResult
    func waitStates(_ ids: [String], _ state: String, timeoutMillis: Int64 = 30_000) throws -> [String: JSON] {
        try waitFor("\(ids.count) post(s) \(state)", timeoutMillis: timeoutMillis) { () -> [String: JSON]? in
            guard let all = try? self.jobs() else { return nil }
            let byId = Dictionary(all.compactMap { j in j["id"]?.string.map { ($0, j) } }, uniquingKeysWith: { a, _ in a })
            return ids.allSatisfy({ byId[$0]?["state"]?.string == state }) ? byId : nil
        }
    }

    func cli(_ args: [String]) -> (code: Int32, stdout: String, stderr: String) {
        spawnAndWait([Binaries.cli] + args + ["--socket", socketPath])
    }

    func log() -> String { (1...max(1, starts)).map { Files.read(logPath($0)) ?? "" }.joined(separator: "\n----\n") }

    func cleanUp() {
        if let process {
            endProcess(process, graceMillis: 10_000)
            self.process = nil
        }
        for pid in knownPids where isAlive(pid) && isOurs(pid) { kill(pid, SIGKILL) }
        dir.remove()
    }

    deinit { cleanUp() }
}

extension JSON {
    var int64: Int64? { stringOrNumber.flatMap { Int64($0) } }
}
