import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import SteadySystem

/// Verification against a hard timeline (F05) and one platform down beside healthy ones
/// (F09), through the real supervisor, worker and simulator.
@Suite("posting resilience", .serialized, .timeLimit(.minutes(3)))
struct PostingResilienceTests {
    /// Ground-truth posts of `account` whose text starts with `prefix` (the simulator may have
    /// rewritten the URL that follows it).
    static func onPlatform(_ sim: SimulatorProcess, _ account: String, prefix: String) throws -> [JSON] {
        try sim.posts(account).filter { ($0["text"]?.string ?? "").hasPrefix(prefix) }
    }

    @Test("F05: a slow, paginated timeline with t.co-rewritten URLs: a present post is found on a later page (never re-sent); an absent one is decided absent and sent once more", arguments: [Platform.x, Platform.mastodon])
    func f05_verificationOnHardTimeline(platform: Platform) throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let present = "f05-\(platform.rawValue)-present"
        let absent = "f05-\(platform.rawValue)-absent"
        // The request that lands is cut off unread (after_send): the post is there, its id
        // unknown. The other attempt dies before sending (after_intent): nothing is there.
        let d = try DaemonProcess(sim: sim, accounts: [(platform, present, nil), (platform, absent, nil)], concurrency: 1, leaseMillis: 5_000,
                                  environment: ["STEADYPOST_FAULTS=crash:after_send@\(present),crash:after_intent@\(absent)",
                                                "STEADYPOST_POSTING_SETTLE_MS=2000"],
                                  postingWorker: CrashPointTests.restartFreely)
        defer { d.cleanUp() }
        try d.start()
        for account in [present, absent] {
            try sim.fault("rewrite-urls", account: account, count: nil)
            try sim.fault("slow-timeline", account: account, endpoint: "timeline", count: nil, extra: [("delay_ms", JSON(200))])
        }
        // The absent post's scan crosses several pages of other posts.
        for n in 0..<12 {
            try sim.call(.post, "/_sim/posts", .obj([("account", JSON(absent)), ("text", JSON("older post \(n)")),
                                                     ("created_at_ms", JSON(SteadyClock.wallMillis() - 20_000 + Int64(n)))]))
        }
        let presentText = "F05 present on \(platform.rawValue) https://example.com/f05/present"
        let absentText = "F05 absent on \(platform.rawValue) https://example.com/f05/absent"
        // Both up front: no create can be cut off by a crash.
        let ids = try d.postBatch([(present, presentText), (absent, absentText)])
        let (presentId, absentId) = (ids[0], ids[1])
        // Once the present post is on the platform (and its worker dead), newer posts push
        // it to the third page of five.
        _ = try waitFor("the present post's create to land", timeoutMillis: 20_000) { () -> Bool? in
            d.firedFaults()["crash:after_send@\(present)"] != nil ? true : nil
        }
        for n in 0..<12 {
            try sim.call(.post, "/_sim/posts", .obj([("account", JSON(present)), ("text", JSON("newer post \(n)"))]))
        }
        let done = try d.waitStates([presentId, absentId], "posted", timeoutMillis: 90_000)

        let p = try Self.onPlatform(sim, present, prefix: "F05 present")
        #expect(p.count == 1, "the present post exactly once: \(p)")
        let storedText = p.first?["text"]?.string ?? ""
        #expect(storedText.contains("https://t.co/"), "the platform rewrote its URL: \(storedText)")
        #expect(done[presentId]?["platform_id"]?.string == p.first?["id"]?.stringOrNumber)
        let presentDetail = try d.show(presentId)
        #expect(presentDetail["attempts"]?.int == 1, "found, not re-sent: \(presentDetail.serialized)")
        let how = presentDetail["attempt_log"]?[0]?["detail"]?.string ?? ""
        #expect(how.contains("timeline"), "found on the timeline: \(presentDetail.serialized)")

        let a = try Self.onPlatform(sim, absent, prefix: "F05 absent")
        #expect(a.count == 1, "the absent post sent once more, once: \(a)")
        #expect(done[absentId]?["platform_id"]?.string == a.first?["id"]?.stringOrNumber)
        #expect(try d.show(absentId)["attempts"]?.int == 2, "decided absent, then sent exactly once more")
        // The scans really went page by page.
        let timelineReads = try sim.requests().filter { ($0["fault"]?.string ?? "").contains("slow-timeline") }
        #expect(timelineReads.count >= 3, "paged timeline reads: \(timelineReads.count)")
    }

    @Test("F09: one platform down (5xx) does not stop posting to the others; its breaker opens and closes again when it recovers")
    func f09_onePlatformDown() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "f09-x", nil), (.mastodon, "f09-m", nil), (.bluesky, "f09-b", nil)],
                                  environment: ["STEADYPOST_POSTING_BREAKER_OPEN_MS=1000", "STEADYPOST_POSTING_SETTLE_MS=1000"])
        defer { d.cleanUp() }
        try d.start()
        let down = try sim.fault("error-before", account: "f09-x", count: nil, extra: [("status", JSON(503))])
        var xIds: [String] = []
        for n in 0..<6 { xIds.append(try d.post("f09-x", "F09 x \(n)")) }
        _ = try waitFor("the X breaker to open", timeoutMillis: 30_000) { () -> Bool? in
            try d.account("f09-x")["breaker"]?.string == "open" ? true : nil
        }
        // X is down and its breaker open: the others post.
        var others: [String] = []
        for n in 0..<3 {
            others.append(try d.post("f09-m", "F09 mastodon \(n)"))
            others.append(try d.post("f09-b", "F09 bluesky \(n)"))
        }
        try d.waitStates(others, "posted", timeoutMillis: 30_000)
        #expect(try sim.posts("f09-x").isEmpty, "X took nothing while down")
        #expect(try sim.call(.get, "/_sim/faults")["faults"]?[0]?["fired"]?.int ?? 0 >= 5, "X was tried until the breaker opened")
        let xState = try d.jobs(account: "f09-x")
        #expect(xState.allSatisfy { $0["state"]?.string != "posted" && $0["state"]?.string != "failed" }, "X posts wait: \(xState)")

        // X recovers: a probe goes, succeeds, the breaker closes and every X post goes once.
        try sim.call(.delete, "/_sim/faults/\(down)")
        let posted = try d.waitStates(xIds, "posted", timeoutMillis: 90_000)
        _ = try waitFor("the X breaker to close", timeoutMillis: 10_000) { () -> Bool? in
            try d.account("f09-x")["breaker"]?.string == "closed" ? true : nil
        }
        let truth = try PostingContractTests.groundTruth(sim, "f09-x")
        #expect(truth.count == xIds.count, "each X post once: \(truth.keys.sorted())")
        for id in xIds { #expect(truth.values.contains(posted[id]?["platform_id"]?.string ?? "-")) }
        #expect(try PostingContractTests.groundTruth(sim, "f09-m").count == 3)
        #expect(try PostingContractTests.groundTruth(sim, "f09-b").count == 3)
    }
}
