import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import SteadySystem

/// F27 through the real supervisor and posting worker: a post that crashes the worker (a
/// crash signal, not an outside SIGKILL) twice is parked with the evidence, and the other
/// account's posts go on.
@Suite("poison parking", .serialized, .timeLimit(.minutes(3)))
struct PoisonParkingTests {
    @Test("F27: a post that aborts the worker twice is parked; the rest post")
    func testF27_poisonPostParkedOthersFlow() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "poison-x", nil), (.mastodon, "fine-m", nil)], concurrency: 1, leaseMillis: 2_000,
                                  environment: ["STEADYPOST_FAULTS=abort:before_intent@poison-x"],
                                  postingWorker: CrashPointTests.restartFreely)
        defer { d.cleanUp() }
        try d.start()
        let firstPid = try d.postingPid()
        // One batch: a create sent after the poison post was claimed would race the crash.
        let ids = try d.postBatch([(account: "poison-x", text: "this post kills the worker")]
                                  + (0..<3).map { (account: "fine-m", text: "an ordinary post \($0)") })
        let poison = ids[0]
        let fine = Array(ids.dropFirst())
        let parked = try d.waitStates([poison], "parked", timeoutMillis: 60_000)
        #expect(parked[poison]?["last_error"]?.string?.contains("died holding it 2 times") == true, "\(parked)")
        _ = try d.waitStates(fine, "posted", timeoutMillis: 60_000)
        #expect(try d.postingPid() != firstPid, "the worker crashed and was restarted")
        #expect(try sim.posts("poison-x").isEmpty, "nothing was ever sent for the poison post")
        #expect(try sim.posts("fine-m").count == 3)
        #expect(d.log().contains("abort at before_intent"))
    }
}
