import Glibc
import SteadyControl
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyProtocol
import SteadySystem

/// The posting tests' processes: the real `steadypost-sim` and a real `steadypostd run` whose
/// directory survives restarts (F20, F24), both ended by pid.

/// `steadypost-sim` on a loopback port of its own, spoken to over HTTP only.
final class Sim {
    let dir: TempDir
    let process: SpawnedProcess
    let port: Int
    let admin = HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 2000, totalTimeoutMillis: 10_000))
    private var stopped = false

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var logPath: String { dir.path + "/sim.log" }
    static var binary: String { Binaries.directory + "/steadypost-sim" }

    init(seed: UInt64 = 1) throws {
        dir = TempDir("steadypost-sim")
        let portFile = dir.path + "/port"
        let log = open(dir.path + "/sim.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard log >= 0 else { throw TestFailure("cannot open the simulator log") }
        let logFd = Descriptor(log)
        defer { logFd.close() }
        guard access(Self.binary, X_OK) == 0 else { throw TestFailure("\(Self.binary) is not built") }
        process = try spawnProcess(path: Self.binary,
                                   arguments: [Self.binary, "--listen", "127.0.0.1:0", "--port-file", portFile, "--seed", String(seed)],
                                   environment: currentEnvironment() + ["SWIFT_BACKTRACE=enable=no"], passFds: [], stdout: logFd, stderr: logFd)
        // The port file appears once the server accepts connections.
        var found: Int?
        let deadline = SteadyClock.monotonicMillis() + 20_000
        while found == nil, SteadyClock.monotonicMillis() < deadline {
            if let text = Files.read(portFile), let v = Int(text.filter(\.isNumber)), v > 0 { found = v; break }
            var pfd = pollfd(fd: process.pidfd.raw, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 10) == 1 { break }  // it exited
        }
        guard let found else {
            let text = Files.read(dir.path + "/sim.log") ?? ""
            signalProcess(process, SIGKILL)
            _ = waitpid(process.pid, nil, 0)
            throw TestFailure("steadypost-sim did not start:\n\(text.suffix(2000))")
        }
        port = found
    }

    deinit { stop() }

    func stop() {
        guard !stopped else { return }
        stopped = true
        signalProcess(process, SIGTERM)
        let deadline = SteadyClock.monotonicMillis() + 5000
        while (try? reap(pid: process.pid)) == nil {
            if SteadyClock.monotonicMillis() > deadline {
                signalProcess(process, SIGKILL)
                _ = waitpid(process.pid, nil, 0)
                break
            }
            var pfd = pollfd(fd: process.pidfd.raw, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 100)
        }
        dir.remove()
    }

    @discardableResult
    func call(_ method: HTTPMethod, _ path: String, _ body: JSON? = nil) throws -> JSON {
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if body != nil { headers.add("Content-Type", "application/json") }
        let response = try admin.send(HTTPRequest(method: method, url: baseURL + path, headers: headers, body: body?.bytes))
        guard response.isSuccess else { throw TestFailure("sim \(method.rawValue) \(path) → \(response.status): \(response.text.prefix(300))") }
        return response.body.isEmpty ? .null : try JSON.parse(response.body)
    }

    /// Creates the account and writes its credentials file (0600) into `credentialsDir`.
    func createAccount(_ platform: Platform, _ name: String, credentialsDir: String) throws {
        let j = try call(.post, "/_sim/accounts", .obj([("platform", JSON(platform.rawValue)), ("name", JSON(name))]))
        guard let creds = j["credentials"] else { throw TestFailure("no credentials for \(name)") }
        try Files.writeAtomically(credentialsDir + "/\(name).json", creds.serialized, mode: 0o600)
    }

    /// A fault rule (SIMULATOR.md); `count` nil: every matching request.
    @discardableResult
    func fault(_ kind: String, account: String, endpoint: String = "create", count: Int? = 1, extra: [(String, JSON?)] = []) throws -> String {
        var rule: [(String, JSON?)] = [("kind", JSON(kind)), ("endpoint", JSON(endpoint)), ("account", JSON(account))]
        if let count { rule.append(("count", JSON(count))) }
        return try call(.post, "/_sim/faults", .obj(rule + extra))["id"]?.stringOrNumber ?? ""
    }

    func clearFaults() throws { try call(.delete, "/_sim/faults") }

    /// Ground truth: every post of `account` ever created, oldest first.
    func posts(_ account: String) throws -> [JSON] {
        try call(.get, "/_sim/posts?account=\(account)")["posts"]?.array ?? []
    }

    func requests(limit: Int = 2000) throws -> [JSON] {
        try call(.get, "/_sim/requests?limit=\(limit)")["requests"]?.array ?? []
    }
}

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
         environment: [String] = [], drainTimeout: String = "5s", postingWorker: String = "") throws {
        dir = TempDir("steadypost-posting")
        configPath = dir.path + "/steadypost.toml"
        let credentialsDir = dir.path + "/credentials"
        try Files.makeDirectories(credentialsDir, mode: 0o700)
        var toml = """
        [daemon]
        state_dir = "\(dir.path)/state"
        runtime_dir = "\(dir.path)/run"
        credentials_dir = "\(credentialsDir)"
        allow_fault_injection = true
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
            signalProcess(process, SIGTERM)
            let deadline = SteadyClock.monotonicMillis() + 10_000
            while (try? reap(pid: process.pid)) == nil {
                if SteadyClock.monotonicMillis() > deadline {
                    signalProcess(process, SIGKILL)
                    _ = waitpid(process.pid, nil, 0)
                    break
                }
                var pfd = pollfd(fd: process.pidfd.raw, events: Int16(POLLIN), revents: 0)
                _ = poll(&pfd, 1, 100)
            }
            self.process = nil
        }
        for pid in knownPids where isAlive(pid) && isOurs(pid) { kill(pid, SIGKILL) }
        dir.remove()
    }

    deinit { cleanUp() }
}

/// Samples `condition` until it gives a value or the deadline passes (waiting for a state,
/// not guessing a time).
func waitFor<T>(_ what: String, timeoutMillis: Int64, _ condition: () throws -> T?) throws -> T {
    let deadline = SteadyClock.monotonicMillis() + timeoutMillis
    var lastError = ""
    while SteadyClock.monotonicMillis() < deadline {
        do {
            if let value = try condition() { return value }
        } catch {
            lastError = " (last error: \(error))"
        }
        var ts = timespec(tv_sec: 0, tv_nsec: 10_000_000)
        _ = nanosleep(&ts, nil)
    }
    throw TestFailure("timed out after \(timeoutMillis) ms waiting for \(what)\(lastError)")
}

extension JSON {
    var int64: Int64? { stringOrNumber.flatMap { Int64($0) } }
}
