import Glibc
import Testing
import FoundationEssentials
import SteadyControl
import SteadyCore
import SteadyProtocol
import SteadySystem

/// Requests from one worker to another role (`WorkerOutbox`), through the real supervisor:
/// the test-only `relay` method makes a worker send the request it is given and answer with
/// what came back.
@Suite("worker outbox", .serialized, .timeLimit(.minutes(2)))
struct OutboxRoutingTests {
    func relay(_ d: DaemonProcess, from role: Role, _ method: String, body: String = "{}", timeoutMs: Int = 5000) -> (code: Int32, stdout: String, stderr: String) {
        let request = #"{"method":"\#(method)","body":\#(jsonString(body)),"timeout_ms":\#(timeoutMs)}"#
        return d.cli(["debug", "call", "\(role.rawValue).relay", request])
    }

    func jsonString(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }

    @Test("a worker's request reaches another worker and the answer comes back")
    func workerToWorker() throws {
        let d = try DaemonProcess.started()
        defer { d.cleanUp() }
        try d.waitAllRunning()
        let out = relay(d, from: .replies, "metrics.ping", body: #"{"from":"replies"}"#)
        #expect(out.code == 0, "\(out.stderr)")
        #expect(out.stdout == #"{"from":"replies"}"# + "\n")
        // The target's own refusal comes back as the target gave it.
        let unsupported = relay(d, from: .replies, "metrics.frobnicate")
        #expect(unsupported.code == 1)
        #expect(unsupported.stderr.contains("metrics has no method frobnicate"), "\(unsupported.stderr)")
    }

    @Test("supervisor.status answers a worker with the supervisor's own view")
    func supervisorStatus() throws {
        let d = try DaemonProcess.started()
        defer { d.cleanUp() }
        let before = try d.waitAllRunning()
        let out = relay(d, from: .api, "supervisor.status")
        #expect(out.code == 0, "\(out.stderr)")
        let report = try JSONDecoder().decode(StatusReport.self, from: Data(out.stdout.utf8))
        #expect(report.supervisor_pid == before.supervisor_pid)
        #expect(Set(report.workers.map(\.role)) == Set(Role.allCases))
        // Every running worker's heartbeat figures ride along.
        let posting = report.workers.first { $0.role == .posting }!
        #expect((posting.counters?["heartbeats"] ?? 0) >= 1)
        #expect(report.late_jobs == 0)
    }

    @Test("a request to a stopped role is refused at once; one never answered times out at its deadline")
    func refusalsAndDeadlines() throws {
        let d = try DaemonProcess.started(heartbeat: "100ms", hangTimeout: "30s")
        defer { d.cleanUp() }
        try d.waitAllRunning()
        #expect(d.cli(["stop", "metrics"]).code == 0)
        let stopped = relay(d, from: .replies, "metrics.ping")
        #expect(stopped.code == 1)
        #expect(stopped.stderr.contains("metrics worker is stopped"), "\(stopped.stderr)")
        #expect(d.cli(["debug", "fault", "browser", "hang"]).code == 0)
        let hung = relay(d, from: .replies, "browser.ping", timeoutMs: 300)
        #expect(hung.code == 1)
        #expect(hung.stderr.contains("did not answer browser.ping by its deadline") || hung.stderr.contains("no answer by the deadline"),
                "\(hung.stderr)")
        // The asking worker's loop is unharmed: it still answers.
        #expect(d.cli(["debug", "call", "replies.ping", "{}"]).code == 0)
    }

    @Test("relay is refused when fault injection is off")
    func relayNeedsTestSwitch() throws {
        let d = try DaemonProcess.started(allowFaults: false)
        defer { d.cleanUp() }
        try d.waitAllRunning()
        let out = relay(d, from: .replies, "metrics.ping")
        #expect(out.code == 1)
        #expect(out.stderr.contains("relay is a test method, answered only with daemon.allow_fault_injection = true"), "\(out.stderr)")
    }
}
