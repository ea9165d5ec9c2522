import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import SteadySystem

/// The browser posting path and the pool's isolation, end to end: the real supervisor, the
/// posting and browser workers, real headless Chromium and the real simulator over loopback.
/// Every posting test checks the simulator's ground truth (`/_sim/posts`) as well as the store.
@Suite("browser posting", .serialized, .enabled(if: browserTestsCanRun, "needs /usr/bin/chromium (apt-get install chromium)"),
       .timeLimit(.minutes(4)))
struct BrowserPostingTests {
    @Test("A browser-mode account posts through the web login and compose pages: posted once, under the id the result page showed, nothing through the API")
    func browserPostGoesThroughTheComposePage() throws {
        try withBrowserDaemon(accounts: [(.mastodon, "web-m", nil)], browserAccounts: ["web-m"]) { sim, d, browsers in
            let text = "posted through a headless browser ✓ https://example.com/web"
            let id = try d.post("web-m", text)
            let done = try d.waitStates([id], "posted", timeoutMillis: 90_000)[id]!
            let truth = try sim.posts("web-m")
            #expect(truth.count == 1, "exactly one post on the platform: \(truth)")
            #expect(truth.first?["via"]?.string == "browser")
            #expect(truth.first?["text"]?.string == text)
            #expect(done["platform_id"]?.string == truth.first?["id"]?.stringOrNumber, "the store holds the id read from the result page")
            #expect(try d.show(id)["attempts"]?.int == 1)
            // A reply cannot go through the compose page: refused when asked, nothing stored.
            do {
                _ = try d.call("create", .obj([("account", JSON("web-m")), ("text", JSON("a reply")), ("reply_to", JSON(done["platform_id"]?.string ?? "1"))]))
                Issue.record("a reply for a browser account was accepted")
            } catch {
                #expect("\(error)".contains("cannot post replies"), "\(error)")
            }
            #expect(try d.jobs(account: "web-m").count == 1)
            let requests = try sim.requests()
            #expect(!requests.contains { $0["method"]?.string == "POST" && ($0["path"]?.string ?? "").hasPrefix("/api/") }, "no API create")
            #expect(requests.contains { $0["method"]?.string == "POST" && $0["path"]?.string == "/web/compose" })
            try browsers.list(d)
            let status = try d.browser("status")
            #expect(status["completed"]?.int == 1, "one submit lease: \(status.serialized)")
        }
    }

    /// On every platform: the web form sends no idempotency key, so Bluesky's record lookup
    /// (which would call the live post absent once settled, 2 s here) must not decide it.
    @Test("F08: the compose page takes the post and the result page never answers; the lease says unknownOutcome and the post ends posted once, through verification",
          arguments: Platform.allCases)
    func f08_hungResultPageEndsPostedOnce(platform: Platform) throws {
        let account = "f08-web-\(platform.rawValue)"
        try withBrowserDaemon(accounts: [(platform, account, nil)], browserAccounts: [account],
                              environment: ["STEADYPOST_POSTING_SETTLE_MS=2000"]) { sim, d, browsers in
            try sim.fault("hang-result-page", account: account, endpoint: "web-compose")
            let text = "F08 the result page hangs after the post is made"
            let id = try d.post(account, text)
            let done = try d.waitStates([id], "posted", timeoutMillis: 120_000)[id]!
            let truth = try sim.posts(account)
            #expect(truth.count == 1, "exactly one post on the platform: \(truth)")
            #expect(truth.first?["via"]?.string == "browser")
            #expect(done["platform_id"]?.string == truth.first?["id"]?.stringOrNumber, "the store holds the platform's id")
            let detail = try d.show(id)
            #expect(detail["attempts"]?.int == 1, "never re-sent")
            let log = detail["attempt_log"]?.array ?? []
            #expect(log.first?["detail"]?.string?.contains("verified published") == true, "posted through verification: \(log)")
            #expect(try sim.call(.get, "/_sim/faults")["faults"]?[0]?["fired"]?.int == 1, "the fault fired")
            #expect(try d.browser("status")["unknown_outcomes"]?.int == 1, "the lease answered unknownOutcome")
            try browsers.list(d)
        }
    }

