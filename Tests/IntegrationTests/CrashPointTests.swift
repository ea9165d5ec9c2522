import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import SteadySystem

/// The posting worker killed, or its store failing, at named points of an attempt
/// (`STEADYPOST_FAULTS`, see ARCHITECTURE.md), through the real supervisor, worker and
/// simulator. The simulator's ground truth decides: exactly one post per scheduled post, and
/// the store's `posted` record carries that post's platform id.
@Suite("crash points and store faults", .serialized, .timeLimit(.minutes(4)))
struct CrashPointTests {
    static let points = ["before_intent", "after_intent", "after_send", "after_response", "before_outcome_commit", "after_outcome_commit"]
    /// The posting worker may die many times in a row: restart it at once, never park it.
    static let restartFreely = "restart_intensity = 1000\nrestart_window = \"60s\"\nrestart_max_delay = \"100ms\"\n"

    /// Checks every post of `expected` (post id → text) on `account`: posted, one post on the
    /// platform with that text, and the store's platform id is that post's.
    static func checkExactlyOnce(_ d: DaemonProcess, _ sim: SimulatorProcess, account: String, expected: [String: String],
                                 posted: [String: JSON], context: String) throws {
        let truth = try PostingContractTests.groundTruth(sim, account)
        #expect(truth.count == expected.count, "\(context): \(account) has \(truth.count) posts on the platform, expected \(expected.count): \(truth.keys.sorted())")
        for (id, text) in expected {
            #expect(truth[text] != nil, "\(context): '\(text)' is not on the platform")
            #expect(posted[id]?["platform_id"]?.string == truth[text], "\(context): \(id) records \(posted[id]?["platform_id"]?.string ?? "nil"), the platform has \(truth[text] ?? "nil")")
        }
    }

