import SteadyConfig
import SteadyCore
import SteadyPlatforms
import SteadyStore
import Testing
@testable import SteadyAPI

/// Drives posts through the real store's transactions to the states the figures count.
func settle(_ store: SQLitePostStore, _ texts: [String], due: Int64, outcome: (String) -> AttemptOutcome?, at now: Int64) throws -> [Post] {
    var out: [Post] = []
    for text in texts {
        let p = try store.insert([post(text, due: due)], now: due - 1000)[0]
        let claimed = try store.claimDue(owner: "t", now: now, leaseMillis: 60_000, limit: 1)
        #expect(claimed.first?.id == p.id)
        let a = try store.beginAttempt(postId: p.id, owner: "t", idempotencyKey: "k" + p.id, adapter: "x", now: now, leaseMillis: 60_000)
        if let o = outcome(p.text) {
            out.append(try store.recordOutcome(postId: p.id, attemptId: a.id, outcome: o, now: now))
        } else {
            out.append(try store.post(id: p.id))
        }
    }
    return out
}

func statusJSON(workers: [(String, String, [(String, Int)])], lateJobs: Int? = nil) -> JSON {
    .obj([
        ("workers", .array(workers.map { w in
            JSON.obj([("role", JSON(w.0)), ("state", JSON(w.1)), ("restarts", JSON(0)),
                      ("counters", .object(w.2.map { ($0.0, JSON($0.1)) }))])
        })),
        ("late_jobs", lateJobs.map(JSON.init)),
    ])
}

@Suite("health figures (F25)", .serialized, .timeLimit(.minutes(1)))
struct HealthTests {
    @Test("F25: every figure of seed 000 is measured, from the store and the workers' counters")
    func testF25_healthReportsEverySeedFigure() throws {
        let f = try APIFixture()
        let now = SteadyClock.wallMillis()
        // 3 posted (due 90 s, 30 s and 30 s before they were posted), 1 failed: success 75 %.
        _ = try settle(f.store, ["a", "b"], due: now - 30_000, outcome: { .published(platformId: "id-" + $0) }, at: now)
        _ = try settle(f.store, ["c"], due: now - 90_000, outcome: { _ in .published(platformId: "id-c") }, at: now)
        _ = try settle(f.store, ["d"], due: now - 10_000, outcome: { _ in .permanent(reason: "refused") }, at: now)
        // One unknown outcome from 20 minutes ago, still unknown: verification 0 of 1. One
        // from now is still being verified: not counted against it.
        _ = try settle(f.store, ["e"], due: now - 21 * 60_000, outcome: { _ in .unknown(reason: "timeout", verifyAt: now + 60_000) }, at: now - 20 * 60_000)
        _ = try settle(f.store, ["f"], due: now - 10_000, outcome: { _ in .unknown(reason: "timeout", verifyAt: now + 60_000) }, at: now)
        // One scheduled post due 20 minutes ago and never claimed: stuck.
        _ = try f.store.insert([post("late", due: now - 20 * 60_000)], now: now - 21 * 60_000)
        let status = statusJSON(workers: [
            ("posting", "running", []), ("reconciler", "running", [("orphaned_posts", 2), ("duplicate_posts", 1)]),
        ], lateJobs: 0)

        let report = f.service.healthReport(status: status, statusError: nil, now: now)
        let fig = report.figures
        #expect(fig.successRate == 0.75)
        #expect(fig.avgPostTimeMs == 50_000)
        #expect(fig.stuckPosts == 1)
        #expect(fig.orphanedPosts == 2)
        #expect(fig.duplicateRate == 1.0 / 3.0)
        #expect(fig.verificationRate == 0)
        #expect(fig.unknownPosts == 2)
        #expect(fig.openBreakers == 0)
        #expect(fig.pausedAccounts == 0)
        #expect(fig.lateJobs == 0)
        #expect(fig.parkedWorkers == 0)
        // Every figure is in the JSON body, by name.
        let figures = report.json["figures"]
        for name in ["success_rate", "avg_post_time_ms", "stuck_posts", "orphaned_posts", "duplicate_rate", "verification_rate",
                     "unknown_posts", "open_breakers", "paused_accounts", "late_jobs", "parked_workers"] {
            #expect(figures?[name]?.isNull == false, "\(name) missing from \(report.json.serialized)")
        }
        // 75 % success is below both default thresholds (95 %, 80 %): unhealthy, with the reason.
        #expect(report.status == .unhealthy)
        #expect(report.reasons.contains { $0.hasPrefix("success_rate 75.0% is below 80.0%") }, "\(report.reasons)")
    }

