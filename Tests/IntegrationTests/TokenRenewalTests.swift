import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import SteadyStore
import SteadySystem

/// Token renewal across the daemon's processes (the audit's findings on readers that could
/// not renew and on a 504 from the token endpoint), against the real supervisor, workers and
/// simulator.
@Suite("token renewal", .serialized, .timeLimit(.minutes(4)))
struct TokenRenewalTests {
    /// The token endpoint's answers in the simulator's log, oldest first (`from`: skip these).
    static func tokenStatuses(_ sim: SimulatorProcess, after seq: Int = 0) throws -> [Int] {
        try sim.requests().filter { $0["path"]?.string == "/2/oauth2/token" && ($0["seq"]?.int ?? 0) > seq }.compactMap { $0["status"]?.int }
    }

    static func lastSeq(_ sim: SimulatorProcess) throws -> Int { try sim.requests(limit: 1).last?["seq"]?.int ?? 0 }

    @Test("readers renew: after a quiet spell longer than the tokens' life, steadypost reconcile succeeds on X (and every platform); the posting worker then posts with the reader's rotated tokens")
    func reconcileAfterTokensExpiredWithNoPosting() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        // 8-second access tokens, as in the audit's reproduction.
        try sim.call(.post, "/_sim/tokens/lifetime", .obj([("access_s", JSON(8))]))
        let accounts: [(Platform, String, String?)] = [(.x, "quiet-x", nil), (.mastodon, "quiet-m", nil), (.bluesky, "quiet-b", nil)]
        let d = try DaemonProcess(sim: sim, accounts: accounts)
        defer { d.cleanUp() }
        try d.start()
        try d.waitFirstQuickPass()
        let ids = try accounts.map { try d.post($0.1, "before the quiet spell on \($0.0.rawValue)") }
        try d.waitStates(ids, "posted")

        // The quiet spell: every access token issued so far runs out (the simulator's clock
        // moves 15 s), with nothing posted meanwhile.
        let before = try Self.lastSeq(sim)
        try sim.call(.post, "/_sim/clock", .obj([("advance_ms", JSON(15_000))]))

        let x = d.reconcile(["--account", "quiet-x"])
        #expect(x.code == 0, "exit \(x.code): \(x.stderr) \(x.report?.serialized ?? "")")
        let xr = try DaemonProcess.accountReport(x.report, "quiet-x")
        #expect(xr["status"]?.string == "ok" && xr["error"] == nil, "\(xr.serialized)")
        #expect(xr["known"]?.int == 1, "the post was read back: \(xr.serialized)")
        let all = d.reconcile([])
        #expect(all.code == 0, "exit \(all.code): \(all.report?.serialized ?? all.stderr)")
        for (_, name, _) in accounts {
            let r = try DaemonProcess.accountReport(all.report, name)
            #expect(r["status"]?.string == "ok" && r["error"] == nil, "\(r.serialized)")
        }
        // The reconciler (and any other reader meanwhile) renewed X once, and nobody
        // presented a spent refresh token.
        let statuses = try Self.tokenStatuses(sim, after: before)
        #expect(!statuses.isEmpty && statuses.allSatisfy { $0 == 200 }, "token endpoint answers: \(statuses)")

