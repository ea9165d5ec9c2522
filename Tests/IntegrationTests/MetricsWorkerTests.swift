import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import SteadyStore
import SteadySystem

/// The metrics worker end to end: the real supervisor, posting and metrics workers, the real
/// simulator over loopback. Posts are made through the posting worker, scraped through the
/// Mastodon API (`GET /api/v1/statuses/ID`), faults come from the simulator.
@Suite("metrics worker", .serialized, .timeLimit(.minutes(3)))
struct MetricsWorkerTests {
    static func daemon(_ sim: SimulatorProcess, accounts: [String], metrics: String) throws -> DaemonProcess {
        let d = try DaemonProcess(sim: sim, accounts: accounts.map { (Platform.mastodon, $0, nil) })
        try d.configure(.metrics, metrics)
        try d.start()
        try d.waitWorker(.metrics, summaryPrefix: "scraping metrics")
        return d
    }

    /// Posts `text` and returns (post id, platform id) once it is posted.
    static func posted(_ d: DaemonProcess, _ account: String, _ text: String) throws -> (String, String) {
        let id = try d.post(account, text)
        let done = try d.waitStates([id], "posted")[id]!
        return (id, done["platform_id"]?.string ?? "")
    }

    @Test("F14: a scrape that fails is retried with backoff and sampled; one that keeps failing ends failed with its reason, counted and listed")
    func testF14_failedScrapesRetriedThenMarked() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try Self.daemon(sim, accounts: ["f14-flaky", "f14-down"], metrics: """
            schedule = ["300ms", "1h"]
            scan_interval = "200ms"
            max_tries = 3
            retry_base_delay = "200ms"
            retry_max_delay = "400ms"
            browser_fallback = false
            """)
        defer { d.cleanUp() }
        // Reads of the first account fail twice, of the second always (503 before any effect).
        try sim.fault("error-before", account: "f14-flaky", endpoint: "read", count: 2, extra: [("status", JSON(503))])
        try sim.fault("error-before", account: "f14-down", endpoint: "read", count: nil, extra: [("status", JSON(503))])
        let (flaky, flakyStatus) = try Self.posted(d, "f14-flaky", "F14 flaky metrics")
        let (down, downStatus) = try Self.posted(d, "f14-down", "F14 metrics always down")
        try sim.call(.post, "/_sim/metrics", .obj([("account", JSON("f14-flaky")), ("id", JSON(flakyStatus)), ("likes", JSON(5)), ("reposts", JSON(2))]))

        // Retried, then sampled: the sample is there, both failures are counted.
        let item = try waitFor("the flaky item sampled", timeoutMillis: 30_000) { () -> JSON? in
            let j = try d.routed("metrics.show", .obj([("post_id", JSON(flaky))]))
            return (j["samples"]?.array?.count ?? 0) >= 1 ? j : nil
        }
        #expect(item["failures"]?.int == 2, "\(item)")
        #expect(item["state"]?.string == "active" && item["step"]?.int == 1, "moved on to the next step: \(item)")
        #expect(item["samples"]?[0]?["likes"]?.int == 5 && item["samples"]?[0]?["reposts"]?.int == 2)
        #expect(item["samples"]?[0]?["source"]?.string == "api")
        #expect(try sim.requests(pathPrefix: "/api/v1/statuses/\(flakyStatus)").count == 3, "two failed tries and the good one")

