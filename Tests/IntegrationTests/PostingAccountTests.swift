import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import SteadySystem

/// Per-account mechanisms of the posting worker against the real simulator: token refresh and
/// pauses (F21), quotas (F22).
@Suite("posting accounts", .serialized, .timeLimit(.minutes(3)))
struct PostingAccountTests {
    static func requests(_ sim: SimulatorProcess, account: String, path: String) throws -> [JSON] {
        try sim.requests().filter { $0["account"]?.string == account && ($0["path"]?.string ?? "").hasPrefix(path) }
    }

    @Test("F21: an expired token is refreshed once and the post succeeds; the rotation is stored before use, so a restarted worker posts without refreshing")
    func f21_expiredTokenRefreshed() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "f21-x", nil)])
        defer { d.cleanUp() }
        try d.start()
        try sim.call(.post, "/_sim/tokens/expire", .obj([("account", JSON("f21-x"))]))
        let first = try d.post("f21-x", "F21 after the token expired")
        try d.waitStates([first], "posted")
        #expect(try sim.posts("f21-x").count == 1)
        #expect(try Self.requests(sim, account: "f21-x", path: "/2/oauth2/token").count == 1, "refreshed once")
        let creates = try Self.requests(sim, account: "f21-x", path: "/2/tweets").filter { $0["method"]?.string == "POST" }
        // Refused, renewed, sent again within the attempt; or, when another process reading
        // the account (replies, metrics) renewed the token first, the posting worker took the
        // stored rotation before its create. Either way the refresh token was spent once.
        let statuses = creates.map { $0["status"]?.int ?? 0 }
        #expect(statuses == [401, 201] || statuses == [201], "\(statuses)")
        #expect(try d.show(first)["attempts"]?.int == 1, "one attempt")
        #expect(try d.counters()["refreshed"]?.int == (statuses == [401, 201] ? 1 : 0))

        // The file's tokens are spent (the access token expired, X refresh tokens are
        // single-use): a new worker can only post with the rotation the store holds.
        let restarted = d.cli(["restart", "posting"])
        #expect(restarted.code == 0, "\(restarted.stderr)")
        let second = try d.post("f21-x", "F21 after a worker restart")
        try d.waitStates([second], "posted")
        #expect(try sim.posts("f21-x").count == 2)
        #expect(try Self.requests(sim, account: "f21-x", path: "/2/oauth2/token").count == 1, "no second refresh")
        let stored = try d.account("f21-x")
        #expect(stored["pause_kind"]?.isNull == true)
    }

    @Test("F21: a fresh token refused right after a successful refresh (expired again in between) is retried with backoff, not a 6-hour pause; refused on three attempts in a row, the account pauses")
    func f21_refusedAfterRefresh() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "f21-again"
        let d = try DaemonProcess(sim: sim, accounts: [(.bluesky, account, nil)])
        defer { d.cleanUp() }
        try d.start()
        // The create expires the account's tokens twice: before the refresh and again on the
        // create retried with the refreshed token (what another process's request can do).
        try sim.fault("token-expired", account: account, count: 2)
        let first = try d.post(account, "F21 expired again right after the refresh")
        try d.waitStates([first], "posted", timeoutMillis: 30_000)
        #expect(try sim.posts(account).count == 1)
        #expect(try d.show(first)["attempts"]?.int == 2, "refused after the refresh, then one more attempt after a backoff")
        #expect(try d.account(account)["pause_kind"]?.isNull == true, "not paused")
        #expect(!d.log().contains("ALERT: account paused"))

        // Refused every time, even right after a refresh the platform accepted: after three
        // attempts in a row the account pauses, with the alert.
        try sim.fault("token-expired", account: account, count: nil)
        let second = try d.post(account, "F21 refused every time")
        let paused = try waitFor("the account paused", timeoutMillis: 40_000) { () -> JSON? in
            let a = try d.account(account)
            return a["pause_kind"]?.string == "auth" ? a : nil
        }
        #expect(paused["paused_until"]?.string != nil)
        let post = try d.show(second)
        #expect(post["state"]?.string == "scheduled", "waiting, not failed: \(post)")
        #expect(post["attempts"]?.int == 3, "\(post.serialized)")
        #expect(try sim.posts(account).count == 1)
        #expect(d.log().contains("ALERT: account paused"), "the operator is alerted")
    }

    @Test("F21: revoked credentials pause only that account, with an alert; the other accounts keep posting", arguments: [Platform.x, Platform.mastodon, Platform.bluesky, Platform.facebook])
    func f21_revokedPausesOnlyThatAccount(platform: Platform) throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let revoked = "f21-revoked"
        let d = try DaemonProcess(sim: sim, accounts: [(platform, revoked, nil), (.x, "f21-ok-x", nil), (.mastodon, "f21-ok-m", nil)])
        defer { d.cleanUp() }
        try d.start()
        try sim.call(.post, "/_sim/tokens/revoke", .obj([("account", JSON(revoked))]))
        let blocked = try d.post(revoked, "F21 to a revoked account")
        let fine = [try d.post("f21-ok-x", "F21 X goes on"), try d.post("f21-ok-m", "F21 Mastodon goes on")]
        try d.waitStates(fine, "posted")
        let paused = try waitFor("the revoked account paused", timeoutMillis: 20_000) { () -> JSON? in
            let a = try d.account(revoked)
            return a["pause_kind"]?.string == "auth" ? a : nil
        }
        #expect(paused["paused_until"]?.string != nil)
        let post = try d.show(blocked)
        #expect(post["state"]?.string == "scheduled", "waiting, not failed: \(post)")
        #expect(post["attempts"]?.int == 1, "one attempt, one refresh, then the pause")
        let lastError = post["last_error"]?.string ?? ""
        #expect(lastError.contains("credentials"), "\(post.serialized)")
        #expect(try sim.posts(revoked).isEmpty)
        // The others are not held back by the pause.
        for account in ["f21-ok-x", "f21-ok-m"] {
            #expect(try d.account(account)["pause_kind"]?.isNull == true)
            try d.waitStates([try d.post(account, "F21 \(account) after the pause")], "posted")
            #expect(try sim.posts(account).count == 2)
        }
        #expect(try d.jobs(account: revoked).first?["state"]?.string == "scheduled")
        #expect(d.log().contains("ALERT: account paused"), "the operator is alerted")
    }

    @Test("F22: a burst over the hourly quota is spread over windows; no window ever holds more attempts than the quota, unknown outcomes included")
    func f22_quotaNeverExceeded() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let hour: Int64 = 3_000  // the quota's hour, shortened for the test
        let quota = 3
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "f22-x", "{ hourly = \(quota), daily = 100 }")],
                                  environment: ["STEADYPOST_POSTING_QUOTA_HOUR_MS=\(hour)"])
        defer { d.cleanUp() }
        try d.start()
        // The first create's answer is lost: an unknown outcome counts against the quota too.
        try sim.fault("lose-response", account: "f22-x")
        var ids: [String] = []
        for i in 0..<7 { ids.append(try d.post("f22-x", "F22 burst \(i)")) }
        // Held back, not refused: the rest wait in `scheduled`.
        _ = try waitFor("the quota to hold posts back", timeoutMillis: 10_000) { () -> Bool? in
            try d.counters()["quota_held"]?.int ?? 0 >= 1 ? true : nil
        }
        try d.waitStates(ids, "posted", timeoutMillis: 30_000)
        var starts: [Int64] = []
        for id in ids {
            for a in try d.show(id)["attempt_log"]?.array ?? [] { starts.append(a["started_at_ms"]?.int64 ?? 0) }
        }
        starts.sort()
        #expect(starts.count == 7, "one attempt a post")
        for i in 0..<(starts.count - quota) {
            #expect(starts[i + quota] - starts[i] >= hour, "\(quota + 1) attempts within \(starts[i + quota] - starts[i]) ms")
        }
        #expect(starts.last! - starts.first! >= 2 * hour, "spread over three windows")
        let created = try sim.posts("f22-x").compactMap { $0["created_at_ms"]?.int64 }.sorted()
        #expect(created.count == 7, "each post once on the platform")
        for i in 0..<max(0, created.count - quota) {
            #expect(created[i + quota] - created[i] >= hour - 250, "the platform saw \(quota + 1) posts within \(created[i + quota] - created[i]) ms")
        }
    }
}