        // The posting worker's own refresh token was spent by the reader: it must take the
        // stored rotation, not present the old one.
        let after = try d.post("quiet-x", "after the quiet spell on x")
        try d.waitStates([after], "posted")
        let later = try Self.tokenStatuses(sim, after: before)
        #expect(later.allSatisfy { $0 == 200 }, "token endpoint answers: \(later)")
        #expect(try d.account("quiet-x")["paused_until"] == nil || d.account("quiet-x")["paused_until"] == .null)
    }

    @Test("a 504 once from the token endpoint: the refresh is retried with the same refresh token and the post published, no pause")
    func gatewayTimeoutOnRefreshPublishesWithoutPause() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "t504-x", nil)], leaseMillis: 20_000)
        defer { d.cleanUp() }
        try d.start()
        let before = try Self.lastSeq(sim)
        // The create finds its token expired (401), the refresh then meets one 504.
        try sim.fault("token-expired", account: "t504-x", endpoint: "create", count: 1)
        try sim.fault("error-before", account: "t504-x", endpoint: "refresh", count: 1, extra: [("status", JSON(504))])
        let id = try d.post("t504-x", "published through a 504 on the token endpoint")
        let posted = try d.waitStates([id], "posted", timeoutMillis: 30_000)
        #expect(posted[id]?["attempts"]?.int == 1, "one attempt: \(posted[id]?.serialized ?? "")")
        #expect(try Self.tokenStatuses(sim, after: before) == [504, 200])
        let account = try d.account("t504-x")
        #expect(account["pause_kind"] == nil || account["pause_kind"] == .null, "\(account.serialized)")
        #expect(!d.log().contains("re-authorize"), "no re-authorization alert")
        #expect(try sim.posts("t504-x").count == 1)
    }

    @Test("a refused refresh token (invalid_request) pauses the account for re-authorization, saying so")
    func refusedRefreshTokenPausesWithReason() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "refused-x", nil)], leaseMillis: 20_000)
        defer { d.cleanUp() }
        try d.start()
        let before = try Self.lastSeq(sim)
        try sim.fault("token-revoked", account: "refused-x", endpoint: "create", count: 1)
        let id = try d.post("refused-x", "never published: the account was revoked")
        let reason = "the platform refused the refresh token (invalid_request): re-authorize the account"
        let account = try waitFor("the account paused", timeoutMillis: 30_000) { () -> JSON? in
            let a = try d.account("refused-x")
            return a["pause_kind"]?.string == "auth" ? a : nil
        }
        #expect(account["pause_reason"]?.string == reason, "\(account.serialized)")
        // (The metrics and replies workers may meet the revoked token too; nobody gets a 200.)
        let statuses = try Self.tokenStatuses(sim, after: before)
        #expect(!statuses.isEmpty && statuses.allSatisfy { $0 == 400 }, "\(statuses)")
        let job = try d.show(id)
        #expect(job["state"]?.string == "scheduled", "\(job.serialized)")
        let lastError = job["last_error"]?.string ?? ""
        #expect(lastError.contains(reason), "\(job.serialized)")
        #expect(d.log().contains("ALERT: account paused") && d.log().contains(reason))
        #expect(try sim.posts("refused-x").isEmpty)
    }

    @Test("three processes renewing one expired X token spend its single-use refresh token once; each ends with working tokens")
    func racingProcessesSpendRefreshTokenOnce() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let dir = TempDir("steadypost-token-race")
        defer { dir.remove() }
        let bench = TestBinaries.bench
        guard access(bench, X_OK) == 0 else { throw TestFailure("\(bench) is not built") }
        try sim.createAccount(.x, "race-x", credentialsDir: dir.path)
        _ = try SQLitePostStore(path: dir.path + "/steadypost.db")  // migrated once, before the racers
        try sim.call(.post, "/_sim/tokens/expire", .obj([("account", JSON("race-x"))]))
        let before = try Self.lastSeq(sim)
        let go = dir.path + "/go"
        var racers: [(process: SpawnedProcess, out: String)] = []
        defer { for r in racers { killProcess(r.process) } }
        for i in 0..<3 {
            let outPath = dir.path + "/racer-\(i).out"
            racers.append((try spawnLogged([bench, "token-race", dir.path, "race-x", "x", sim.baseURL, dir.path + "/race-x.json", go], log: outPath), outPath))
        }
        // Every racer holds the refused tokens; then they go together.
        _ = try waitFor("every racer ready", timeoutMillis: 20_000) { () -> Bool? in
            racers.allSatisfy { (Files.read($0.out) ?? "").contains("ready") } ? true : nil
        }
        try Files.writeAtomically(go, "go")
        var outputs: [String] = []
        for r in racers {
            guard let status = waitExit(r.process, timeoutMillis: 40_000) else { throw TestFailure("timed out after 40000 ms waiting for a racer to finish") }
            let text = Files.read(r.out) ?? ""
            #expect(status == .exited(0), "\(status): \(text)")
            outputs.append(text)
        }
        #expect(outputs.filter { $0.contains("renewal refreshed") }.count == 1, "\(outputs)")
        #expect(outputs.filter { $0.contains("renewal adopted") }.count == 2, "\(outputs)")
        #expect(outputs.allSatisfy { $0.contains("read ok") }, "\(outputs)")
        #expect(try Self.tokenStatuses(sim, after: before) == [200], "one refresh request, accepted")
    }
}