    @Test("X refuses a duplicate text on its compose page: verified like the API's refusal, ends failed with the reason, never re-sent")
    func xDuplicateOnTheComposePageIsVerified() throws {
        try withBrowserDaemon(accounts: [(.x, "dup-web-x", nil)], browserAccounts: ["dup-web-x"],
                              environment: ["STEADYPOST_POSTING_SETTLE_MS=2000"]) { sim, d, _ in
            let text = "the same words as ten minutes ago, through the browser"
            try sim.call(.post, "/_sim/posts", .obj([("account", JSON("dup-web-x")), ("text", JSON(text)),
                                                     ("created_at_ms", JSON(SteadyClock.wallMillis() - 600_000))]))
            let id = try d.post("dup-web-x", text)
            let failed = try d.waitStates([id], "failed", timeoutMillis: 60_000)[id]!
            let reason = failed["last_error"]?.string ?? ""
            #expect(reason.contains("duplicate"), "\(failed.serialized)")
            #expect(try d.show(id)["attempts"]?.int == 1, "not re-sent")
            #expect(try sim.posts("dup-web-x").count == 1, "only the earlier post")
            #expect(try sim.requests().contains { $0["path"]?.string == "/web/compose" && $0["status"]?.int == 403 }, "the compose page refused it")
        }
    }

    @Test("A refused web login pauses only that account (auth, not refreshable), nothing is posted, the API account posts on")
    func refusedWebLoginPausesTheAccount() throws {
        // The credentials file's web password is wrong (its API token is right).
        func wrongWebPassword(_ d: DaemonProcess) throws {
            let path = d.credentialsDir + "/badpw-web.json"
            guard case .object(let members) = try JSON.parse(Files.read(path) ?? "") else { throw TestFailure("credentials are not an object") }
            let changed = JSON.object(members.map { $0.0 == "web_password" ? ($0.0, JSON("not-the-web-password")) : $0 })
            try Files.writeAtomically(path, changed.serialized, mode: 0o600)
        }
        try withBrowserDaemon(accounts: [(.mastodon, "badpw-web", nil), (.mastodon, "ok-api", nil)], browserAccounts: ["badpw-web"],
                              prepare: wrongWebPassword) { sim, d, _ in
            let web = try d.post("badpw-web", "this one cannot log in")
            let api = try d.post("ok-api", "this one posts through the API")
            try d.waitStates([api], "posted", timeoutMillis: 30_000)
            let account = try waitFor("the browser account paused", timeoutMillis: 90_000) { () -> JSON? in
                let a = try d.account("badpw-web")
                return a["pause_kind"]?.string == "auth" ? a : nil
            }
            let reason = account["pause_reason"]?.string ?? ""
            #expect(reason.contains("web"), "the pause says the web login was refused: \(reason)")
            #expect(!reason.contains("not-the-web-password"), "the password never shows")
            #expect(try sim.posts("badpw-web").isEmpty)
            let waiting = try d.jobs(account: "badpw-web").first { $0["id"]?.string == web }
            #expect(waiting?["state"]?.string == "scheduled", "the post waits, nothing lost: \(String(describing: waiting))")
            #expect(!d.log().contains("not-the-web-password"), "the password is not in any log line")
        }
    }

