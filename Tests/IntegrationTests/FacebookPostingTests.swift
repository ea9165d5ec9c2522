import Testing
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyTestSupport

/// Facebook Pages through the real posting worker and the simulator: the cases issue 17 names
/// for a platform with no idempotency and its own throttling (the shared cases, F02, F21 and
/// the crash-point matrix, run over it with the others).
@Suite("Facebook Pages posting", .serialized, .timeLimit(.minutes(3)))
struct FacebookPostingTests {
    @Test("a 500 with code 2 after the post went live: unknown, verified by published_posts, posted once, never re-sent")
    func code2AfterEffect() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "fb-code2"
        let d = try DaemonProcess(sim: sim, accounts: [(.facebook, account, nil)], environment: ["STEADYPOST_POSTING_SETTLE_MS=1500"])
        defer { d.cleanUp() }
        try d.start()
        try sim.fault("error-after", account: account, extra: [("status", JSON(500))])
        let text = "the shop opens at nine https://example.com/hours"
        let id = try d.post(account, text)
        let done = try d.waitStates([id], "posted")[id]!
        let truth = try sim.posts(account)
        #expect(truth.count == 1, "exactly one post on the Page: \(truth)")
        #expect(done["platform_id"]?.string == truth.first?["id"]?.stringOrNumber)
        let detail = try d.show(id)
        #expect(detail["attempts"]?.int == 1, "never re-sent")
        #expect(detail["attempt_log"]?[0]?["detail"]?.string?.contains("verified published") == true, "\(detail.serialized)")
        let creates = try sim.requests().filter { $0["method"]?.string == "POST" && ($0["path"]?.string ?? "").hasSuffix("/feed") }
        #expect(creates.count == 1, "one create request: \(creates)")
    }

    @Test("a caption over 63,206 characters is refused at scheduling; one at the limit posts")
    func captionLimit() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.facebook, "fb-long", nil)])
        defer { d.cleanUp() }
        try d.start()
        let long = d.cli(["post", "--account", "fb-long", String(repeating: "a", count: FacebookPlatform.maxCharacters + 1)])
        #expect(long.code == 1 && long.stderr.contains("too long"), "\(long.stderr)")
        #expect(try d.jobs(account: "fb-long").isEmpty, "nothing scheduled")
        let id = try d.post("fb-long", String(repeating: "b", count: FacebookPlatform.maxCharacters))
        try d.waitStates([id], "posted")
        #expect(try sim.posts("fb-long").count == 1)
    }

    @Test("the usage header at 96 %: the account pauses before Facebook refuses, until access comes back; the other Page goes on")
    func pauseBeforeRefusal() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.facebook, "fb-busy", nil), (.facebook, "fb-calm", nil)])
        defer { d.cleanUp() }
        try d.start()
        try sim.fault("high-usage", account: "fb-busy", extra: [("retry_after_s", JSON(600))])
        let first = try d.post("fb-busy", "first of the day")
        try d.waitStates([first], "posted")
        let paused = try waitFor("fb-busy paused", timeoutMillis: 10_000) { () -> JSON? in
            let a = try d.account("fb-busy")
            return a["pause_kind"]?.string == "rate-limit" ? a : nil
        }
        let until = paused["paused_until"]?.string.flatMap(HTTPTime.parseISO8601) ?? 0
        let now = SteadyClock.wallMillis()
        #expect(until > now + 8 * 60_000 && until < now + 11 * 60_000, "paused for the 10 minutes Facebook named: \(paused.serialized)")
        let second = try d.post("fb-busy", "second of the day")
        try d.waitStates([try d.post("fb-calm", "another Page goes on")], "posted")
        #expect(try d.show(second)["state"]?.string == "scheduled")
        #expect(try d.show(second)["attempts"]?.int == 0, "nothing sent to be refused")
        #expect(try sim.posts("fb-busy").count == 1)
    }

    @Test("photos: one and four land once each, uploaded unpublished and named by one feed post, in order with alt text; a lost upload answer is repeated, never verified")
    func photos() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.facebook, "fb-photos", nil)], environment: ["STEADYPOST_POSTING_SETTLE_MS=1500"])
        defer { d.cleanUp() }
        try sim.fault("lose-response", account: "fb-photos", endpoint: "upload", count: 1)
        let posts = [
            MediaFixture.Scheduled(account: "fb-photos", platform: .facebook, text: "one photo of the shop",
                                   media: [MediaFixture.Item(bytes: MediaFixture.png(3_000, seed: 9), alt: "the shop front")]),
            MediaFixture.Scheduled(account: "fb-photos", platform: .facebook, text: "four photos of the shop", media: MediaFixture.images("f", seed: 8)),
        ]
        let ids = try d.insertMediaPosts(posts)
        try d.start()
        try d.waitMediaStates(ids, "posted", timeoutMillis: 60_000)
        for post in posts { try sim.checkLanded(post, context: "facebook photos") }
        #expect(try sim.posts("fb-photos").count == 2, "unpublished photos are no posts")
        for id in ids {
            let log = try d.show(id)["attempt_log"]?.array ?? []
            #expect(log.map { $0["outcome"]?.string ?? "none" } == ["published"], "one attempt: \(log)")
        }
        let creates = try sim.requests().filter { $0["method"]?.string == "POST" && ($0["path"]?.string ?? "").hasSuffix("/feed") }
        #expect(creates.count == 2, "one feed post each: \(creates.count)")
        // Five photos taken, plus the one whose answer was lost (an unpublished orphan).
        #expect(try sim.uploads("fb-photos").count == 6)
    }
}
