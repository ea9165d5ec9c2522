import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import SteadyStore
import SteadySystem

/// The posting contract end to end: the real supervisor and posting worker, the real
/// simulator over loopback, faults from the simulator and signals from the test. Every test
/// checks the simulator's ground truth (`/_sim/posts`) as well as the store.
@Suite("posting contract", .serialized, .timeLimit(.minutes(3)))
struct PostingContractTests {
    /// Every post of `account` on the simulator, as (text, id); fails on a duplicate text.
    static func groundTruth(_ sim: SimulatorProcess, _ account: String) throws -> [String: String] {
        var out: [String: String] = [:]
        for p in try sim.posts(account) {
            let text = p["text"]?.string ?? ""
            #expect(out[text] == nil, "DUPLICATE on the platform: \(account) has '\(text)' twice")
            out[text] = p["id"]?.stringOrNumber
        }
        return out
    }

    @Test("F02: the platform creates the post and drops the response; the post ends posted with its platform id, once", arguments: Platform.allCases)
    func f02_lostResponseVerified(platform: Platform) throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "f02-\(platform.rawValue)"
        let d = try DaemonProcess(sim: sim, accounts: [(platform, account, nil)])
        defer { d.cleanUp() }
        try d.start()
        try sim.fault("lose-response", account: account)
        let text = "F02 lost response on \(platform.rawValue) https://example.com/f02"
        let id = try d.post(account, text)
        let done = try d.waitStates([id], "posted")[id]!
        let truth = try Self.groundTruth(sim, account)
        #expect(truth.count == 1, "exactly one post on the platform: \(truth)")
        #expect(done["platform_id"]?.string == truth[text], "the store holds the platform's id")
        let detail = try d.show(id)
        #expect(detail["attempts"]?.int == 1, "never re-sent")
        let log = detail["attempt_log"]?.array ?? []
        #expect(log.count == 1)
        #expect(log.first?["detail"]?.string?.contains("verified published") == true, "posted through verification: \(log)")
        #expect(try sim.call(.get, "/_sim/faults")["faults"]?[0]?["fired"]?.int == 1, "the fault fired")
    }

    @Test("F02: a create that lands after the client gave up is found by verification, never sent twice", arguments: [Platform.x, Platform.bluesky])
    func f02_lateCreateNotDuplicated(platform: Platform) throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "f02-late-\(platform.rawValue)"
        // The client gives up after 1 s; the platform creates the post at 3 s; absence would
        // count only after 5 s.
        let d = try DaemonProcess(sim: sim, accounts: [(platform, account, nil)],
                                  environment: ["STEADYPOST_POSTING_HTTP_TIMEOUT_MS=1000", "STEADYPOST_POSTING_SETTLE_MS=5000"])
        defer { d.cleanUp() }
        try d.start()
        try sim.fault("delay", account: account, extra: [("delay_ms", JSON(3_000))])
        let text = "F02 late create on \(platform.rawValue)"
        let id = try d.post(account, text)
        let done = try d.waitStates([id], "posted", timeoutMillis: 30_000)[id]!
        // The delayed create has run its course on the platform before the count is taken.
        _ = try waitFor("the delayed create to finish", timeoutMillis: 10_000) { () -> Bool? in
            try sim.requests().contains { ($0["fault"]?.string ?? "").contains("delay") } ? true : nil
        }
        let truth = try Self.groundTruth(sim, account)
        #expect(truth.count == 1, "exactly one post on the platform: \(truth)")
        #expect(done["platform_id"]?.string == truth[text])
        #expect(try d.show(id)["attempts"]?.int == 1, "never re-sent")
    }

    @Test("X's duplicate-content refusal is verified, not failed: a text that an earlier post of the account holds ends failed with the reason, never re-sent in a loop")
    func xDuplicateOfEarlierPost() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "dup-x", nil)], environment: ["STEADYPOST_POSTING_SETTLE_MS=2000"])
        defer { d.cleanUp() }
        try d.start()
        let text = "the same words as ten minutes ago"
        try sim.call(.post, "/_sim/posts", .obj([("account", JSON("dup-x")), ("text", JSON(text)),
                                                 ("created_at_ms", JSON(SteadyClock.wallMillis() - 600_000))]))
        let id = try d.post("dup-x", text)
        let failed = try d.waitStates([id], "failed", timeoutMillis: 30_000)[id]!
        let reason = failed["last_error"]?.string ?? ""
        #expect(reason.contains("duplicate"), "\(failed.serialized)")
        #expect(try d.show(id)["attempts"]?.int == 1, "not re-sent")
        #expect(try sim.posts("dup-x").count == 1, "only the earlier post")
    }

    @Test("F04: the posting worker is SIGKILLed while its request is held; the restarted worker takes its dead predecessor's leases back at once and the post is resolved (posted once) long before the lease would have run out")
    func f04_workerKilledMidRequest() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        // A lease long enough that the request is still held when the worker dies, and far
        // longer than resolving takes once the restarted worker expires the dead one's leases.
        let lease: Int64 = 60_000
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "f04-x", nil), (.mastodon, "f04-m", nil)], leaseMillis: lease)
        defer { d.cleanUp() }
        try d.start()
        for account in ["f04-x", "f04-m"] {
            try sim.fault("hold-response", account: account, extra: [("delay_ms", JSON(60_000))])
        }
        let ids = [try d.post("f04-x", "F04 held on X"), try d.post("f04-m", "F04 held on Mastodon")]
        // The platform has both (the creates took effect; the answers are held).
        _ = try waitFor("both creates on the platform", timeoutMillis: 10_000) { () -> Bool? in
            try sim.posts("f04-x").count == 1 && sim.posts("f04-m").count == 1 ? true : nil
        }
        let attempting = try d.jobs().filter { ids.contains($0["id"]?.string ?? "") }
        #expect(attempting.allSatisfy { $0["state"]?.string == "attempting" }, "the requests are in flight: \(attempting)")
        let victim = try d.postingPid()
        #expect(kill(victim, SIGKILL) == 0)
        let killedAt = SteadyClock.monotonicMillis()
        _ = try waitFor("a new posting worker", timeoutMillis: 10_000) { () -> Bool? in
            (try? d.postingPid()).map { $0 != victim ? true : nil } ?? nil
        }
        let done = try d.waitStates(ids, "posted", timeoutMillis: lease / 2)
        let elapsed = SteadyClock.monotonicMillis() - killedAt
        #expect(elapsed < lease / 2, "resolved in \(elapsed) ms, not after the \(lease) ms lease")
        #expect(d.log().contains("the previous worker (posting:\(victim)) is dead"), "the supervisor told the new worker whose leases to end")
        for (id, account, text) in [(ids[0], "f04-x", "F04 held on X"), (ids[1], "f04-m", "F04 held on Mastodon")] {
            let truth = try Self.groundTruth(sim, account)
            #expect(truth.count == 1, "\(account): exactly one post")
            #expect(done[id]?["platform_id"]?.string == truth[text])
            let detail = try d.show(id)
            #expect(detail["attempts"]?.int == 1, "not re-sent")
            // Resolved through the expired lease (the simulator holds the answer far longer
            // than the time measured above); an outside SIGKILL is no evidence against the
            // post, so the loss does not count toward poison parking (F27).
            #expect(detail["lease_losses"]?.int == 0, "an outside SIGKILL is not counted toward parking")
        }
    }

    @Test("F20: the supervisor is SIGKILLed with posts scheduled; started again, every post posts once, on time")
    func f20_supervisorKilledScheduledSurvive() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let accounts = ["f20-x", "f20-m", "f20-b"]
        let d = try DaemonProcess(sim: sim, accounts: [(.x, accounts[0], nil), (.mastodon, accounts[1], nil), (.bluesky, accounts[2], nil)])
        defer { d.cleanUp() }
        try d.start()
        let due = SteadyClock.wallMillis() + 4_000
        var ids: [String: (account: String, text: String)] = [:]
        for i in 0..<9 {
            let account = accounts[i % 3]
            let text = "F20 scheduled \(i)"
            ids[try d.post(account, text, at: due + Int64(i) * 50)] = (account, text)
        }
        #expect(try d.jobs(state: "scheduled").count == 9)
        try d.stop(signal: SIGKILL)
        try d.waitWorkersGone()
        #expect(try accounts.allSatisfy { try sim.posts($0).isEmpty }, "nothing posted before its time")
        try d.start()
        let done = try d.waitStates(Array(ids.keys), "posted", timeoutMillis: 30_000)
        for account in accounts {
            let truth = try Self.groundTruth(sim, account)
            #expect(truth.count == 3, "\(account): \(truth)")
        }
        for (id, what) in ids {
            let truth = try Self.groundTruth(sim, what.account)
            #expect(done[id]?["platform_id"]?.string == truth[what.text])
            let created = try sim.posts(what.account).first { $0["text"]?.string == what.text }?["created_at_ms"]?.int64 ?? 0
            let dueAt = due + Int64(Int(what.text.split(separator: " ").last!)!) * 50
            #expect(created >= dueAt, "never early")
            #expect(created - dueAt < 3_000, "on time: \(created - dueAt) ms late")
        }
    }

    @Test("F20: the supervisor and the posting worker are SIGKILLed together (as systemd ends the unit) while a request is held; the new worker proves the old one dead by its free life lock and the post is resolved (posted once) long before the lease would have run out")
    func f20_supervisorKilledWithRequestInFlight() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let lease: Int64 = 60_000
        let d = try DaemonProcess(sim: sim, accounts: [(.mastodon, "f20-held", nil)], leaseMillis: lease)
        defer { d.cleanUp() }
        try d.start()
        try sim.fault("hold-response", account: "f20-held", extra: [("delay_ms", JSON(60_000))])
        let id = try d.post("f20-held", "F20 held while everything dies")
        _ = try waitFor("the create on the platform", timeoutMillis: 10_000) { () -> Bool? in
            try sim.posts("f20-held").count == 1 ? true : nil
        }
        #expect(try d.show(id)["state"]?.string == "attempting")
        let victim = try d.postingPid()  // (a status answer: every worker's pid is known)
        // No supervisor reaps the worker, so no STEADYPOST_PREVIOUS_PID vouches for it: only
        // its life lock can. The supervisor first, then at once the worker (which its death
        // only asks to drain): no supervisor is left to start a new worker in between.
        d.signalNow(SIGKILL)
        #expect(kill(victim, SIGKILL) == 0)
        try d.stop(signal: SIGKILL)
        try d.waitWorkersGone()
        let killedAt = SteadyClock.monotonicMillis()
        try d.start()
        let done = try d.waitStates([id], "posted", timeoutMillis: lease / 2)
        let elapsed = SteadyClock.monotonicMillis() - killedAt
        #expect(elapsed < lease / 2, "resolved in \(elapsed) ms, not after the \(lease) ms lease")
        #expect(d.log().contains("the worker posting:\(victim) is gone (its life lock is free)"), "the life lock proved it")
        let truth = try Self.groundTruth(sim, "f20-held")
        #expect(truth.count == 1, "exactly one post")
        #expect(done[id]?["platform_id"]?.string == truth["F20 held while everything dies"])
        let detail = try d.show(id)
        #expect(detail["attempts"]?.int == 1, "verified, not re-sent")
        #expect(detail["lease_losses"]?.int == 0, "a supervisor restart is no evidence against the post")
    }

    @Test("F20: a lease holder whose life lock is held keeps its lease, looked at again every second; once the lock is free its claimed post is scheduled again and posts once")
    func f20_liveLeaseHolderKeepsItsLease() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let lease: Int64 = 60_000
        let d = try DaemonProcess(sim: sim, accounts: [(.mastodon, "f20-live", nil)], leaseMillis: lease)
        defer { d.cleanUp() }
        // Before the daemon starts: a post claimed by another posting worker that still lives
        // (this test holds its life lock), as after a supervisor restart while it finishes.
        let stateDir = d.dir.path + "/state"
        try Files.makeDirectories(stateDir + "/owners", mode: 0o700)
        var holder: LifeLock? = try LifeLock(path: stateDir + "/owners/posting:999999.lock")
        let text = "F20 claimed by a live worker"
        let now = SteadyClock.wallMillis()
        let id: String
        do {
            let store = try SQLitePostStore(path: stateDir + "/steadypost.db")
            id = try store.insert([NewPost(account: "f20-live", platform: "mastodon", text: text, dueAt: now,
                                           contentHash: ContentNormalizer.hash(text))], now: now)[0].id
            #expect(try store.claimDue(owner: "posting:999999", now: now, leaseMillis: lease, account: "f20-live")?.id == id)
        }
        try d.start()
        _ = try waitFor("three looks at the live holder's lock", timeoutMillis: 15_000) { () -> Bool? in
            ((try? d.counters())?["lease_owner_checks"]?.int ?? 0) >= 3 ? true : nil
        }
        withExtendedLifetime(holder) {
            #expect((try? d.show(id))?["state"]?.string == "claimed", "a live worker's lease is not taken from it")
            #expect((try? sim.posts("f20-live"))?.isEmpty == true)
        }
        #expect(d.log().contains("leases held by posting:999999, still alive"))
        holder = nil  // the holder dies: the kernel frees its lock; its file stays
        let done = try d.waitStates([id], "posted", timeoutMillis: lease / 2)
        #expect(d.log().contains("the worker posting:999999 is gone (its life lock is free)"))
        let truth = try Self.groundTruth(sim, "f20-live")
        #expect(truth.count == 1, "exactly one post")
        #expect(done[id]?["platform_id"]?.string == truth[text])
        #expect(!Files.exists(stateDir + "/owners/posting:999999.lock"), "the dead holder's lock file is removed")
    }

    @Test("F24: SIGTERM during a burst: in-flight attempts finish, nothing is lost, nothing is duplicated after the restart")
    func f24_sigtermDuringBurst() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let accounts = ["f24-x", "f24-m", "f24-b"]
        let d = try DaemonProcess(sim: sim, accounts: [(.x, accounts[0], nil), (.mastodon, accounts[1], nil), (.bluesky, accounts[2], nil)],
                                  concurrency: 3)
        defer { d.cleanUp() }
        try d.start()
        // Slow creates, so the burst is still going when the signal comes.
        for account in accounts { try sim.fault("delay", account: account, count: nil, extra: [("delay_ms", JSON(150))]) }
        var texts: [String: String] = [:]
        var ids: [String] = []
        for i in 0..<30 {
            let account = accounts[i % 3]
            let text = "F24 burst \(i)"
            let id = try d.post(account, text)
            ids.append(id)
            texts[id] = text
        }
        _ = try waitFor("the burst under way", timeoutMillis: 20_000) { () -> Bool? in
            try accounts.map { try sim.posts($0).count }.reduce(0, +) >= 4 ? true : nil
        }
        let status = try d.stop(signal: SIGTERM)
        #expect(status == .exited(0), "an orderly shutdown")
        try d.waitWorkersGone()
        let stopped = try d.jobsAfterStop(ids: ids)
        #expect(!stopped.contains("claimed") && !stopped.contains("attempting"), "the drain left nothing in flight: \(stopped)")
        let before = try accounts.map { try sim.posts($0).count }.reduce(0, +)
        #expect(before < 30, "the burst was cut: \(before) of 30 posted before the restart")
        try sim.clearFaults()
        try d.start()
        try d.waitStates(ids, "posted", timeoutMillis: 40_000)
        var all: [String: String] = [:]
        for account in accounts { all.merge(try Self.groundTruth(sim, account)) { a, _ in a } }
        #expect(all.count == 30, "every post exactly once on the platform")
        for id in ids { #expect(try d.show(id)["platform_id"]?.string == all[texts[id]!]) }
    }
}

extension DaemonProcess {
    /// The states of `ids`, read from the store file itself while no daemon runs.
    func jobsAfterStop(ids: [String]) throws -> [String] {
        let store = try SQLitePostStore(path: dir.path + "/state/steadypost.db")
        return try ids.map { try store.post(id: $0).state.rawValue }
    }
}
