import Glibc
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadySystem
import Testing

@Suite("the HTTP API, through the real daemon and simulator", .serialized, .timeLimit(.minutes(5)))
struct APITests {
    @Test("auth: refused without a token, with an unknown one, and with a revoked one; the token never reaches a log")
    func authRefused() throws {
        let d = try APIDaemon()
        defer { d.cleanUp() }
        for token in [nil, "spt_0000", "not even a token"] as [String?] {
            let r = try d.send(.get, "/api/quotas", token: token)
            #expect(r.status == 401, "\(token ?? "none"): \(r.status)")
            #expect(try JSON.parse(r.body)["error"]?["field"]?.string == "Authorization")
        }
        let token = try d.createToken("ci")
        let quotas = try d.json(.get, "/api/quotas", token: token, expect: 200)
        let account = try #require(quotas["accounts"]?.array?.first)
        #expect(account["account"]?.string == "news-x" && account["hourly"]?["limit"]?.int == 30 && account["daily"]?["left"]?.int == 300)
        #expect(try d.json(.get, "/api/workers", token: token, expect: 200)["workers"]?.array?.count == 6)

        let listed = d.daemon.cli(["token", "list"])
        #expect(listed.code == 0 && listed.stdout.contains("ci") && listed.stdout.contains("active"), "\(listed)")
        #expect(!listed.stdout.contains(token))
        let revoked = d.daemon.cli(["token", "revoke", "ci"])
        #expect(revoked.code == 0, "\(revoked)")
        let after = try d.send(.get, "/api/quotas", token: token)
        #expect(after.status == 401)
        #expect(try JSON.parse(after.body)["error"]?["message"]?.string?.contains("revoked") == true)
        #expect(d.daemon.cli(["token", "revoke", "ci"]).code == 1)
        #expect(!d.daemon.log().contains(token), "the token reached the daemon's log")
    }

    @Test("with the posting worker stopped, writes answer 503 (nothing stored) and quotas, health and metrics still answer")
    func postingDown() throws {
        let d = try APIDaemon()
        defer { d.cleanUp() }
        let token = try d.createToken("ci")
        #expect(d.daemon.cli(["stop", "posting"]).code == 0)
        let r = try d.send(.post, "/api/posts", token: token, body: .obj([("account", JSON("news-x")), ("text", JSON("nobody home"))]))
        #expect(r.status == 503, "\(r.text)")
        #expect(try JSON.parse(r.body)["error"]?["code"]?.string == "unavailable")
        #expect(try d.json(.get, "/api/quotas", token: token, expect: 200)["accounts"]?.array?.count == 1)
        #expect(try d.health()["figures"]?["stuck_posts"]?.int == 0)
        #expect(try d.send(.get, "/metrics").text.contains("steadypost_worker_up{role=\"posting\"} 0"))
        #expect(d.daemon.cli(["start", "posting"]).code == 0)
        #expect(try d.json(.get, "/api/posts", token: token, expect: 200).array?.isEmpty == true)
    }

