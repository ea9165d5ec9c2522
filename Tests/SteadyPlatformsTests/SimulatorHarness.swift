import Glibc
import SteadyCore
import SteadyHTTP
import SteadySystem
import Testing

@testable import SteadyPlatforms

/// The real `steadypost-sim` executable, run as a separate process on loopback. Found through
/// `STEADYPOST_BIN_DIR` first, else beside the test bundle. Nothing of the simulator's code is
/// imported: the tests speak to it over HTTP only.
enum SimulatorBinary {
    static let path: String? = {
        if let dir = getenv("STEADYPOST_BIN_DIR") {
            let p = String(cString: dir) + "/steadypost-sim"
            return access(p, X_OK) == 0 ? p : nil
        }
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        var dir = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        while let slash = dir.lastIndex(of: "/"), !dir.isEmpty {
            dir = String(dir[..<slash])
            let p = dir + "/steadypost-sim"
            if access(p, X_OK) == 0 { return p }
        }
        return nil
    }()

    static var available: Bool { path != nil }
}

/// One simulator process with its own temporary directory; `stop()` ends it by pid (SIGTERM,
/// then SIGKILL at a deadline), reaps it and removes the directory.
final class SimulatorProcess {
    let dir: String
    let port: Int
    let process: SpawnedProcess
    let admin = HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 2000, totalTimeoutMillis: 10_000))
    private var stopped = false

    var baseURL: String { "http://127.0.0.1:\(port)" }
    var logPath: String { dir + "/sim.log" }

    init(seed: UInt64 = 1, deadlineMillis: Int64 = 15_000) throws {
        var template = Array("/tmp/steadypost-adapters.XXXXXX".utf8CString)
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { throw TestError("mkdtemp failed") }
        dir = String(cString: p)
        guard let binary = SimulatorBinary.path else { throw TestError("steadypost-sim not found") }
        let portFile = dir + "/port"
        let watch = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard watch >= 0 else { throw TestError("inotify_init1: errno \(errno)") }
        defer { close(watch) }
        _ = inotify_add_watch(watch, dir, UInt32(IN_CLOSE_WRITE | IN_MOVED_TO))
        let logFd = open(dir + "/sim.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard logFd >= 0 else { throw TestError("cannot open the simulator log") }
        let log = Descriptor(logFd)
        defer { log.close() }
        var env: [String] = []
        var e = environ
        while let entry = e.pointee {
            env.append(String(cString: entry))
            e += 1
        }
        env.append("SWIFT_BACKTRACE=enable=no")
        process = try spawnProcess(path: binary,
                                   arguments: [binary, "--listen", "127.0.0.1:0", "--port-file", portFile, "--seed", String(seed)],
                                   environment: env, passFds: [], stdout: log, stderr: log)
        // Wait for the port file (inotify) or the process's death (pidfd), up to the deadline.
        let deadline = SteadyClock.monotonicMillis() + deadlineMillis
        var found: Int?
        while found == nil {
            if let text = Files.read(portFile), let v = Int(text.filter { $0.isNumber }), v > 0 {
                found = v
                break
            }
            let left = deadline - SteadyClock.monotonicMillis()
            var fds = [pollfd(fd: watch, events: Int16(POLLIN), revents: 0), pollfd(fd: process.pidfd.raw, events: Int16(POLLIN), revents: 0)]
            if left <= 0 || fds[1].revents != 0 { break }
            _ = poll(&fds, 2, Int32(left))
            var drain = [UInt8](repeating: 0, count: 4096)
            _ = read(watch, &drain, drain.count)
            if fds[1].revents != 0 {
                if let text = Files.read(portFile), let v = Int(text.filter { $0.isNumber }), v > 0 { found = v }
                break
            }
        }
        guard let found else {
            let logText = Files.read(dir + "/sim.log") ?? ""
            Self.end(process)
            _ = Self.removeTree(dir)
            throw TestError("steadypost-sim did not write its port file within \(deadlineMillis) ms; log:\n\(logText.suffix(2000))")
        }
        port = found
    }

    deinit { stop() }

    func stop() {
        guard !stopped else { return }
        stopped = true
        Self.end(process)
        _ = Self.removeTree(dir)
    }

    /// SIGTERM, up to 5 s for the exit (pidfd), then SIGKILL; always reaped.
    static func end(_ process: SpawnedProcess) {
        signalProcess(process, SIGTERM)
        var fds = [pollfd(fd: process.pidfd.raw, events: Int16(POLLIN), revents: 0)]
        let deadline = SteadyClock.monotonicMillis() + 5000
        while (try? reap(pid: process.pid)) == nil {
            let left = deadline - SteadyClock.monotonicMillis()
            if left <= 0 {
                signalProcess(process, SIGKILL)
                _ = waitpid(process.pid, nil, 0)
                break
            }
            _ = poll(&fds, 1, Int32(left))
        }
        process.pidfd.close()
    }

    static func removeTree(_ path: String) -> Bool {
        guard path.hasPrefix("/tmp/steadypost-adapters.") else { return false }
        func remove(_ p: String) {
            var st = stat()
            guard lstat(p, &st) == 0 else { return }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                for name in Files.list(p) ?? [] { remove(p + "/" + name) }
                _ = rmdir(p)
            } else {
                _ = unlink(p)
            }
        }
        remove(path)
        return !Files.exists(path)
    }

    // MARK: admin API

    @discardableResult
    func call(_ method: HTTPMethod, _ path: String, _ body: JSON? = nil) throws -> JSON {
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if body != nil { headers.add("Content-Type", "application/json") }
        let response = try admin.send(HTTPRequest(method: method, url: baseURL + path, headers: headers, body: body?.bytes))
        guard response.isSuccess else {
            throw TestError("simulator admin \(method.rawValue) \(path) → HTTP \(response.status): \(response.text.prefix(300))")
        }
        if response.body.isEmpty { return .null }
        return try JSON.parse(response.body)
    }

    struct Account {
        var name: String
        var platform: Platform
        var userId: String?
        var handle: String?
        var credentials: Credentials
    }

    func createAccount(_ platform: Platform, _ name: String) throws -> Account {
        let j = try call(.post, "/_sim/accounts", .obj([("platform", JSON(platform.rawValue)), ("name", JSON(name))]))
        guard let creds = j["credentials"] else { throw TestError("POST /_sim/accounts: no credentials in \(j.serialized.prefix(200))") }
        return Account(name: name, platform: platform, userId: j["user_id"]?.stringOrNumber, handle: j["handle"]?.string,
                       credentials: try Credentials.parse(creds.serialized, platform: platform))
    }

    /// A fault rule; returns its id.
    @discardableResult
    func fault(_ kind: String, account: String, endpoint: String = "create", count: Int? = 1, extra: [(String, JSON?)] = []) throws -> String {
        var rule: [(String, JSON?)] = [("kind", JSON(kind)), ("endpoint", JSON(endpoint)), ("account", JSON(account))]
        if let count { rule.append(("count", JSON(count))) }
        rule += extra
        return try call(.post, "/_sim/faults", .obj(rule))["id"]?.stringOrNumber ?? ""
    }

    /// Ground truth: every post of the account, oldest first.
    func posts(_ account: String) throws -> [JSON] {
        try call(.get, "/_sim/posts?account=\(URLEncoding.percentEncode(account))")["posts"]?.array ?? []
    }

    @discardableResult
    func inject(_ account: String, _ text: String, createdAtMs: Int64? = nil) throws -> JSON {
        try call(.post, "/_sim/posts", .obj([("account", JSON(account)), ("text", JSON(text)),
                                             ("created_at_ms", createdAtMs.map { JSON.number(Double($0), raw: String($0)) })]))
    }
}

/// An adapter bound to a simulator account, with a client whose total timeout is short enough
/// for hold-response faults.
func makeAdapter(_ sim: SimulatorProcess, _ account: SimulatorProcess.Account, totalTimeoutMillis: Int = 4000) -> any PlatformAdapter {
    let client = HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 2000, totalTimeoutMillis: totalTimeoutMillis))
    return AdapterFactory.make(credentials: account.credentials, baseURL: sim.baseURL, client: client)
}

/// An adapter that starts from given session tokens (e.g. a stale rotation).
func makeAdapterWithSession(_ sim: SimulatorProcess, _ account: SimulatorProcess.Account, _ session: SessionTokens) -> any PlatformAdapter {
    AdapterFactory.make(credentials: account.credentials, baseURL: sim.baseURL, session: session, client: HTTPClient())
}
