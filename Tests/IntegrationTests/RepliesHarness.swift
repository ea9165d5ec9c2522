import Glibc
import SteadyControl
import SteadyCore
import SteadyPlatforms
import SteadyProtocol
import SteadyStore
import SteadySystem

/// What the metrics and replies tests add to the posting harness: their workers' own keys in
/// the config, their routed methods, their heartbeat counters, and the store file itself.
extension PostingDaemon {
    /// Adds `lines` to the `[workers.ROLE]` table of the config; call before `start()`.
    func configure(_ role: Role, _ lines: String) throws {
        guard let text = Files.read(configPath) else { throw TestFailure("no config at \(configPath)") }
        let header = "[workers.\(role.rawValue)]\n"
        guard text.contains(header) else { throw TestFailure("no \(header) in the config") }
        try Files.writeAtomically(configPath, text.replacing(header, with: header + lines + "\n", maxReplacements: 1))
    }

    var storePath: String { dir.path + "/state/steadypost.db" }

    /// A routed method of any role (`metrics.show`, `replies.mentions`, ...).
    func roleCall(_ method: String, _ body: JSON = .obj([])) throws -> JSON {
        try JSON.parse(try client.call(method: method, body: body.bytes))
    }

    /// The role's status once its summary starts with `prefix` (its engine runs).
    @discardableResult
    func waitWorker(_ role: Role, summaryPrefix prefix: String) throws -> WorkerStatus {
        try waitFor("the \(role.rawValue) engine running", timeoutMillis: 30_000) { () -> WorkerStatus? in
            guard let w = try? self.client.status().workers.first(where: { $0.role == role }) else { return nil }
            if let pid = w.pid { self.knownPids.insert(pid) }
            return w.state == "running" && (w.summary ?? "").hasPrefix(prefix) ? w : nil
        }
    }

    /// The counters of the role's last heartbeat.
    func counters(_ role: Role) throws -> [String: Int64] {
        try client.status().workers.first(where: { $0.role == role })?.counters ?? [:]
    }

    /// Waits until the role's counter `name` reaches `value`; returns all its counters.
    @discardableResult
    func waitCounter(_ role: Role, _ name: String, atLeast value: Int64, timeoutMillis: Int64 = 30_000) throws -> [String: Int64] {
        try waitFor("\(role.rawValue) counter \(name) ≥ \(value)", timeoutMillis: timeoutMillis) { () -> [String: Int64]? in
            let c = try self.counters(role)
            return (c[name] ?? 0) >= value ? c : nil
        }
    }
}

extension Sim {
    /// The requests the simulator served whose path starts with `prefix`.
    func requests(pathPrefix prefix: String) throws -> [JSON] {
        try requests().filter { ($0["path"]?.string ?? "").hasPrefix(prefix) }
    }

    /// Injects a mention of `account` by `from`; returns the simulator's answer (ids).
    @discardableResult
    func mention(_ account: String, from: String, text: String) throws -> JSON {
        try call(.post, "/_sim/mentions", .obj([("account", JSON(account)), ("from", JSON(from)), ("text", JSON(text))]))
    }
}
