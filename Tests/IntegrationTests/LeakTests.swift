import Glibc
import Testing
import SteadyCore
import SteadySystem

/// F12: thousands of posts through the real daemon leave every worker's open descriptors
/// flat and its RSS within bounds (the workers' own heartbeat figures). The 10,000-post run
/// is `steadypost-bench leaks` (RELIABILITY.md).
@Suite("leaks", .serialized, .timeLimit(.minutes(8)))
struct LeakTests {
    @Test("F12: 4,000 posts leave every worker's fds flat and RSS within 10 % after warm-up")
    func testF12_postsLeaveFdsAndRSSFlat() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let outPath = dir.path + "/leaks.out"
        let outFd = Descriptor(open(outPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644))
        let run = try spawnProcess(path: Binaries.bench, arguments: [Binaries.bench, "leaks", "4000", "10"],
                                   environment: currentEnvironment() + ["SWIFT_BACKTRACE=enable=no"], passFds: [],
                                   stdout: outFd, stderr: outFd)
        outFd.close()
        var pfd = pollfd(fd: run.pidfd.raw, events: Int16(POLLIN), revents: 0)
        if poll(&pfd, 1, 420_000) != 1 { signalProcess(run, SIGTERM) }
        let status = try reap(pid: run.pid)
        let text = Files.read(outPath) ?? ""
        #expect(status == .exited(0), "\(text)")
        #expect(text.contains("leaks posts=4000 grew=none"), "\(text)")
        // Every worker was judged (none restarted mid-run, all reported figures).
        #expect(!text.contains("not judged"), "\(text)")
    }
}
