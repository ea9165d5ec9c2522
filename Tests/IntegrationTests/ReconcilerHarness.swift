import SteadyCore
import SteadyPlatforms
import SteadyProtocol
import SteadyTestSupport

/// The reconciler's part of the shared `DaemonProcess`: its first pass, the operator's
/// `steadypost reconcile`, and what its reports are compared by.
extension DaemonProcess {
    /// Waits until the reconciler's quick pass has succeeded once (it runs at the worker's
    /// start), so the test's own changes cannot be picked up by that pass.
    func waitFirstQuickPass() throws {
        try waitWorker(.reconciler, "the reconciler's first quick pass", timeoutMillis: 60_000) { w -> Bool? in
            (w.counters?["job.reconcile-quick.last_success_ms"] ?? 0) > 0 ? true : nil
        }
    }

    /// `steadypost reconcile ARGS --json`: the exit code and the report (nil when none).
    func reconcile(_ args: [String]) -> (code: Int32, report: JSON?, stderr: String) {
        let r = cli(["reconcile"] + args + ["--json", "--timeout", "120"], timeoutMillis: 150_000)
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
