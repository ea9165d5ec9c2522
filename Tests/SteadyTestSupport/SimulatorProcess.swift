import Glibc
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadySystem

/// The real `steadypost-sim` executable on a loopback port of its own, in its own temporary
/// directory, spoken to over HTTP only (nothing of the simulator's code is imported).
/// `stop()` (or release) ends it by pid and removes the directory.
public final class SimulatorProcess: @unchecked Sendable {
    public let dir: TempDir
    public let process: SpawnedProcess
    public let port: Int
    let admin = HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 2000, totalTimeoutMillis: 10_000))
    private var stopped = false

    public var baseURL: String { "http://127.0.0.1:\(port)" }
    public var logPath: String { dir.path + "/sim.log" }

    public static var binary: String? { TestBinaries.path("steadypost-sim") }
    public static var available: Bool { binary != nil }

    /// Starts it and waits (inotify on its directory, its pidfd for an early death) until it
    /// has written its port file, up to `deadlineMillis`.
    public init(seed: UInt64 = 1, deadlineMillis: Int64 = 20_000) throws {
        guard let binary = Self.binary else {
            throw TestFailure("steadypost-sim is not built (swift build --product steadypost-sim)")
        }
        dir = TempDir("steadypost-sim")
        let portFile = dir.path + "/port"
        let watch = inotify_init1(Int32(IN_CLOEXEC | IN_NONBLOCK))
        guard watch >= 0 else { throw TestFailure("inotify_init1: errno \(errno)") }
        defer { close(watch) }
        _ = inotify_add_watch(watch, dir.path, UInt32(IN_CLOSE_WRITE | IN_MOVED_TO))
        process = try spawnLogged([binary, "--listen", "127.0.0.1:0", "--port-file", portFile, "--seed", String(seed)], log: dir.path + "/sim.log")
        let deadline = SteadyClock.monotonicMillis() + deadlineMillis
        var found: Int?
        while found == nil {
            if let text = Files.read(portFile), let v = Int(text.filter(\.isNumber)), v > 0 {
                found = v
                break
            }
            let left = deadline - SteadyClock.monotonicMillis()
            if left <= 0 { break }
            var fds = [pollfd(fd: watch, events: Int16(POLLIN), revents: 0), pollfd(fd: process.pidfd.raw, events: Int16(POLLIN), revents: 0)]
            _ = poll(&fds, 2, Int32(left))
            var drain = [UInt8](repeating: 0, count: 4096)
            _ = read(watch, &drain, drain.count)
            if fds[1].revents != 0 {
                if let text = Files.read(portFile), let v = Int(text.filter(\.isNumber)), v > 0 { found = v }
                break
            }
        }
        guard let found else {
            let text = Files.read(dir.path + "/sim.log") ?? ""
            endProcess(process)
            dir.remove()
            throw TestFailure("steadypost-sim did not write its port file within \(deadlineMillis) ms; log:\n\(text.suffix(2000))")
        }
        port = found
    }

    deinit { stop() }

    public func stop() {
        guard !stopped else { return }
        stopped = true
        endProcess(process)
        dir.remove()
    }

    // MARK: The admin API (SIMULATOR.md)

    @discardableResult
    public func call(_ method: HTTPMethod, _ path: String, _ body: JSON? = nil) throws -> JSON {
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if body != nil { headers.add("Content-Type", "application/json") }
        let response = try admin.send(HTTPRequest(method: method, url: baseURL + path, headers: headers, body: body?.bytes))
        guard response.isSuccess else {
            throw TestFailure("simulator \(method.rawValue) \(path) → HTTP \(response.status): \(response.text.prefix(300))")
        }
        return response.body.isEmpty ? .null : try JSON.parse(response.body)
    }

    /// Creates an account; the answer holds `credentials`, `user_id` and `handle`.
    public func newAccount(_ platform: Platform, _ name: String) throws -> JSON {
        try call(.post, "/_sim/accounts", .obj([("platform", JSON(platform.rawValue)), ("name", JSON(name))]))
    }

    /// Creates the account and writes its credentials file (0600) into `credentialsDir`.
    public func createAccount(_ platform: Platform, _ name: String, credentialsDir: String) throws {
        guard let creds = try newAccount(platform, name)["credentials"] else { throw TestFailure("no credentials for \(name)") }
        try Files.writeAtomically(credentialsDir + "/\(name).json", creds.serialized, mode: 0o600)
    }

    /// A fault rule; `count` nil: every matching request. Returns its id.
    @discardableResult
    public func fault(_ kind: String, account: String, endpoint: String = "create", count: Int? = 1, extra: [(String, JSON?)] = []) throws -> String {
        var rule: [(String, JSON?)] = [("kind", JSON(kind)), ("endpoint", JSON(endpoint)), ("account", JSON(account))]
        if let count { rule.append(("count", JSON(count))) }
        return try call(.post, "/_sim/faults", .obj(rule + extra))["id"]?.stringOrNumber ?? ""
    }

    public func clearFaults() throws { try call(.delete, "/_sim/faults") }

    /// Ground truth: every post of `account` ever created, oldest first.
    public func posts(_ account: String) throws -> [JSON] {
        try call(.get, "/_sim/posts?account=\(URLEncoding.percentEncode(account))")["posts"]?.array ?? []
    }

    /// The request log, oldest first.
    public func requests(limit: Int = 2000) throws -> [JSON] {
        try call(.get, "/_sim/requests?limit=\(limit)")["requests"]?.array ?? []
    }

    /// The requests it served whose path starts with `prefix`.
    public func requests(pathPrefix prefix: String) throws -> [JSON] {
        try requests().filter { ($0["path"]?.string ?? "").hasPrefix(prefix) }
    }

    /// A post made on the platform behind our back (an orphan, a duplicate, a timeline):
    /// its platform id.
    @discardableResult
    public func inject(_ account: String, _ text: String, rkey: String? = nil, createdAtMs: Int64? = nil) throws -> String {
        let j = try call(.post, "/_sim/posts", .obj([("account", JSON(account)), ("text", JSON(text)), ("rkey", rkey.map(JSON.init)),
                                                     ("created_at_ms", createdAtMs.map { JSON.number(Double($0), raw: String($0)) })]))
        guard let id = j["id"]?.stringOrNumber else { throw TestFailure("the simulator's injected post has no id: \(j.serialized)") }
        return id
    }

    /// The platform id of the ground-truth post with `text`.
    public func platformId(_ account: String, text: String) throws -> String? {
        try posts(account).first { $0["text"]?.string == text }?["id"]?.stringOrNumber
    }

    /// Injects a mention of `account` by `from`; returns the simulator's answer (ids).
    @discardableResult
    public func mention(_ account: String, from: String, text: String) throws -> JSON {
        try call(.post, "/_sim/mentions", .obj([("account", JSON(account)), ("from", JSON(from)), ("text", JSON(text))]))
    }
}
