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
        let run = try spawnLogged([TestBinaries.bench, "leaks", "4000", "10"], log: outPath)
        let status = waitExit(run, timeoutMillis: 420_000) ?? endProcess(run)
        let text = Files.read(outPath) ?? ""
        #expect(status == .exited(0), "\(text)")
        #expect(text.contains("leaks posts=4000 grew=none"), "\(text)")
        // Every worker was judged (none restarted mid-run, all reported figures).
        #expect(!text.contains("not judged"), "\(text)")
    }
}