        // Never skipped silently: after its last try the other item is failed, with the reason.
        let failed = try waitFor("the item that never scrapes marked failed", timeoutMillis: 30_000) { () -> JSON? in
            let j = try d.routed("metrics.show", .obj([("post_id", JSON(down))]))
            return j["state"]?.string == "failed" ? j : nil
        }
        #expect(failed["tries"]?.int == 3 && failed["failures"]?.int == 3, "\(failed)")
        #expect(failed["last_error"]?.string?.contains("503") == true, "the reason names the platform's answer: \(failed)")
        #expect(failed["samples"]?.array?.isEmpty == true)
        #expect(try sim.requests(pathPrefix: "/api/v1/statuses/\(downStatus)").count == 3, "exactly max_tries tries")
        let listed = try d.routed("metrics.failed")["items"]?.array ?? []
        #expect(listed.map { $0["post_id"]?.string } == [down], "listed for the operator: \(listed)")
        // The store says so at once; the pass's own count when its report is back.
        let counters = try d.waitCounter(.metrics, "scrape_failed_for_good", atLeast: 1)
        #expect(counters["items_failed"] == 1 && counters["scrape_failed_for_good"] == 1, "\(counters)")
        #expect(counters["scrape_retries"] ?? 0 >= 4, "\(counters)")
        #expect(d.log().contains("metrics failed for good after 3 tries"), "and logged")
    }

    @Test("F19: overlapping scrape triggers for one item run one scrape")
    func testF19_overlappingTriggersScrapeOnce() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try Self.daemon(sim, accounts: ["f19-m"], metrics: """
            schedule = ["1h", "6h"]
            scan_interval = "200ms"
            browser_fallback = false
            """)
        defer { d.cleanUp() }
        let (post, status) = try Self.posted(d, "f19-m", "F19 scrape me once")
        _ = try waitFor("the item on its schedule", timeoutMillis: 20_000) { () -> JSON? in
            try? d.routed("metrics.show", .obj([("post_id", JSON(post))]))
        }
        // The platform takes 1.5 s to answer: triggers arriving meanwhile overlap the first.
        try sim.fault("delay", account: "f19-m", endpoint: "read", count: nil, extra: [("delay_ms", JSON(1_500))])
        var answers: [String] = []
        for _ in 0..<4 {
            answers.append(try d.routed("metrics.scrape", .obj([("post_id", JSON(post))]))["scrape"]?.string ?? "?")
        }
        #expect(answers == ["started", "coalesced", "coalesced", "coalesced"], "\(answers)")
        let item = try waitFor("the triggered sample", timeoutMillis: 20_000) { () -> JSON? in
            let j = try d.routed("metrics.show", .obj([("post_id", JSON(post))]))
            return (j["samples"]?.array?.count ?? 0) >= 1 ? j : nil
        }
        #expect(item["samples"]?.array?.count == 1)
        #expect(try sim.requests(pathPrefix: "/api/v1/statuses/\(status)").count == 1, "one scrape reached the platform")
        let counters = try d.waitCounter(.metrics, "triggers_coalesced", atLeast: 3)
        #expect(counters["triggers"] == 4, "\(counters)")
        _ = try waitFor("the item released", timeoutMillis: 10_000) { () -> Bool? in
            try d.counters(.metrics)["items_in_flight"] == 0 ? true : nil
        }
        // Once it is over, a new trigger scrapes again (the item is free, not stuck).
        #expect(try d.routed("metrics.scrape", .obj([("post_id", JSON(post))]))["scrape"]?.string == "started")
        _ = try waitFor("the second scrape", timeoutMillis: 20_000) { () -> Bool? in
            try sim.requests(pathPrefix: "/api/v1/statuses/\(status)").count == 2 ? true : nil
        }
    }

    @Test("the browser pool's scrape lease gives the figures when the API gives none", .enabled(if: access("/usr/bin/chromium", X_OK) == 0))
    func browserFallback() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try Self.daemon(sim, accounts: ["fb-m"], metrics: """
            schedule = ["300ms", "1h"]
            scan_interval = "200ms"
            max_tries = 2
            retry_base_delay = "1s"
            """)
        defer { d.cleanUp() }
        // The API says the post does not exist; its public page still shows it.
        try sim.fault("error-before", account: "fb-m", endpoint: "read", count: nil, extra: [("status", JSON(404))])
        let (post, status) = try Self.posted(d, "fb-m", "metrics through the browser")
        try sim.call(.post, "/_sim/metrics", .obj([("account", JSON("fb-m")), ("id", JSON(status)), ("likes", JSON(7)), ("reposts", JSON(3))]))
        let item = try waitFor("the sample through the browser", timeoutMillis: 90_000) { () -> JSON? in
            let j = try d.routed("metrics.show", .obj([("post_id", JSON(post))]))
            return (j["samples"]?.array?.count ?? 0) >= 1 || j["state"]?.string == "failed" ? j : nil
        }
        #expect(item["samples"]?[0]?["source"]?.string == "browser", "\(item)")
        #expect(item["samples"]?[0]?["likes"]?.int == 7 && item["samples"]?[0]?["reposts"]?.int == 3, "\(item)")
        #expect(try sim.requests(pathPrefix: "/web/posts/").count >= 1, "the page was read")
        #expect(try d.waitCounter(.metrics, "samples_by_browser", atLeast: 1)["samples_by_browser"] == 1)
    }
}