    @Test("F25: a late job degrades health; a parked worker makes it unhealthy; thresholds come from [health]")
    func testF25_lateJobAndParkedWorker() throws {
        let f = try APIFixture()
        let now = SteadyClock.wallMillis()
        let healthy = f.service.healthReport(status: statusJSON(workers: [("reconciler", "running", [])], lateJobs: 0), statusError: nil, now: now)
        #expect(healthy.status == .healthy, "\(healthy.reasons)")

        // The supervisor's late_jobs is absent here: the job's own heartbeat counter counts.
        let late = f.service.healthReport(status: statusJSON(workers: [("reconciler", "running", [("job.reconcile-quick.late", 1)])]), statusError: nil, now: now)
        #expect(late.status == .degraded)
        #expect(late.figures.lateJobNames == ["reconciler/reconcile-quick"])
        #expect(late.reasons == ["late_jobs 1 is at or above 1 (degraded)"])

        let parked = f.service.healthReport(status: statusJSON(workers: [("replies", "failed", [])], lateJobs: 0), statusError: nil, now: now)
        #expect(parked.status == .unhealthy)
        #expect(parked.figures.parkedWorkerNames == ["replies"])

        let strict = try APIFixture(extraTOML: "[health]\nlate_jobs_unhealthy = 1\n")
        let lateStrict = strict.service.healthReport(status: statusJSON(workers: [("reconciler", "running", [])], lateJobs: 1), statusError: nil, now: now)
        #expect(lateStrict.status == .unhealthy)
    }

    @Test("F25: an open breaker (platform down) or a paused account degrades health")
    func testF25_openBreakerDegrades() throws {
        let f = try APIFixture()
        let now = SteadyClock.wallMillis()
        try f.store.saveBreaker(account: "news-x", breaker: #"{"state":"open","consecutive_failures":5,"opened_at":\#(now),"open_ms":30000}"#, now: now)
        let report = f.service.healthReport(status: statusJSON(workers: [], lateJobs: 0), statusError: nil, now: now)
        #expect(report.figures.openBreakers == 1)
        #expect(report.status == .degraded)
        try f.store.setPause(account: "news-x", until: now + 60_000, reason: "rate limited", now: now)
        #expect(f.service.healthReport(status: nil, statusError: "down", now: now).figures.pausedAccounts == 1)
    }

    @Test("without the supervisor, its figures are n/a and say why; the store's are still judged")
    func supervisorUnreachable() throws {
        let f = try APIFixture()
        let report = f.service.healthReport(status: nil, statusError: "supervisor.status: unavailable: no", now: SteadyClock.wallMillis())
        #expect(report.figures.lateJobs == nil && report.figures.parkedWorkers == nil)
        #expect(report.figures.notes.contains { $0.contains("supervisor.status: unavailable") })
        #expect(report.figures.stuckPosts == 0)
    }

    @Test("[health] thresholds are validated with PATH:LINE: KEY errors")
    func thresholdValidation() throws {
        let text = "[health]\nsuccess_rate_degraded = 1.5\nstuck_posts_degraded = 10\nstuck_posts_unhealthy = 2\nwindow = \"5s\"\nlate_jobs_degarded = 1\n"
        do {
            _ = try Config.parse(text, path: "/etc/s.toml")
            Issue.record("accepted bad thresholds")
        } catch {
            let lines = error.diagnostics.map(\.description)
            #expect(lines.contains("/etc/s.toml:2: health.success_rate_degraded: must be a rate from 0 to 1, got 1.5"), "\(lines)")
            #expect(lines.contains("/etc/s.toml:4: health.stuck_posts_unhealthy: must be at least stuck_posts_degraded (10), got 2"), "\(lines)")
            #expect(lines.contains { $0.hasPrefix("/etc/s.toml:5: health.window: must be between") }, "\(lines)")
            #expect(lines.contains { $0.hasPrefix("/etc/s.toml:6: health.late_jobs_degarded: unknown key (did you mean \"late_jobs_degraded\"?)") }, "\(lines)")
        }
        let ok = try Config.parse("[health]\nwindow = \"2h\"\nsuccess_rate_degraded = 0.99\navg_post_time_degraded = \"30s\"\n[api]\nhealth_public = true\n", path: "/x.toml")
        #expect(ok.health.windowMs == 7_200_000)
        #expect(ok.health.rule("success_rate")?.degraded == 0.99)
        #expect(ok.health.rule("avg_post_time")?.degraded == 30_000)
        #expect(ok.api.healthPublic)
    }
}
