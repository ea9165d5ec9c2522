import Glibc
import SteadyControl
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyProtocol
import SteadySystem

/// A real daemon (with the real `steadypost-api` worker) against the real simulator, spoken
/// to over loopback HTTP like any client of the API.
final class APIDaemon {
    let sim: SimulatorProcess
    let daemon: DaemonProcess
    private(set) var port = 0
    let http = HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 2000, totalTimeoutMillis: 30_000))

    var base: String { "http://127.0.0.1:\(port)" }

    /// `health`: extra `[health]` TOML; `api`: extra `[api]` lines; `apiWorker`: extra
    /// `[workers.api]` lines.
    init(accounts: [(Platform, String, String?)] = [(.x, "news-x", nil)], health: String = "", api: String = "", apiWorker: String = "",
         faultInjection: Bool = true) throws {
        sim = try SimulatorProcess()
        daemon = try DaemonProcess(sim: sim, accounts: accounts, faultInjection: faultInjection)
        if !health.isEmpty { try daemon.editConfig { $0 + "\n[health]\n" + health + "\n" } }
        if !api.isEmpty { try daemon.addToTable("api", api) }
        if !apiWorker.isEmpty { try daemon.configure(.api, apiWorker) }
        try daemon.start()
        port = try daemon.waitWorker(.api, "the api worker serving", timeoutMillis: 30_000) { w -> Int? in
            guard w.state == "running", let summary = w.summary, summary.hasPrefix("serving HTTP on 127.0.0.1:") else { return nil }
            return Int(summary.dropFirst("serving HTTP on 127.0.0.1:".count).prefix { $0.isNumber })
        }
    }

    /// A token made the operator's way.
    func createToken(_ name: String) throws -> String {
        let r = daemon.cli(["token", "create", name])
        guard r.code == 0 else { throw TestFailure("token create \(name) → \(r.code): \(r.stderr)") }
        let token = r.stdout.trimmingWhitespace()
        guard token.hasPrefix("spt_") else { throw TestFailure("token create printed \(r.stdout)") }
        return token
    }

    func send(_ method: HTTPMethod, _ path: String, token: String? = nil, body: JSON? = nil) throws -> HTTPResponse {
        var headers: HTTPHeaders = ["Accept": "application/json"]
        if let token { headers.add("Authorization", "Bearer \(token)") }
        if body != nil { headers.add("Content-Type", "application/json") }
        return try http.send(HTTPRequest(method: method, url: base + path, headers: headers, body: body?.bytes))
    }

    /// The body as JSON, after checking the status.
    func json(_ method: HTTPMethod, _ path: String, token: String?, body: JSON? = nil, expect status: Int) throws -> JSON {
        let r = try send(method, path, token: token, body: body)
        guard r.status == status else { throw TestFailure("\(method.rawValue) \(path) → \(r.status), expected \(status): \(r.text.prefix(400))") }
        return try JSON.parse(r.body)
    }

    /// Schedules one post for now through the API and waits until it is posted; its id.
    @discardableResult
    func postNow(_ text: String, token: String, account: String = "news-x") throws -> String {
        let created = try json(.post, "/api/posts", token: token, body: .obj([("account", JSON(account)), ("text", JSON(text))]), expect: 201)
        guard let id = created["id"]?.string else { throw TestFailure("POST /api/posts answered without an id: \(created.serialized)") }
        try daemon.waitStates([id], "posted")
        return id
    }

    func health() throws -> JSON {
        let r = try send(.get, "/health")
        guard r.status == 200 || r.status == 503 else { throw TestFailure("/health → \(r.status): \(r.text.prefix(300))") }
        return try JSON.parse(r.body)
    }

    func cleanUp() {
        daemon.cleanUp()
        sim.stop()
    }

    deinit { cleanUp() }
}

extension String {
    func trimmingWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
        return String(drop(while: isSpace).reversed().drop(while: isSpace).reversed())
    }
}