    @Test("schedule through the API; read it back; bad requests get 4xx naming the field")
    func scheduleAndRead() throws {
        let d = try APIDaemon()
        defer { d.cleanUp() }
        let token = try d.createToken("ci")
        let created = try d.json(.post, "/api/posts", token: token, body: .obj([("account", JSON("news-x")), ("text", JSON("hello from the API"))]), expect: 201)
        let id = try #require(created["id"]?.string)
        let posted = try waitFor("the post posted", timeoutMillis: 30_000) { () -> JSON? in
            let p = try d.json(.get, "/api/posts/\(id)", token: token, expect: 200)
            return p["state"]?.string == "posted" ? p : nil
        }
        #expect(posted["platform_id"]?.string != nil)
        #expect(try d.sim.posts("news-x").filter { $0["text"]?.string == "hello from the API" }.count == 1)
        #expect(try d.json(.get, "/api/posts?state=posted&account=news-x", token: token, expect: 200).array?.map { $0["id"]?.string } == [id])

        func refused(_ method: HTTPMethod, _ path: String, _ body: JSON?, _ status: Int, field: String?) throws {
            let r = try d.send(method, path, token: token, body: body)
            #expect(r.status == status, "\(method.rawValue) \(path): \(r.status) \(r.text)")
            #expect(try JSON.parse(r.body)["error"]?["field"]?.string == field, "\(r.text)")
        }
        try refused(.post, "/api/posts", .obj([("account", JSON("news-x"))]), 400, field: "text")
        try refused(.post, "/api/posts", .obj([("account", JSON("nobody")), ("text", JSON("x"))]), 400, field: "account")
        try refused(.post, "/api/posts", .obj([("account", JSON("news-x")), ("text", JSON("x")), ("at", JSON("tomorrow"))]), 400, field: "at")
        try refused(.post, "/api/posts", .array([]), 400, field: "body")
        try refused(.get, "/api/posts?state=lost", nil, 400, field: "state")
        try refused(.get, "/api/posts?limit=0", nil, 400, field: "limit")
        try refused(.get, "/api/posts/p_missing", nil, 404, field: "id")
        try refused(.delete, "/api/posts/\(id)", nil, 409, field: "id")
        let raw = try d.http.send(HTTPRequest(method: .post, url: d.base + "/api/posts", headers: ["Authorization": "Bearer \(token)"], body: Array("{not json".utf8)))
        #expect(raw.status == 400 && raw.text.contains("\"field\":\"body\""), "\(raw.text)")
        // Nothing half-written: still the one post.
        #expect(try d.json(.get, "/api/posts", token: token, expect: 200).array?.count == 1)
    }

    @Test("a batch is all or nothing, and its error names the item")
    func batchAllOrNothing() throws {
        let d = try APIDaemon()
        defer { d.cleanUp() }
        let token = try d.createToken("ci")
        let later = SteadyClock.wallMillis() + 3_600_000
        func item(_ text: String) -> JSON { .obj([("text", JSON(text)), ("at", .number(Double(later), raw: String(later)))]) }
        let bad = try d.send(.post, "/api/posts/batch", token: token,
                             body: .obj([("account", JSON("news-x")), ("posts", .array([item("one"), item(String(repeating: "x", count: 300)), item("three")]))]))
        #expect(bad.status == 400)
        let error = try JSON.parse(bad.body)["error"]
        #expect(error?["field"]?.string == "posts[1].text", "\(bad.text)")
        #expect(error?["message"]?.string?.hasPrefix("posts[1]:") == true)
        #expect(try d.json(.get, "/api/posts?account=news-x", token: token, expect: 200).array?.isEmpty == true, "a refused batch stored something")

        let good = try d.json(.post, "/api/posts/batch", token: token,
                              body: .obj([("account", JSON("news-x")), ("posts", .array([item("one"), item("two"), item("three")]))]), expect: 201)
        #expect(good["posts"]?.array?.count == 3)
        #expect(try d.json(.get, "/api/posts?state=scheduled", token: token, expect: 200).array?.count == 3)
        try #require(try d.send(.post, "/api/posts/batch", token: token, body: .obj([("account", JSON("news-x"))])).status == 400)
    }

    @Test("threads: POST /api/threads answers the thread; GET and DELETE /api/threads/{id}; a bad part is a 400 naming thread[N]; a thread on /api/posts is refused")
    func threads() throws {
        let d = try APIDaemon()
        defer { d.cleanUp() }
        let token = try d.createToken("ci")
        let later = SteadyClock.wallMillis() + 3_600_000
        func thread(_ texts: [String]) -> JSON {
            .obj([("account", JSON("news-x")), ("thread", .array(texts.map { JSON.obj([("text", JSON($0))]) })), ("at", .number(Double(later), raw: String(later)))])
        }
        let bad = try d.send(.post, "/api/threads", token: token, body: thread(["one", String(repeating: "x", count: 300)]))
        #expect(bad.status == 400)
        let error = try JSON.parse(bad.body)["error"]
        #expect(error?["field"]?.string == "thread[1].text" && error?["message"]?.string?.hasPrefix("part 2:") == true, "\(bad.text)")
        #expect(try d.send(.post, "/api/posts", token: token, body: thread(["a", "b"])).status == 400)

        let made = try d.json(.post, "/api/threads", token: token, body: thread(["one", "two", "three"]), expect: 201)
        let id = try #require(made["thread_id"]?.string)
        #expect(made["posts"]?.array?.map { $0["thread_position"]?.int ?? 0 } == [1, 2, 3])
        #expect(try d.json(.get, "/api/threads/\(id)", token: token, expect: 200)["state"]?.string == "scheduled")
        let cancelled = try d.json(.delete, "/api/threads/\(id)", token: token, expect: 200)
        #expect(cancelled["posts"]?.array?.allSatisfy { $0["state"]?.string == "cancelled" } == true, "\(cancelled.serialized)")
        #expect(try d.send(.delete, "/api/threads/\(id)", token: token).status == 409)
        #expect(try d.send(.get, "/api/threads/p_notathread", token: token).status == 404)
        #expect(try d.send(.get, "/api/threads/t_none", token: token).status == 404)
    }