    @Test("F15: a flooded pool refuses at once with busy; API posting goes on meanwhile; admitted leases end at their deadline; a killed Chromium is replaced")
    func f15_floodedPoolIsIsolated() throws {
        let account = "f15-api"
        try withBrowserDaemon(accounts: [(.mastodon, account, nil)], browserAccounts: []) { sim, d, browsers in
            let injected = try sim.call(.post, "/_sim/posts", .obj([("account", JSON(account)), ("text", JSON("a page to scrape"))]))
            let postId = try #require(injected["id"]?.stringOrNumber)
            let page = sim.baseURL + "/web/posts/" + postId
            // A first scrape starts the browser.
            let warm = try d.browser("scrape", scrapeBody(page, deadlineMs: 60_000))
            #expect(warm["values"]?["id"]?.string == postId, "\(warm.serialized)")

            // Every page load now hangs: admitted leases hold the browser and the queue.
            try sim.fault("delay", account: account, endpoint: "web-result", count: nil, extra: [("delay_ms", JSON(120_000))])
            // The warm browser is idle again (its tab closed), so one flooding lease starts at once.
            _ = try waitFor("the warm browser idle", timeoutMillis: 20_000) { () -> Bool? in
                let s = try d.browser("status")
                return s["idle"]?.int == 1 && s["busy"]?.int == 0 ? true : nil
            }
            let queueLimit = try #require(try d.browser("status")["queue_limit"]?.int)
            let admitted = queueLimit + 1
            let flood = admitted + 4
            let leaseMs = 20_000
            let calls = try (0..<flood).map { i in
                try RoutedCall(socket: d.socketPath, method: "browser.scrape", body: scrapeBody(page + "?n=\(i)", deadlineMs: leaseMs),
                               timeoutMillis: Int64(leaseMs) + 10_000)
            }
            try RoutedCall.collect(calls, timeoutMillis: Int64(leaseMs)) { cs in cs.filter { $0.answer != nil }.count >= flood - admitted }
            let early = calls.filter { $0.answer != nil }
            #expect(early.count == flood - admitted, "one running and \(queueLimit) queued are admitted")
            #expect(early.allSatisfy { $0.answer?.code == "busy" }, "the rest are refused busy: \(early.map { $0.answer!.code })")

            // API posting meanwhile, while every admitted lease still holds its place.
            let apiPost = try d.post(account, "API posting while the browser pool is flooded")
            try d.waitStates([apiPost], "posted", timeoutMillis: Int64(leaseMs) / 2)
            for c in calls { try c.pump() }
            #expect(calls.filter { $0.answer == nil }.count == admitted, "the pool was still flooded when the API post went out")
            #expect(try sim.posts(account).contains { $0["text"]?.string == "API posting while the browser pool is flooded" })

            // The admitted leases are answered by their deadline (their tabs reclaimed), not before.
            try RoutedCall.collect(calls, timeoutMillis: Int64(leaseMs) + 20_000) { cs in cs.allSatisfy { $0.answer != nil } }
            let late = calls.filter { $0.answer?.code != "busy" }
            #expect(late.count == admitted)
            for c in late {
                #expect(c.answer?.code == "timeout", "\(String(describing: c.answer?.body?.serialized))")
                #expect(c.answer!.at >= c.sentAt + Int64(leaseMs) - 1_000, "answered at its deadline, not before")
            }
            let status = try d.browser("status")
            #expect(status["refusals"]?.int == flood - admitted)
            #expect(status["queue_depth"]?.int == 0)
            // The same figures travel in the heartbeats, so `status` shows them.
            let counters = try waitFor("the refusals in a heartbeat", timeoutMillis: 10_000) { () -> [String: Int64]? in
                let c = try d.client.status().workers.first { $0.role == .browser }?.counters
                return c?["refusals"] == Int64(flood - admitted) ? c : nil
            }
            #expect(counters["browsers"] == 1 && counters["queue_limit"] == Int64(queueLimit))
            let table = d.cli(["status"])
            #expect(table.stdout.contains("browser pool: 1/1 browsers"), "\(table.stdout)")
            #expect(table.stdout.contains("refusals \(flood - admitted)"), "\(table.stdout)")

            // A killed Chromium is replaced: the next lease runs on a new browser, the old one is reaped.
            try sim.clearFaults()
            let victim = try #require(try browsers.list(d).keys.first)
            kill(victim, SIGKILL)
            let again = try waitFor("a scrape on a new browser", timeoutMillis: 60_000) { () -> JSON? in
                try? d.browser("scrape", scrapeBody(page + "?after-kill", deadlineMs: 30_000))
            }
            #expect(again["values"]?["id"]?.string == postId)
            let now = try browsers.list(d)
            #expect(now.count == 1 && now[victim] == nil, "a new browser: \(now)")
            _ = try waitFor("the killed browser reaped", timeoutMillis: 20_000) { () -> Bool? in
                !isAlive(victim) && (try? d.browser("status")["reaping"]?.int) == 0 ? true : nil
            }
            #expect((try d.browser("status")["crashes"]?.int ?? 0) >= 1)
        }
    }

    @Test("mode is checked: an unknown mode is a PATH:LINE: KEY error, browser and api are accepted")
    func modeIsValidated() throws {
        let dir = TempDir("steadypost-mode")
        defer { dir.remove() }
        let path = dir.path + "/steadypost.toml"
        func check(_ mode: String) throws -> (code: Int32, stdout: String, stderr: String) {
            try Files.writeAtomically(path, """
                [daemon]
                state_dir = "\(dir.path)/state"

                [[accounts]]
                name = "web-m"
                platform = "mastodon"
                base_url = "http://127.0.0.1:9"
                credentials = "web-m.json"
                mode = "\(mode)"

                """)
            return spawnAndWait([TestBinaries.daemon, "check-config", "--config", path])
        }
        let bad = try check("web")
        #expect(bad.code == 1)
        #expect((bad.stdout + bad.stderr).contains("\(path):9: accounts[0].mode: unknown mode \"web\" (valid modes: api, browser)"), "\(bad)")
        #expect(try check("browser").code == 0)
        #expect(try check("api").code == 0)
    }
}
