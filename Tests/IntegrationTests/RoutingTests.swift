import Glibc
import Testing
import SteadyControl
import SteadyCore
import SteadyProtocol
import SteadySystem

/// ROLE.method requests, routed by the supervisor to a worker and back, with deadlines.
@Suite("routing", .serialized, .timeLimit(.minutes(2)))
struct RoutingTests {
    @Test("a CLI request reaches the worker's loop and its answer comes back")
    func roundTrip() throws {
        let d = try DaemonProcess.started()
        defer { d.cleanUp() }
        try d.waitAllRunning()
        let out = d.cli(["debug", "call", "posting.ping", #"{"hello":"worker"}"#])
        #expect(out.code == 0, "\(out.stderr)")
        #expect(out.stdout == #"{"hello":"worker"}"# + "\n")
        let unsupported = d.cli(["debug", "call", "metrics.frobnicate"])
        #expect(unsupported.code == 1)
        #expect(unsupported.stderr.contains("metrics has no method frobnicate"))
    }

    @Test("a request to a stopped worker is refused at once")
    func stoppedWorker() throws {
        let d = try DaemonProcess.started()
        defer { d.cleanUp() }
        try d.waitAllRunning()
        #expect(d.cli(["stop", "replies"]).code == 0)
        let out = d.cli(["debug", "call", "replies.ping"])
        #expect(out.code == 1)
        #expect(out.stderr.contains("replies worker is stopped"))
    }

    @Test("a worker that never answers: the asker gets a timeout at the deadline; one that dies: an error at once")
    func deadlinesAndDeath() throws {
        let d = try DaemonProcess.started(heartbeat: "100ms", hangTimeout: "30s")
        defer { d.cleanUp() }
        let report = try d.waitAllRunning()
        let pid = report.workers.first { $0.role == .browser }!.pid!
        #expect(d.cli(["debug", "fault", "browser", "hang"]).code == 0)
        // Deadline: the client gives 2 s.
        let timedOut = ControlClient(socketPath: d.socketPath, timeoutMillis: 2000)
        #expect {
            _ = try timedOut.call(method: "browser.ping", body: Array("{}".utf8))
        } throws: { error in
            guard let e = error as? ControlClientError, case .refused(let code, _) = e else { return false }
            return code == "timeout"
        }
        // Death: a request is pending when the worker is killed.
        let cli = try spawnLogged([TestBinaries.cli, "debug", "call", "browser.ping", "--socket", d.socketPath], log: d.dir.path + "/call.out",
                                  environment: currentEnvironment())
        // Kill only once the request is in the supervisor's routing table.
        _ = try d.waitFor("the call routed") { ($0.routed_in_flight ?? 0) == 1 ? true : nil }
        kill(pid, SIGKILL)
        var pfd = pollfd(fd: cli.pidfd.raw, events: Int16(POLLIN), revents: 0)
        #expect(poll(&pfd, 1, 10_000) == 1)
        #expect(try reap(pid: cli.pid) == .exited(1))
        let text = Files.read(d.dir.path + "/call.out") ?? ""
        #expect(text.contains("the browser worker exited before answering browser.ping"), "\(text)")
    }
}
