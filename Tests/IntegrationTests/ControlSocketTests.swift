import Glibc
import Testing
import SteadyControl
import SteadyCore
import SteadyProtocol
import SteadySystem

/// The control socket as an operator's CLI and a hostile local client see it.
@Suite("control socket", .serialized, .timeLimit(.minutes(2)))
struct ControlSocketTests {
    /// Opens the runtime dir and socket to everyone, so that only SO_PEERCRED stands between
    /// another uid and the daemon (the shipped modes 0750/0660 would stop it earlier).
    func exposeSocket(_ d: DaemonProcess) {
        _ = chmod(d.dir.path + "/run", 0o755)
        _ = chmod(d.socketPath, 0o666)
    }

    @Test("a client under another uid is refused by its peer credentials", .enabled(if: getuid() == 0, "needs root to switch uid"))
    func otherUidRefused() throws {
        let d = try DaemonProcess.started()
        defer { d.cleanUp() }
        try d.waitAllRunning()
        exposeSocket(d)
        let out = spawnAndWait(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", TestBinaries.cli, "status", "--socket", d.socketPath])
        #expect(out.code == 1, "refused is exit 1: \(out)")
        #expect(out.stderr.contains("permission denied: uid 65534"), "\(out.stderr)")
        #expect(d.log().contains("control connection refused"))
        // The daemon is unharmed.
        #expect(try d.status().workers.count == Role.allCases.count)
    }

    @Test("members of daemon.control_group are let in", .enabled(if: getuid() == 0, "needs root to switch uid"))
    func controlGroupAllowed() throws {
        let d = try DaemonProcess.started(daemonConfig: "control_group = \"nogroup\"")
        defer { d.cleanUp() }
        try d.waitAllRunning()
        exposeSocket(d)
        // uid 65534 is neither root nor the service user; gid nogroup (65534) lets it in.
        let member = spawnAndWait(["/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", TestBinaries.cli, "status", "--socket", d.socketPath])
        #expect(member.code == 0, "\(member.stderr)")
        #expect(member.stdout.contains("posting"))
        // Membership through a supplementary group counts too (SO_PEERGROUPS).
        let supplementary = spawnAndWait(["/usr/bin/setpriv", "--reuid=65534", "--regid=1", "--groups=65534", TestBinaries.cli, "status", "--socket", d.socketPath])
        #expect(supplementary.code == 0, "\(supplementary.stderr)")
        // The same uid outside the group is refused.
        let outsider = spawnAndWait(["/usr/bin/setpriv", "--reuid=65534", "--regid=1", "--clear-groups", TestBinaries.cli, "status", "--socket", d.socketPath])
        #expect(outsider.code == 1, "\(outsider)")
        #expect(outsider.stderr.contains("nor in group nogroup"))
    }

    @Test("garbage and oversized frames are refused without harming the daemon",
          arguments: [
            ("garbage", Array("GET / HTTP/1.1\r\nHost: x\r\n\r\n".utf8)),
            ("oversized", [0x7f, 0xff, 0xff, 0xff, 1, 6] + [UInt8](repeating: 0, count: 64)),
            ("wrong version", [0, 0, 0, 18, 99, 6] + [UInt8](repeating: 0, count: 16)),
            ("not a request", try! Message.heartbeat(Heartbeat(sequence: 1, rssBytes: 0, openFds: 0, inFlight: 0)).encoded()),
            ("bad request body", try! Message.request(method: "restart", body: Array("{\"role\":\"nobody\"}".utf8)).encoded()),
            ("unknown method", try! Message.request(method: "format-disk", body: []).encoded()),
          ])
    func hostileFrames(name: String, bytes: [UInt8]) throws {
        let d = try DaemonProcess.started()
        defer { d.cleanUp() }
        let before = try d.waitAllRunning()
        let fd = try Sockets.connectStream(path: d.socketPath)
        defer { fd.close() }
        try fd.setNonBlocking()
        try fd.writeAll(bytes, deadlineMillis: SteadyClock.monotonicMillis() + 2000)
        // The daemon answers with an error frame (and, for protocol errors, closes).
        var decoder = FrameDecoder()
        var buffer: [UInt8] = []
        let deadline = SteadyClock.monotonicMillis() + 5000
        var answer: Message?
        while answer == nil {
            try fd.waitReadiness(events: Int16(POLLIN), deadlineMillis: deadline)
            guard let n = try Sockets.readAvailable(fd, into: &buffer) else { continue }
            if n == 0 { break }
            decoder.feed(buffer)
            buffer.removeAll()
            if let f = try decoder.next() { answer = try Message(f) }
        }
        guard case .response(let status, let body)? = answer else {
            Issue.record("\(name): no error response")
            return
        }
        #expect(status == "error")
        let err = try JSONCoding.decode(ErrorBody.self, body, type: "error")
        #expect(!err.message.isEmpty)
        let after = try d.status()
        #expect(after.supervisor_pid == before.supervisor_pid)
        #expect(after.workers.map(\.pid) == before.workers.map(\.pid), "no worker was disturbed")
    }

    @Test("CLI exit codes: 0 ok, 1 refused, 2 bad usage, 3 unreachable")
    func exitCodes() throws {
        let d = try DaemonProcess.started()
        defer { d.cleanUp() }
        try d.waitAllRunning()
        #expect(d.cli(["status"]).code == 0)
        let badRole = d.cli(["restart", "nobody"])
        #expect(badRole.code == 2)
        #expect(badRole.stderr.contains("unknown role 'nobody'"))
        #expect(d.cli(["frobnicate"]).code == 2)
        let unreachable = spawnAndWait([TestBinaries.cli, "status", "--socket", d.dir.path + "/nothing.sock"])
        #expect(unreachable.code == 3)
        #expect(unreachable.stderr.contains("cannot reach steadypostd"))
    }

    @Test("fault injection is refused (exit 1) unless the config allows it")
    func faultInjectionRefused() throws {
        let d = try DaemonProcess.started(allowFaults: false)
        defer { d.cleanUp() }
        let before = try d.waitAllRunning()
        let out = d.cli(["debug", "fault", "posting", "crash"])
        #expect(out.code == 1)
        #expect(out.stderr.contains("fault injection is off"))
        #expect(try d.status().workers.map(\.pid) == before.workers.map(\.pid))
    }
}
