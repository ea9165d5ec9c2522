import Glibc
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadySystem
import Testing

@Suite("health through the real daemon (F25)", .serialized, .timeLimit(.minutes(5)))
struct HealthIntegrationTests {
    @Test("F25: healthy with every figure; degraded when the platform is down; unhealthy when a worker is parked")
    func testF25_healthTurnsDegradedThenUnhealthy() throws {
        let d = try APIDaemon()
        defer { d.cleanUp() }
        let token = try d.createToken("ci")
        try d.postNow("all is well", token: token)

        // Healthy: every seed figure printed, exit 0.
        let healthy = d.daemon.cli(["health"])
        #expect(healthy.code == 0, "\(healthy)")
        #expect(healthy.stdout.hasPrefix("health: healthy"))
        for figure in ["success_rate", "avg_post_time_ms", "stuck_posts", "orphaned_posts", "duplicate_rate", "verification_rate",
                       "unknown_posts", "open_breakers", "paused_accounts", "late_jobs", "parked_workers"] {
            #expect(healthy.stdout.contains("  \(figure) "), "\(figure) missing:\n\(healthy.stdout)")
        }
        #expect(healthy.stdout.contains("success_rate       100.0%"), "\(healthy.stdout)")
        let json = try d.health()
        #expect(json["status"]?.string == "healthy" && json["figures"]?["success_rate"]?.int == 1 && json["figures"]?["parked_workers"]?.int == 0)

        // The platform goes down: every create answers 503 with no effect; after five in a row
        // the account's breaker opens.
        try d.sim.fault("error-before", account: "news-x", count: nil, extra: [("status", JSON(503))])
        for i in 0..<6 {
            _ = try d.json(.post, "/api/posts", token: token, body: .obj([("account", JSON("news-x")), ("text", JSON("while down \(i)"))]), expect: 201)
        }
        let degraded = try waitFor("an open breaker in /health", timeoutMillis: 60_000) { () -> JSON? in
            let h = try d.health()
            return h["figures"]?["open_breakers"]?.int == 1 ? h : nil
        }
        #expect(degraded["status"]?.string == "degraded", "\(degraded.serialized)")
        #expect(degraded["reasons"]?.array?.contains { $0.string?.hasPrefix("open_breakers 1") == true } == true)
        let cliDegraded = d.daemon.cli(["health"])
        #expect(cliDegraded.code == 1, "\(cliDegraded)")
        #expect(cliDegraded.stdout.hasPrefix("health: degraded"))

        // A worker crash-loops until the supervisor parks it: unhealthy, /health answers 503.
        _ = try waitFor("replies parked", timeoutMillis: 60_000) { () -> Bool? in
            let w = try d.daemon.client.status().workers.first { $0.role == .replies }
            if w?.state == "failed" { return true }
            if w?.state == "running" { _ = d.daemon.cli(["debug", "fault", "replies", "crash"]) }
            return nil
        }
        let unhealthy = try d.send(.get, "/health")
        #expect(unhealthy.status == 503)
        let body = try JSON.parse(unhealthy.body)
        #expect(body["status"]?.string == "unhealthy")
        #expect(body["parked_worker_names"]?.array?.compactMap(\.string) == ["replies"])
        let cliUnhealthy = d.daemon.cli(["health", "--json"])
        #expect(cliUnhealthy.code == 2, "\(cliUnhealthy)")
        #expect(try JSON.parse(cliUnhealthy.stdout)["status"]?.string == "unhealthy")
    }

    @Test("F25: a periodic job that turns late (the replies job, its generator down) makes health degraded, by name")
    func testF25_lateJobTurnsHealthDegraded() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "f25-late"
        let server = try RepliesWorkerTests.generatorDown()
        defer { server.stop() }
        let d = try RepliesWorkerTests.openAIDaemon(sim, account: account, server: server, key: "sk-f25")
        defer { d.cleanUp() }
        // The api worker may still be starting (exit 3: figures not to be had yet).
        let first = try waitFor("the api worker answers health", timeoutMillis: 20_000) { () -> Int32? in
            let code = d.cli(["health"]).code
            return code == 3 ? nil : code
        }
        #expect(first == 0)
        try sim.mention(account, from: "alice", text: "anyone there?")
        let late = try waitFor("health degraded by the late job", timeoutMillis: 30_000) { () -> JSON? in
            let r = d.cli(["health", "--json"])
            guard r.code == 1, let j = try? JSON.parse(r.stdout), j["figures"]?["late_jobs"]?.int ?? 0 >= 1 else { return nil }
            return j
        }
        #expect(late["status"]?.string == "degraded")
        #expect(late["late_job_names"]?.array?.compactMap(\.string).contains("replies/mentions") == true, "\(late.serialized)")
        #expect(late["reasons"]?.array?.contains { $0.string?.hasPrefix("late_jobs ") == true } == true)
    }

    @Test("steadypost health exits 3, not 1, when the api worker is not running")
    func apiWorkerStopped() throws {
        let d = try DaemonProcess.started()
        defer { d.cleanUp() }
        try d.waitAllRunning()
        #expect(d.cli(["health"]).code == 0)
        #expect(d.cli(["stop", "api"]).code == 0)
        let r = d.cli(["health"])
        #expect(r.code == 3, "\(r)")
        #expect(r.stderr.contains("api"), "\(r.stderr)")
    }

    @Test("steadypost health exits 3 when the daemon cannot be reached")
    func unreachable() {
        let r = spawnAndWait([TestBinaries.cli, "health", "--socket", "/nonexistent/steadypost/control.sock", "--timeout", "2"])
        #expect(r.code == 3, "\(r)")
        #expect(r.stderr.contains("cannot reach steadypostd"))
    }
}