    @Test("cancel racing the claim: for every post exactly one wins")
    func cancelRacesClaim() throws {
        let d = try APIDaemon()
        defer { d.cleanUp() }
        let token = try d.createToken("ci")
        let due = SteadyClock.wallMillis() + 2000
        var ids: [String] = []
        for i in 0..<12 {
            let p = try d.json(.post, "/api/posts", token: token,
                               body: .obj([("account", JSON("news-x")), ("text", JSON("race \(i)")), ("at", .number(Double(due), raw: String(due)))]), expect: 201)
            ids.append(try #require(p["id"]?.string))
        }
        // At the due time the engine claims; the cancels arrive at the same moment.
        _ = try waitFor("the due time", timeoutMillis: 10_000) { SteadyClock.wallMillis() >= due ? true : nil }
        var cancelled: Set<String> = []
        for id in ids.sorted() {
            let r = try d.send(.delete, "/api/posts/\(id)", token: token)
            #expect(r.status == 200 || r.status == 409, "\(id): \(r.status) \(r.text)")
            if r.status == 200 { cancelled.insert(id) }
        }
        let final = try waitFor("every post settled", timeoutMillis: 60_000) { () -> [String: String]? in
            var states: [String: String] = [:]
            for id in ids { states[id] = try d.json(.get, "/api/posts/\(id)", token: token, expect: 200)["state"]?.string }
            return states.values.allSatisfy { $0 == "cancelled" || $0 == "posted" } ? states : nil
        }
        let live = try d.sim.posts("news-x").compactMap { $0["text"]?.string }
        for (i, id) in ids.enumerated() {
            let onPlatform = live.filter { $0 == "race \(i)" }.count
            if cancelled.contains(id) {
                #expect(final[id] == "cancelled" && onPlatform == 0, "\(id): cancel won but \(final[id] ?? "-"), \(onPlatform) on the platform")
            } else {
                #expect(final[id] == "posted" && onPlatform == 1, "\(id): claim won but \(final[id] ?? "-"), \(onPlatform) on the platform")
            }
        }
        #expect(!cancelled.isEmpty, "no cancel won")
    }

    @Test("promtool check metrics passes on a live /metrics")
    func promtoolOnLiveMetrics() throws {
        guard access("/usr/bin/promtool", X_OK) == 0 else {
            Issue.record("promtool is missing: apt-get install prometheus (scripts/common.sh installs it)")
            return
        }
        let d = try APIDaemon()
        defer { d.cleanUp() }
        let token = try d.createToken("ci")
        try d.postNow("metric me", token: token)
        // The worker figures arrive with the posting worker's next heartbeat.
        let r = try waitFor("the posting figures in /metrics", timeoutMillis: 10_000) { () -> HTTPResponse? in
            let r = try d.send(.get, "/metrics")
            return r.text.contains("steadypost_worker_figure{role=\"posting\",name=\"posted\"} 1") ? r : nil
        }
        #expect(r.status == 200)
        #expect(r.headers["Content-Type"]?.hasPrefix("text/plain; version=0.0.4") == true)
        for line in ["steadypost_posts{state=\"posted\"} 1", "steadypost_attempts_total{outcome=\"published\"} 1",
                     "steadypost_post_latency_seconds_count 1", "steadypost_breaker_state{account=\"news-x\",state=\"closed\"} 1",
                     "steadypost_quota_used{account=\"news-x\",window=\"hour\"} 1", "steadypost_worker_restarts_total{role=\"posting\"} 0",
                     "steadypost_worker_restarts_total{role=\"api\"} 0",
                     "steadypost_worker_up{role=\"browser\"} 1", "steadypost_supervisor_up 1"] {
            #expect(r.text.contains(line), "missing: \(line)")
        }
        #expect(r.text.contains("steadypost_worker_heartbeat_age_seconds{role=\"api\"}"))
        let file = d.daemon.dir.path + "/metrics.txt"
        try Files.writeAtomically(file, r.text)
        let check = spawnAndWait(["/bin/sh", "-c", "exec /usr/bin/promtool check metrics < \"$0\"", file])
        #expect(check.code == 0, "promtool: \(check.stdout)\(check.stderr)")
        #expect((check.stdout + check.stderr).trimmingWhitespace().isEmpty, "promtool lint: \(check.stdout)\(check.stderr)")
    }

    @Test("the dashboard, loaded in real headless Chromium, shows workers, queue, quotas and the hourly plot")
    func dashboardInChromium() throws {
        guard access("/usr/bin/chromium", X_OK) == 0 else {
            Issue.record("chromium is missing (scripts/common.sh installs it)")
            return
        }
        let d = try APIDaemon()
        defer { d.cleanUp() }
        let token = try d.createToken("ci")
        try d.postNow("on the dashboard", token: token)
        let extract: [(String, String)] = [
            ("title", "document.title"),
            ("refresh", "document.querySelector('meta[http-equiv=refresh]').content"),
            ("health", "document.getElementById('health-status').textContent"),
            ("workers", "document.querySelectorAll('#workers tbody tr').length"),
            ("apiState", "document.querySelector('#workers tr[data-role=api] .state').textContent"),
            ("restarts", "document.querySelector('#workers tr[data-role=posting] .restarts').textContent"),
            ("posted", "document.querySelector('#queue tr[data-state=posted] .count').textContent"),
            ("bars", "document.querySelectorAll('#posts-per-hour-plot rect.hour').length"),
            ("plotted", "Array.from(document.querySelectorAll('#posts-per-hour-plot rect.hour')).reduce((s, r) => s + Number(r.dataset.count), 0)"),
            ("lastHour", "document.querySelector('#posts-per-hour-plot rect.hour:last-of-type').dataset.count"),
            ("quotaBars", "document.querySelectorAll('#quotas .bar span').length"),
            ("quotaPercent", "document.querySelector('#quotas tr[data-window=hourly] .bar span').dataset.percent"),
            ("breaker", "document.querySelector('#breakers tr[data-account=news-x]').dataset.breaker"),
            ("sections", "Array.from(document.querySelectorAll('section')).map(s => s.id).join(',')"),
        ]
        let body = JSON.obj([("url", JSON(d.base + "/")), ("extract", .object(extract.map { ($0.0, JSON($0.1)) })), ("deadline_ms", JSON(30_000))])
        let answer = try JSON.parse(try d.daemon.client.call(method: "browser.scrape", body: body.bytes))
        let v = try #require(answer["values"], "\(answer.serialized)")
        #expect(v["title"]?.string == "steadypost")
        #expect(v["refresh"]?.string == "10")
        #expect(v["health"]?.string == "healthy", "\(v.serialized)")
        #expect(v["workers"]?.int == 6)
        #expect(v["apiState"]?.string == "running")
        #expect(v["restarts"]?.string == "0")
        #expect(v["posted"]?.string == "1")
        #expect(v["bars"]?.int == 24)
        #expect(v["plotted"]?.int == 1)
        #expect(v["lastHour"]?.string == "1")
        #expect(v["quotaBars"]?.int == 2)
        #expect(v["quotaPercent"]?.string == "3")  // 1 of 30
        #expect(v["breaker"]?.string == "closed")
        #expect(v["sections"]?.string == "health,workers,queue,attention,breakers,quotas,late-jobs,failures,posts-per-hour")
    }
}
