import Glibc
import Testing
import SteadyControl
import SteadyCore
import SteadyProtocol
import SteadySystem

/// systemd's side of the contract, played by the test: sd_notify (READY, STATUS, WATCHDOG)
/// and socket activation (LISTEN_FDS). The real systemd runs in SystemdUnitTests.
@Suite("systemd protocol", .serialized, .timeLimit(.minutes(2)))
struct SystemdProtocolTests {
    @Test("READY=1 once every worker is ready, STATUS kept current, WATCHDOG=1 from the supervisor's pid only while its loop runs")
    func notifyReadyStatusWatchdog() throws {
        let tmp = TempDir("steadypost-notify")
        let listener = try NotifyListener(path: tmp.path + "/notify.sock")
        let d = try DaemonProcess.started(environment: ["NOTIFY_SOCKET=\(listener.path)", "WATCHDOG_USEC=400000"])
        defer { d.cleanUp() }
        var messages: [(String, Int32)] = []
        var deadline = SteadyClock.monotonicMillis() + 15_000
        while !messages.contains(where: { $0.0.contains("READY=1") }) {
            guard let m = try listener.receive(deadlineMillis: deadline) else { break }
            messages.append(m)
        }
        let ready = try #require(messages.first { $0.0.contains("READY=1") }, "no READY=1: \(messages)")
        #expect(ready.1 == d.process.pid, "READY from the main pid")
        #expect(ready.0.contains("STATUS=6/6 workers running"))
        // At READY every worker had said ready.
        #expect(try d.status().workers.allSatisfy { $0.state == "running" })

        // Watchdog pings: every ~200 ms, from the supervisor's pid.
        var pings = 0
        deadline = SteadyClock.monotonicMillis() + 5000
        while pings < 3, let m = try listener.receive(deadlineMillis: deadline) {
            if m.0 == "WATCHDOG=1" {
                #expect(m.1 == d.process.pid)
                pings += 1
            }
        }
        #expect(pings == 3)

        // A stopped loop sends no pings: that is what lets systemd's watchdog fire.
        kill(d.process.pid, SIGSTOP)
        while (try listener.receive(deadlineMillis: SteadyClock.monotonicMillis() + 100)) != nil {}  // drain in-flight
        let silent = try listener.receive(deadlineMillis: SteadyClock.monotonicMillis() + 1000)
        #expect(silent == nil, "pinged while stopped: \(silent?.text ?? "")")
        kill(d.process.pid, SIGCONT)
        let resumed = try listener.receive(deadlineMillis: SteadyClock.monotonicMillis() + 5000)
        #expect(resumed != nil)

        // STATUS follows a parked worker.
        _ = d.cli(["stop", "api"])
        deadline = SteadyClock.monotonicMillis() + 5000
        var statusLine = ""
        while !statusLine.contains("5/6"), let m = try listener.receive(deadlineMillis: deadline) {
            if m.0.hasPrefix("STATUS=") { statusLine = m.0 }
        }
        #expect(statusLine.contains("STATUS=5/6 workers running"))
        // STOPPING=1 on shutdown.
        signalProcess(d.process, SIGTERM)
        var stopping = false
        deadline = SteadyClock.monotonicMillis() + 5000
        while !stopping, let m = try listener.receive(deadlineMillis: deadline) { stopping = m.0.contains("STOPPING=1") }
        #expect(stopping)
        #expect(d.terminate() == .exited(0))
    }

    @Test("socket activation: the daemon serves the inherited control socket, which outlives a daemon restart")
    func socketActivation() throws {
        let tmp = TempDir("steadypost-activation")
        let path = tmp.path + "/control.sock"
        let listener = try Sockets.listenStream(path: path, mode: 0o660)
        defer { listener.close() }
        func activated(_ config: String, _ log: String, _ env: [String]) throws -> SpawnedProcess {
            // LISTEN_PID must be the daemon's own pid: sh's $$ survives its exec.
            try spawnLogged(["/bin/sh", "-c", "LISTEN_PID=$$ LISTEN_FDS=1 LISTEN_FDNAMES=control exec \"$0\" run --config \"$1\"", TestBinaries.daemon, config],
                            log: log, append: true, environment: env, passFds: [listener])
        }
        let first = try DaemonProcess.started(launcher: activated)
        defer { first.cleanUp() }
        let client = ControlClient(socketPath: path, timeoutMillis: 20_000)
        let deadline = SteadyClock.monotonicMillis() + 15_000
        var report: StatusReport?
        while report == nil || report!.workers.contains(where: { $0.state != "running" }), SteadyClock.monotonicMillis() < deadline {
            report = try? client.status()
        }
        #expect(report?.supervisor_pid == first.process.pid)
        #expect(first.log().contains("socket activation"))
        #expect(first.terminate() == .exited(0))
        #expect(Files.exists(path), "an activated socket belongs to systemd and stays")

        // A client that connects while no daemon runs is queued, and answered by the next one.
        let out = tmp.path + "/cli.out"
        let cli = try spawnLogged([TestBinaries.cli, "status", "--json", "--socket", path], log: out, environment: currentEnvironment())
        let second = try DaemonProcess.started(launcher: activated)
        defer { second.cleanUp() }
        var pfd = pollfd(fd: cli.pidfd.raw, events: Int16(POLLIN), revents: 0)
        #expect(poll(&pfd, 1, 20_000) == 1, "the queued client got no answer")
        let status = try reap(pid: cli.pid)
        #expect(status == .exited(0))
        #expect(Files.read(out)?.contains("\"supervisor_pid\":\(second.process.pid)") == true, "\(Files.read(out) ?? "")")
    }
}
