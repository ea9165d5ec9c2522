import SteadyCore
import SteadyPlatforms
import SteadyProtocol
import SteadyTestSupport

/// The posting worker's routed methods (`posting.*`), on the shared `DaemonProcess`.
extension DaemonProcess {
    func postingPid() throws -> Int32 {
        guard let pid = try worker(.posting).pid else { throw TestFailure("no posting worker") }
        return pid
    }

    func call(_ method: String, _ body: JSON) throws -> JSON { try routed("posting.\(method)", body) }

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
        try SteadyTestSupport.waitFor("\(ids.count) post(s) \(state)", timeoutMillis: timeoutMillis) { () -> [String: JSON]? in
            guard let all = try? self.jobs() else { return nil }
            let byId = Dictionary(all.compactMap { j in j["id"]?.string.map { ($0, j) } }, uniquingKeysWith: { a, _ in a })
            return ids.allSatisfy({ byId[$0]?["state"]?.string == state }) ? byId : nil
        }
    }
}

extension JSON {
    var int64: Int64? { stringOrNumber.flatMap { Int64($0) } }
}
