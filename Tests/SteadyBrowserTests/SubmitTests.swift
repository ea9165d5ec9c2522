import Glibc
import SteadyCore
import SteadyJSON
import SteadySystem
import SteadyWorker
import Testing

@testable import SteadyBrowser

/// The browser posting path against the real simulator's web pages (`/web/login`,
/// `/web/compose`, `/web/posts/ID`), and the role's deferred answers.
extension RealChromiumTests {
@Suite(.enabled(if: chromiumInstalled && SimulatorProcess.available,
                "needs /usr/bin/chromium and steadypost-sim (swift build --product steadypost-sim)"))
struct SubmitTests {
    func account(_ sim: Simulator, _ name: String) throws -> SubmitRequest {
        let created = try sim.admin("POST", "/_sim/accounts", .obj([("platform", JSON("mastodon")), ("name", JSON(name))]))
        let password = try #require(created["credentials"]?["web_password"]?.string ?? created["web_password"]?.string, "\(created.serialized)")
        return SubmitRequest(loginURL: sim.base + "/web/login?account=\(name)", username: name, password: password,
                             composeURL: sim.base + "/web/compose", text: "")
    }

    /// The real simulator and a one-browser pool, both ended afterwards.
    func withPool(_ body: (Simulator, BrowserPool) throws -> Void) throws {
        let sim = try Simulator()
        defer { sim.stop() }
        let tmp = TempDir("steadypost-browser")
        defer { tmp.remove() }
        let dir = tmp.path
        let pool = try BrowserPool(settings: testSettings(dir: dir), logger: quietLogger)
        defer { pool.shutdown() }
        try body(sim, pool)
    }

    func groundTruth(_ sim: Simulator, _ name: String) throws -> [JSON] {
        try sim.admin("GET", "/_sim/posts?account=\(name)")["posts"]?.array ?? []
    }

    @Test(.timeLimit(.minutes(2))) func submitPostsThroughTheWebFormsAndReadsTheId() throws {
        try withPool { sim, pool in
            var request = try account(sim, "webposter")
            request.text = "hello from a headless browser ✓"
            let answers = Answers()
            pool.lease(.submit(request), deadline: SteadyClock.monotonicMillis() + 20_000, completion: answers.completion(1))
            try drive(pool, timeoutMs: 25_000) { answers.results[1] != nil }
            let id = try #require(answers.value(1)?["post_id"]?.string, "\(String(describing: answers.error(1)))")
            let posts = try groundTruth(sim, "webposter")
            #expect(posts.count == 1)
            #expect(posts.first?["id"]?.string == id)
            #expect(posts.first?["via"]?.string == "browser")
            #expect(posts.first?["text"]?.string == request.text)

            // A wrong password is a login failure, and nothing is posted.
            var wrong = request
            wrong.password = "not-the-password"
            pool.lease(.submit(wrong), deadline: SteadyClock.monotonicMillis() + 20_000, completion: answers.completion(2))
            try drive(pool, timeoutMs: 25_000) { answers.results[2] != nil }
            #expect(answers.error(2)?.code == LeaseError.loginFailed)
            #expect(try groundTruth(sim, "webposter").count == 1)
        }
    }

    /// F08 at the pool level: the simulator creates the post, then never answers the result
    /// page. The lease is answered `unknownOutcome` by its deadline (the posting contract then
    /// verifies), the post is in the ground truth exactly once, and the browser is reused.
    @Test(.timeLimit(.minutes(2))) func f08HungResultPageIsAnUnknownOutcomeByTheDeadline() throws {
        try withPool { sim, pool in
            var request = try account(sim, "hungresult")
            request.text = "F08 the result page hangs"
            _ = try sim.admin("POST", "/_sim/faults", .obj([("kind", JSON("hang-result-page")), ("endpoint", JSON("web-compose")), ("account", JSON("hungresult")), ("count", JSON(1))]))
            let answers = Answers()
            let deadline = SteadyClock.monotonicMillis() + 6_000
            pool.lease(.submit(request), deadline: deadline, completion: answers.completion(1))
            try drive(pool, timeoutMs: 12_000) { answers.results[1] != nil }
            let error = try #require(answers.error(1))
            #expect(error.code == LeaseError.unknownOutcome, "\(error)")
            #expect(answers.at(1)! >= deadline && answers.at(1)! - deadline < 300)
            let posts = try groundTruth(sim, "hungresult")
            #expect(posts.count == 1)
            #expect(posts.first?["text"]?.string == request.text)
            #expect(posts.first?["via"]?.string == "browser")
            #expect(pool.stats.unknownOutcomes == 1)
            // The tab was closed and the same browser serves the next lease.
            request.text = "after the hang"
            pool.lease(.submit(request), deadline: SteadyClock.monotonicMillis() + 20_000, completion: answers.completion(2))
            try drive(pool, timeoutMs: 25_000) { answers.results[2] != nil }
            #expect(answers.value(2)?["post_id"] != nil)
            #expect(pool.stats.launched == 1)
            #expect(try groundTruth(sim, "hungresult").count == 2)
        }
    }

