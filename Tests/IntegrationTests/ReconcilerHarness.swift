import Glibc
import SteadyControl
import SteadyCore
import SteadyPlatforms
import SteadyProtocol
import SteadySystem

/// The reconciler tests' daemon: the posting tests' `PostingDaemon` (real supervisor, real
/// simulator) with `[workers.reconciler]` keys added, and the reconciler's routed methods.
extension PostingDaemon {
    /// Adds `lines` (TOML keys) to the config's `[workers.reconciler]` table; before `start()`.
    func configureReconciler(_ lines: String) throws {
        guard let toml = Files.read(configPath) else { throw TestFailure("cannot read \(configPath)") }
        let header = "[workers.reconciler]\n"
        guard toml.contains(header) else { throw TestFailure("no [workers.reconciler] table in the test config") }
        try Files.writeAtomically(configPath, toml.replacing(header, with: header + lines + "\n"))
    }

    func reconcilerStatus() throws -> WorkerStatus {
        guard let w = try client.status().workers.first(where: { $0.role == .reconciler }) else { throw TestFailure("no reconciler in status") }
        return w
    }

    /// Waits until the reconciler's quick pass has succeeded once (it runs at the worker's
    /// start), so the test's own changes cannot be picked up by that pass.
    func waitFirstQuickPass() throws {
        _ = try waitFor("the reconciler's first quick pass", timeoutMillis: 60_000) { () -> Bool? in
            let w = try self.reconcilerStatus()
            return (w.counters?["job.reconcile-quick.last_success_ms"] ?? 0) > 0 ? true : nil
        }
    }

    /// `steadypost reconcile ARGS --json`: the exit code and the report (nil when none).
    func reconcile(_ args: [String]) -> (code: Int32, report: JSON?, stderr: String) {
        let r = spawnAndWait([Binaries.cli, "reconcile"] + args + ["--json", "--timeout", "120", "--socket", socketPath], timeoutMillis: 150_000)
        return (r.code, try? JSON.parse(r.stdout), r.stderr)
    }

    /// The account's part of a report.
    static func accountReport(_ report: JSON?, _ account: String) throws -> JSON {
        guard let a = report?["accounts"]?.array?.first(where: { $0["account"]?.string == account }) else {
            throw TestFailure("no report for \(account) in \(report?.serialized ?? "nil")")
        }
        return a
    }

    /// Every post's (state, platform id) by id: what "a second run changes nothing" compares.
    func storeSnapshot() throws -> [String: String] {
        var out: [String: String] = [:]
        for j in try jobs() { out[j["id"]?.string ?? "?"] = "\(j["state"]?.string ?? "-")|\(j["platform_id"]?.string ?? "-")" }
        return out
    }
}

extension Sim {
    /// Injects a post straight onto an account's timeline (an orphan or a duplicate).
    @discardableResult
    func inject(_ account: String, _ text: String, rkey: String? = nil) throws -> String {
        let j = try call(.post, "/_sim/posts", .obj([("account", JSON(account)), ("text", JSON(text)), ("rkey", rkey.map(JSON.init))]))
        guard let id = j["id"]?.stringOrNumber else { throw TestFailure("the simulator's injected post has no id: \(j.serialized)") }
        return id
    }

    /// The platform id of the ground-truth post with `text`.
    func platformId(_ account: String, text: String) throws -> String? {
        try posts(account).first { $0["text"]?.string == text }?["id"]?.stringOrNumber
    }
}
