import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import SteadySystem

/// Rate limits inside a reconcile pass (the audit's finding: a 3-second 429 failed a whole
/// manual pass): short ones are waited out, long ones make the account `partial` — not
/// failed, exit 0 — and a follow-up pass reads it again after the reset.
@Suite("reconciler rate limits", .serialized, .timeLimit(.minutes(4)))
struct ReconcilerRateLimitTests {
    static func daemon(_ sim: SimulatorProcess, _ account: String, wait: String) throws -> DaemonProcess {
        let d = try DaemonProcess(sim: sim, accounts: [(.mastodon, account, nil)])
        try d.configure(.reconciler, "rate_limit_wait = \"\(wait)\"")
        try d.start()
        try d.waitFirstQuickPass()
        let id = try d.post(account, "on the timeline before the rate limit")
        try d.waitStates([id], "posted")
        return d
    }

    static func fired(_ sim: SimulatorProcess) throws -> Int {
        try (sim.call(.get, "/_sim/faults")["faults"]?.array ?? []).reduce(0) { $0 + ($1["fired"]?.int ?? 0) }
    }

    @Test("a 3-second 429 on the timeline is waited out inside the pass: the pass completes ok")
    func shortRateLimitWaitedOut() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "rl-short-m"
        let d = try Self.daemon(sim, account, wait: "10s")
        defer { d.cleanUp() }
        try sim.fault("rate-limit", account: account, endpoint: "timeline", count: 1, extra: [("retry_after_s", JSON(3))])
        let r = d.reconcile(["--account", account])
        #expect(try Self.fired(sim) == 1, "the 429 was served")
        #expect(r.code == 0, "exit \(r.code): \(r.report?.serialized ?? r.stderr)")
        #expect(r.report?["status"]?.string == "ok" && r.report?["ok"]?.bool == true)
        let a = try DaemonProcess.accountReport(r.report, account)
        #expect(a["status"]?.string == "ok" && a["complete"]?.bool == true && a["known"]?.int == 1, "\(a.serialized)")
        #expect((a["rate_limit_waited_ms"]?.int ?? 0) >= 1_000, "the limit was waited out: \(a.serialized)")
    }

    @Test("a long 429 ends the pass for that account as partial (exit 0, not failed); a follow-up pass reads it after the reset")
    func longRateLimitPartialThenResumed() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "rl-long-m"
        let d = try Self.daemon(sim, account, wait: "2s")
        defer { d.cleanUp() }
        try sim.fault("rate-limit", account: account, endpoint: "timeline", count: 1, extra: [("retry_after_s", JSON(8))])
        let r = d.reconcile(["--account", account])
        #expect(try Self.fired(sim) == 1, "the 429 was served")
        #expect(r.code == 0, "a partial pass is not a failure: exit \(r.code): \(r.report?.serialized ?? r.stderr)")
        #expect(r.report?["status"]?.string == "partial" && r.report?["ok"]?.bool == true, "\(r.report?.serialized ?? "")")
        #expect(r.report?["errors"]?.array?.isEmpty == true)
        #expect(r.report?["partial_accounts"]?.array?.compactMap(\.string) == [account])
        let a = try DaemonProcess.accountReport(r.report, account)
        #expect(a["status"]?.string == "partial" && a["error"] == nil, "\(a.serialized)")
        let partial = a["partial"]?.string ?? ""
        #expect(partial.contains("rate limited by mastodon"), "\(a.serialized)")
        #expect(a["resume_at"]?.int != nil)

        // The operator's text output says partial, and exits 0.
        try sim.fault("rate-limit", account: account, endpoint: "timeline", count: 1, extra: [("retry_after_s", JSON(8))])
        let text = d.cli(["reconcile", "--account", account, "--timeout", "60"])
        #expect(text.code == 0, "exit \(text.code): \(text.stderr)")
        #expect(text.stdout.contains("): partial,") && text.stdout.contains("  partial: rate limited by mastodon"), "\(text.stdout)")
        #expect(text.stdout.contains("(scan incomplete: rate limited)") && !text.stdout.contains("page budget"), "\(text.stdout)")

        // The follow-up pass after the reset reads the account in full.
        let resumed = try waitFor("the follow-up pass", timeoutMillis: 40_000) { () -> JSON? in
            let runs = try JSON.parse(try d.client.call(method: "reconciler.runs", body: Array("{}".utf8))).array ?? []
            return runs.first { $0["pass"]?.string == "reconcile-resume" }
        }
        #expect(resumed["status"]?.string == "ok", "\(resumed.serialized)")
        let ra = try DaemonProcess.accountReport(resumed, account)
        #expect(ra["status"]?.string == "ok" && ra["complete"]?.bool == true && ra["known"]?.int == 1, "\(ra.serialized)")
    }

    @Test("429s that keep coming (1 s each) are waited out only up to rate_limit_wait for the account; then partial, the pass bounded")
    func repeatedShortRateLimitsBoundedByBudget() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "rl-again-m"
        let d = try Self.daemon(sim, account, wait: "3s")
        defer { d.cleanUp() }
        try sim.fault("rate-limit", account: account, endpoint: "timeline", count: nil, extra: [("retry_after_s", JSON(1))])
        let started = SteadyClock.monotonicMillis()
        let r = d.reconcile(["--account", account])
        let took = SteadyClock.monotonicMillis() - started
        #expect(r.code == 0, "exit \(r.code): \(r.report?.serialized ?? r.stderr)")
        let a = try DaemonProcess.accountReport(r.report, account)
        #expect(a["status"]?.string == "partial", "\(a.serialized)")
        let waited = a["rate_limit_waited_ms"]?.int ?? 0
        #expect(waited >= 1_000 && waited <= 3_250, "waited \(waited) ms within the 3 s budget")
        #expect(took < 15_000, "the pass took \(took) ms")
        try sim.clearFaults()
    }
}