    /// Known outcomes with nothing published: the compose page's own refusal
    /// (`#compose-error`) is `rejected`, even though the form was submitted; a submit whose
    /// deadline comes before the click is `timeoutBeforeSubmit` (a plain `timeout` could be
    /// the router's, after the click).
    @Test(.timeLimit(.minutes(2))) func composeRefusalIsRejectedAndAnEarlyDeadlineIsBeforeSubmit() throws {
        try withPool { sim, pool in
            var request = try account(sim, "refused")
            request.text = String(repeating: "too long ", count: 60)
            let answers = Answers()
            pool.lease(.submit(request), deadline: SteadyClock.monotonicMillis() + 20_000, completion: answers.completion(1))
            try drive(pool, timeoutMs: 25_000) { answers.results[1] != nil }
            let refused = try #require(answers.error(1), "\(String(describing: answers.value(1)))")
            #expect(refused.code == LeaseError.rejected, "\(refused)")
            #expect(refused.message.contains("500"), "the platform's reason is kept: \(refused)")
            #expect(try groundTruth(sim, "refused").isEmpty)

            _ = try sim.admin("POST", "/_sim/faults", .obj([("kind", JSON("delay")), ("endpoint", JSON("web-login")), ("delay_ms", JSON(10_000)), ("count", JSON(1))]))
            request.text = "too slow to log in"
            pool.lease(.submit(request), deadline: SteadyClock.monotonicMillis() + 3_000, completion: answers.completion(2))
            try drive(pool, timeoutMs: 10_000) { answers.results[2] != nil }
            #expect(answers.error(2)?.code == LeaseError.timeoutBeforeSubmit, "\(String(describing: answers.error(2)))")
            #expect(try groundTruth(sim, "refused").isEmpty)
            #expect(pool.stats.unknownOutcomes == 0)
        }
    }

    /// The role: a lease request is answered later through `WorkerReplies` under its
    /// correlation; refusals and bad requests are answered at once; the deadline is the
    /// frame's (less a margin) when it is sooner than the body's.
    @Test(.timeLimit(.minutes(2))) func theRoleAnswersLeasesThroughDeferredReplies() throws {
        let server = try PageServer()
        defer { server.stop() }
        let tmp = TempDir("steadypost-browser")
        defer { tmp.remove() }
        let dir = tmp.path
        let role = BrowserRole(settings: testSettings(dir: dir, queue: 1), logger: quietLogger)
        let pool = try #require(role.pool)
        defer { pool.shutdown() }
        var answered: [UInt64: WorkerReply] = [:]
        role.start(logger: quietLogger, replies: WorkerReplies { correlation, reply in
            answered[correlation] = reply
            return true
        })
        #expect(role.watchedDescriptors == [pool.descriptor])
        func request(_ method: String, _ body: String, _ correlation: UInt64, deadline: Int64 = 0) -> WorkerReply? {
            role.handle(request: WorkerRequest(method: method, body: Array(body.utf8), correlation: correlation, deadline: deadline))
        }
        let url = server.base + "/page/role"
        let first = request("scrape", #"{"url":"\#(url)","extract":{"t":"document.title"},"deadline_ms":20000}"#, 7)
        guard case .deferred? = first else { Issue.record("\(String(describing: first))"); return }
        // Bad requests are answered at once.
        guard case .error(let code, _)? = request("scrape", #"{"url":"file:///etc/passwd","extract":{"t":"1"}}"#, 8) else { Issue.record("no refusal"); return }
        #expect(code == LeaseError.badRequest)
        #expect(request("nosuch", "{}", 9) == nil)
        try drive(pool, timeoutMs: 25_000) { answered[7] != nil }
        guard case .ok(let body)? = answered[7] else { Issue.record("\(String(describing: answered[7]))"); return }
        #expect(try JSON.parse(body)["values"]?["t"]?.string == "Page role")
        // The frame's deadline wins when sooner: a page that never loads is answered before it.
        let frameDeadline = SteadyClock.monotonicMillis() + 1500
        guard case .deferred? = request("scrape", #"{"url":"\#(server.base)/hangimg","extract":{"t":"1"}}"#, 10, deadline: frameDeadline) else { Issue.record("not deferred"); return }
        try drive(pool, timeoutMs: 5_000) { answered[10] != nil }
        #expect(SteadyClock.monotonicMillis() < frameDeadline)
        guard case .error(let timeoutCode, _)? = answered[10] else { Issue.record("\(String(describing: answered[10]))"); return }
        #expect(timeoutCode == LeaseError.timeout)
        guard case .ok(let status)? = request("status", "{}", 11) else { Issue.record("no status"); return }
        let s = try JSON.parse(status)
        #expect(s["browsers"]?.int == 1)
        #expect(s["queue_limit"]?.int == 1)
        #expect(role.counters["leases"] == 2)
        #expect(role.summary.contains("up to 1 headless Chromium"))
        // Drain: the browser goes, then the role says drained.
        role.beginDrain()
        try drive(pool, timeoutMs: 10_000) { role.drained }
        guard case .error(let drainingCode, _)? = request("scrape", #"{"url":"\#(url)","extract":{"t":"1"}}"#, 12) else { Issue.record("no refusal while draining"); return }
        #expect(drainingCode == LeaseError.unavailable)
    }
}

}

extension WorkerReply: Equatable {
    public static func == (a: WorkerReply, b: WorkerReply) -> Bool {
        switch (a, b) {
        case (.ok(let x), .ok(let y)): return x == y
        case (.error(let c1, let m1), .error(let c2, let m2)): return c1 == c2 && m1 == m2
        case (.deferred, .deferred): return true
        default: return false
        }
    }
}
