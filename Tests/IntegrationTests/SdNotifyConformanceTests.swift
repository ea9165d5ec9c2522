import Glibc
import Testing
import CSystemd
import SteadyCore
import SteadySystem

/// Our sd_notify (a datagram to NOTIFY_SOCKET) against libsystemd's own, received by the
/// same listener: same bytes, same sender.
@Suite("sd_notify conformance", .serialized)
struct SdNotifyConformanceTests {
    @Test("SystemdNotifier sends what libsystemd's sd_notify sends")
    func sameDatagram() throws {
        let dir = TempDir("steadypost-sdnotify")
        let path = dir.path + "/notify.sock"
        let listener = try NotifyListener(path: path)
        setenv("NOTIFY_SOCKET", path, 1)
        defer { unsetenv("NOTIFY_SOCKET") }
        let message = "READY=1\nSTATUS=6/6 workers running"
        #expect(sd_notify(0, message) > 0)
        let theirs = try #require(try listener.receive(deadlineMillis: SteadyClock.monotonicMillis() + 2000))
        let ours = SystemdNotifier(environment: ["NOTIFY_SOCKET": path])
        #expect(ours.send(message))
        let mine = try #require(try listener.receive(deadlineMillis: SteadyClock.monotonicMillis() + 2000))
        #expect(mine.text == theirs.text)
        #expect(mine.pid == getpid() && theirs.pid == getpid())
    }

    @Test("without NOTIFY_SOCKET both are silent no-ops")
    func noSocket() {
        unsetenv("NOTIFY_SOCKET")
        #expect(sd_notify(0, "READY=1") == 0)
        #expect(SystemdNotifier(environment: [:]).send("READY=1") == false)
    }
}
