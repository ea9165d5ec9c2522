import Testing
import SteadyWorker

@Suite("periodic job")
struct PeriodicJobTests {
    @Test("runs at creation, then one interval after each start; never two at once")
    func schedule() {
        var job = PeriodicJob(name: "quick", intervalMs: 1000, createdAt: 10_000)
        #expect(job.isDue(now: 10_000))
        job.started(now: 10_000)
        #expect(!job.isDue(now: 50_000), "a running job is never due again (single-flight)")
        job.succeeded(now: 10_300)
        #expect(job.nextRunAt == 11_000)
        #expect(!job.isDue(now: 10_999))
        #expect(job.isDue(now: 11_000))
        // A run longer than its interval: the next one starts at once, not in the past.
        job.started(now: 11_000)
        job.succeeded(now: 13_500)
        #expect(job.nextRunAt == 13_500)
    }

    @Test("a failure retries at the given time and counts; a success resets the count")
    func failures() {
        var job = PeriodicJob(name: "scrape", intervalMs: 60_000, createdAt: 0)
        job.started(now: 0)
        job.failed(now: 100, error: "timeline 503", retryAt: 5_000)
        #expect(job.nextRunAt == 5_000)
        #expect(job.consecutiveFailures == 1)
        #expect(job.lastError == "timeline 503")
        job.started(now: 5_000)
        job.failed(now: 5_100, error: "timeline 503")
        #expect(job.nextRunAt == 65_000, "no retry time: one interval after the start")
        #expect(job.consecutiveFailures == 2)
        job.started(now: 65_000)
        job.succeeded(now: 65_010)
        #expect(job.consecutiveFailures == 0)
        #expect(job.lastError == nil)
    }

    @Test("F11: late with no success within two intervals, whether it fails or never finishes")
    func lateness() {
        var job = PeriodicJob(name: "deep", intervalMs: 1000, createdAt: 0)
        #expect(!job.isLate(now: 2000))
        #expect(job.isLate(now: 2001), "never succeeded since creation")
        job.started(now: 2001)
        job.succeeded(now: 2002)
        #expect(!job.isLate(now: 4002))
        #expect(job.counters(now: 4002)["job.deep.late"] == 0)
        job.started(now: 3001)
        // Stuck: still running, no success.
        #expect(job.isLate(now: 4003))
        let c = job.counters(now: 4003)
        #expect(c["job.deep.late"] == 1)
        #expect(c["job.deep.late_after_ms"] == 4002)
        #expect(c["job.deep.last_success_ms"] == 2002)
        #expect(c["job.deep.running"] == 1, "mid-run is visible")
        job.succeeded(now: 4010)
        let after = job.counters(now: 4010)
        #expect(after["job.deep.running"] == 0 && after["job.deep.next_run_ms"] == 4010, "ran past its interval: due again at once")
    }

    @Test("F19: triggers while running ask for one rerun, not one each")
    func triggers() {
        var job = PeriodicJob(name: "scrape", intervalMs: 10_000, createdAt: 0, firstRunAt: 5_000)
        job.trigger(now: 100)
        #expect(job.isDue(now: 100))
        job.started(now: 100)
        job.trigger(now: 200)
        job.trigger(now: 300)
        #expect(!job.isDue(now: 300))
        job.succeeded(now: 400)
        #expect(job.isDue(now: 400), "one rerun right after")
        job.started(now: 400)
        job.succeeded(now: 500)
        #expect(job.nextRunAt == 10_400, "and then back to the interval")
    }
}
