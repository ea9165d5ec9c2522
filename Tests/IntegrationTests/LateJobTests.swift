import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import SteadyProtocol

/// F11: a periodic job that stops doing its work is `late` in `steadypost status` within two
/// intervals of its last success; the heartbeats carry it, the supervisor counts it.
@Suite("late jobs", .serialized, .timeLimit(.minutes(3)))
struct LateJobTests {
    static func daemon(_ sim: SimulatorProcess, fault: String?) throws -> DaemonProcess {
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "late-x", nil)],
                                  environment: fault.map { ["STEADYPOST_RECONCILER_FAULT=\($0)"] } ?? [])
        try d.configure(.reconciler, "quick_interval = \"2s\"\ndeep_interval = \"1h\"")
        try d.start()
        return d
    }

    @Test("F11: the quick pass stalls (fault); reconciler/reconcile-quick turns late in status, late_jobs counts it",
          arguments: ["stall:reconcile-quick", "fail:reconcile-quick"])
    func f11_stalledJobTurnsLate(fault: String) throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try Self.daemon(sim, fault: fault)
        defer { d.cleanUp() }
        let report = try waitFor("reconciler/reconcile-quick late in status", timeoutMillis: 60_000) { () -> StatusReport? in
            // The supervisor judges from the last heartbeat's late_after_ms; the worker's own
            // `late` counter follows with its next heartbeat: wait for both.
            let s = try d.client.status()
            let own = s.workers.first { $0.role == .reconciler }?.counters?["job.reconcile-quick.late"]
            return (s.late_job_names ?? []).contains("reconciler/reconcile-quick") && own == 1 ? s : nil
        }
        #expect((report.late_jobs ?? 0) >= 1)
        #expect(!(report.late_job_names ?? []).contains("reconciler/reconcile-deep"), "the deep pass is not due yet: not late")
        let w = try #require(report.workers.first { $0.role == .reconciler })
        #expect(w.state == "running", "the worker itself is healthy: only its job is late")
        #expect(w.counters?["job.reconcile-quick.last_success_ms"] == 0, "never succeeded")
        #expect(w.counters?["job.reconcile-quick.late"] == 1, "the worker's own heartbeat says late too")
        if fault.hasPrefix("fail") {
            #expect((w.counters?["job.reconcile-quick.consecutive_failures"] ?? 0) >= 1, "each run failed and was counted")
        } else {
            #expect(w.in_flight == 1, "the stalled pass is still in flight")
        }
        let text = d.cli(["status"])
        #expect(text.stdout.contains("reconciler/reconcile-quick"), "status names the late job: \(text.stdout)")
    }

    @Test("F11 control: the same schedule without the fault runs, succeeds, and is never late")
    func f11_healthyJobNotLate() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try Self.daemon(sim, fault: nil)
        defer { d.cleanUp() }
        // Someone posts the same text twice by hand: two foreign posts, one duplicate copy,
        // which the scheduled passes report for /health.
        let first = try waitFor("the first pass", timeoutMillis: 60_000) { () -> Int64? in
            let runs = try d.worker(.reconciler).counters?["runs"] ?? 0
            return runs >= 1 ? runs : nil
        }
        try sim.inject("late-x", "posted by hand, twice")
        try sim.inject("late-x", "posted by hand, twice")
        // Three successful runs after that cover more than two intervals.
        let w = try waitFor("three more quick passes", timeoutMillis: 60_000) { () -> WorkerStatus? in
            let w = try d.worker(.reconciler)
            return (w.counters?["runs"] ?? 0) >= first + 3 ? w : nil
        }
        #expect(w.counters?["job.reconcile-quick.late"] == 0 && w.counters?["run_failures"] == 0)
        #expect(w.counters?["orphaned_posts"] == 2 && w.counters?["duplicate_posts"] == 1, "\(w.counters ?? [:])")
        #expect(!(try d.client.status().late_job_names ?? []).contains("reconciler/reconcile-quick"))
    }
}
