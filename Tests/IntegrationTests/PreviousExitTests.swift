import Glibc
import Testing
import SteadyCore
import SteadyProtocol
import SteadySystem

/// A restarted worker learns how its predecessor ended (`STEADYPOST_PREVIOUS_EXIT`), so poison
/// parking counts only deaths its work could have caused (crash, OOM, hang), never an
/// operator's or a chaos run's SIGKILL.
@Suite("previous exit", .serialized, .timeLimit(.minutes(2)))
struct PreviousExitTests {
    /// The variable as the live process sees it (/proc/PID/environ).
    func previousExit(of pid: Int32) -> String? {
        guard let raw = Files.read("/proc/\(pid)/environ") else { return nil }
        return raw.split(separator: "\0").first { $0.hasPrefix("STEADYPOST_PREVIOUS_EXIT=") }.map { String($0.dropFirst(25)) }
    }

    @Test("first start: none; after an outside SIGKILL: killed; after a crash: crash; after a hang kill: hang")
    func classes() throws {
        let d = try DaemonProcess.started(heartbeat: "100ms", hangTimeout: "1500ms")
        defer { d.cleanUp() }
        _ = try d.waitAllRunning()
        var pid = try d.worker(.metrics).pid!
        #expect(previousExit(of: pid) == "none")

        kill(pid, SIGKILL)
        _ = try d.waitReady(.metrics, notPid: pid)
        pid = try d.worker(.metrics).pid!
        #expect(previousExit(of: pid) == "killed")

        #expect(d.cli(["debug", "fault", "metrics", "crash"]).code == 0)
        _ = try d.waitReady(.metrics, notPid: pid)
        pid = try d.worker(.metrics).pid!
        #expect(previousExit(of: pid) == "crash")

        #expect(d.cli(["debug", "fault", "metrics", "hang"]).code == 0)
        _ = try d.waitReady(.metrics, notPid: pid)
        pid = try d.worker(.metrics).pid!
        #expect(previousExit(of: pid) == "hang")
    }
}