    @Test("crash-point matrix: for x, mastodon, bluesky and facebook × the six crash points, the worker SIGKILLs itself there, is restarted, and every post is on the platform exactly once and posted with its platform id")
    func crashPointMatrix() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let accounts: [(Platform, String)] = [(.x, "cp-x"), (.mastodon, "cp-m"), (.bluesky, "cp-b"), (.facebook, "cp-f")]
        let entries = accounts.flatMap { a in Self.points.map { "crash:\($0)@\(a.1)" } }
        // One attempt at a time, so a crash only ever kills the attempt it names.
        let d = try DaemonProcess(sim: sim, accounts: accounts.map { ($0.0, $0.1, nil) }, concurrency: 1, leaseMillis: 3_000,
                                  environment: ["STEADYPOST_FAULTS=\(entries.joined(separator: ","))", "STEADYPOST_POSTING_SETTLE_MS=1500"],
                                  postingWorker: Self.restartFreely)
        defer { d.cleanUp() }
        try d.start()
        let firstPid = try d.postingPid()
        let batch = accounts.flatMap { a in (0..<Self.points.count).map { (account: a.1, text: "crash matrix \(a.1) post \($0) https://example.com/cp/\($0)") } }
        var expected: [String: [String: String]] = [:]
        for (post, id) in zip(batch, try d.postBatch(batch)) { expected[post.account, default: [:]][id] = post.text }
        let ids = expected.values.flatMap(\.keys)
        let posted = try d.waitStates(ids, "posted", timeoutMillis: 150_000)
        let fired = d.firedFaults()
        for entry in entries {
            #expect(fired[entry] != nil, "\(entry) never fired: \(fired)")
        }
        #expect(Set(fired.values).count == entries.count, "each crash killed the worker on its own post: \(fired)")
        #expect(try d.postingPid() != firstPid, "the worker was restarted")
        for (_, account) in accounts {
            try Self.checkExactlyOnce(d, sim, account: account, expected: expected[account]!, posted: posted, context: "matrix")
        }
        // Per cell: the post the crash hit ended posted, by the path its point calls for.
        for entry in entries {
            guard let victim = fired[entry] else { continue }
            #expect(posted[victim]?["state"]?.string == "posted", "\(entry): \(victim) is \(posted[victim]?["state"]?.string ?? "?")")
            let detail = try d.show(victim)
            let log = detail["attempt_log"]?.array ?? []
            let outcomes = log.map { $0["outcome"]?.string ?? "none" }
            let verified = (log.first?["detail"]?.string ?? "").contains("verified published")
            switch entry.split(separator: ":")[1].split(separator: "@")[0] {
            case "before_intent":
                // No attempt was committed: the claim ran out and the post went again.
                #expect(outcomes == ["published"] && !verified, "\(entry): \(detail.serialized)")
            case "after_intent":
                // Committed, never sent: verification proved it absent, then one more send.
                #expect(outcomes == ["verifiedAbsent", "published"], "\(entry): \(detail.serialized)")
            case "after_outcome_commit":
                #expect(outcomes == ["published"] && !verified, "\(entry): \(detail.serialized)")
            default:
                // Sent and taken by the platform, the answer lost with the worker: verified.
                #expect(outcomes == ["published"] && verified, "\(entry): \(detail.serialized)")
            }
        }
        #expect(try d.jobs(state: "parked").isEmpty)
    }

    @Test("F01: the store write fails right after a 2xx; the outcome goes to the journal and is replayed; one post on the platform, the store says posted, never verified or re-sent")
    func f01_outcomeWriteFailsAfter2xx() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let accounts: [(Platform, String)] = [(.x, "f01-x"), (.mastodon, "f01-m"), (.bluesky, "f01-b")]
        // A lease far longer than the test: only the journal can bring these posts to `posted`.
        let d = try DaemonProcess(sim: sim, accounts: accounts.map { ($0.0, $0.1, nil) }, leaseMillis: 120_000,
                                  environment: ["STEADYPOST_FAULTS=" + accounts.map { "outcome-write-fails@\($0.1)" }.joined(separator: ",")])
        defer { d.cleanUp() }
        try d.start()
        var expected: [String: [String: String]] = [:]
        for (_, account) in accounts {
            let text = "F01 store fails after the 2xx on \(account)"
            expected[account, default: [:]][try d.post(account, text)] = text
        }
        let ids = expected.values.flatMap(\.keys)
        let posted = try d.waitStates(ids, "posted", timeoutMillis: 30_000)
        for (_, account) in accounts {
            try Self.checkExactlyOnce(d, sim, account: account, expected: expected[account]!, posted: posted, context: "F01")
        }
        for id in ids {
            let detail = try d.show(id)
            #expect(detail["attempts"]?.int == 1, "never re-sent: \(detail.serialized)")
            let how = detail["attempt_log"]?.array?.first?["detail"]?.string ?? ""
            #expect(!how.contains("verified"), "recorded from the journal, not by verification: \(how)")
        }
        let counters = try d.counters()
        #expect(counters["journaled"]?.int == 3, "\(counters.serialized)")
        #expect(counters["replayed"]?.int == 3, "\(counters.serialized)")
        #expect(counters["outcomes_lost"]?.int == 0)
        #expect(d.firedFaults().count == 3)
    }

    @Test("F03: the store is unwritable for 3 s while posting; afterwards every live post is recorded posted, none sent twice")
    func f03_storeUnwritableWhilePosting() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let accounts: [(Platform, String)] = [(.x, "f03-x"), (.mastodon, "f03-m"), (.bluesky, "f03-b")]
        // The window opens at the first 2xx create. A lease longer than the window: posts
        // whose claim could not be given back wait for it, never an attempt cut short.
        let d = try DaemonProcess(sim: sim, accounts: accounts.map { ($0.0, $0.1, nil) }, concurrency: 3, leaseMillis: 12_000,
                                  environment: ["STEADYPOST_FAULTS=store-unwritable:3000"])
        defer { d.cleanUp() }
        try d.start()
        let batch = accounts.flatMap { a in (0..<4).map { (account: a.1, text: "F03 store unwritable \(a.1) \($0)") } }
        var expected: [String: [String: String]] = [:]
        for (post, id) in zip(batch, try d.postBatch(batch)) { expected[post.account, default: [:]][id] = post.text }
        let ids = expected.values.flatMap(\.keys)
        let posted = try d.waitStates(ids, "posted", timeoutMillis: 60_000)
        #expect(d.firedFaults()["store-unwritable:3000"] != nil, "the window opened")
        for (_, account) in accounts {
            try Self.checkExactlyOnce(d, sim, account: account, expected: expected[account]!, posted: posted, context: "F03")
        }
        for id in ids {
            // One attempt published it; any other had no effect (e.g. a Bluesky session whose
            // tokens could not be stored while the store was down: nothing was sent).
            let detail = try d.show(id)
            let outcomes = (detail["attempt_log"]?.array ?? []).map { $0["outcome"]?.string ?? "none" }
            #expect(outcomes.filter { $0 == "published" }.count == 1 && outcomes.allSatisfy { $0 == "published" || $0 == "noEffect" },
                    "\(id) published by one attempt: \(detail.serialized)")
        }
        let counters = try d.counters()
        #expect((counters["store_errors"]?.int ?? 0) >= 1, "the worker saw the store fail: \(counters.serialized)")
        #expect((counters["journaled"]?.int ?? 0) >= 1, "the outcome that opened the window went to the journal: \(counters.serialized)")
        #expect(counters["replayed"]?.int == counters["journaled"]?.int, "every journaled outcome replayed")
        #expect(counters["outcomes_lost"]?.int == 0)
    }
}
