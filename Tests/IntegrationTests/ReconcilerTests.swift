import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import SteadySystem

/// The reconciler end to end: the real supervisor, posting and reconciler workers, the real
/// simulator whose admin API puts posts straight onto an account's timeline, and the CLI.
@Suite("reconciler", .serialized, .timeLimit(.minutes(4)))
struct ReconcilerTests {
    /// A daemon with one account whose reconciler ran its start-up pass already.
    static func daemon(_ sim: SimulatorProcess, _ platform: Platform, _ account: String) throws -> DaemonProcess {
        let d = try DaemonProcess(sim: sim, accounts: [(platform, account, nil)])
        try d.start()
        try d.waitFirstQuickPass()
        return d
    }

    /// A post the platform created while answering with a permanent error (400): `failed` in
    /// the store, live on the platform.
    static func failedButLive(_ sim: SimulatorProcess, _ d: DaemonProcess, _ account: String, _ text: String) throws -> String {
        try sim.fault("error-after", account: account, extra: [("status", JSON(400))])
        let id = try d.post(account, text)
        try d.waitStates([id], "failed")
        guard try sim.platformId(account, text: text) != nil else { throw TestFailure("the simulator did not create '\(text)'") }
        return id
    }

    @Test("F26: orphans on the platform are adopted or recorded foreign; failed-but-live become posted; a second run changes nothing",
          arguments: Platform.allCases)
    func f26_orphansAdoptedFailedLivePosted(platform: Platform) throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "f26-\(platform.rawValue)"
        let d = try Self.daemon(sim, platform, account)
        defer { d.cleanUp() }

        // 1. Failed in the store, live on the platform.
        let liveText = "F26 refused but live on \(platform.rawValue) https://example.com/f26"
        let failedLive = try Self.failedButLive(sim, d, account, liveText)
        // 2. Refused before any effect (failed, nothing live), then it appears on the platform
        //    anyway (an orphan that is ours): Bluesky under the attempt's own record key.
        try sim.fault("error-before", account: account, extra: [("status", JSON(400))])
        let orphanText = "F26 orphan of ours on \(platform.rawValue)"
        let orphanPost = try d.post(account, orphanText)
        try d.waitStates([orphanPost], "failed")
        #expect(try sim.platformId(account, text: orphanText) == nil, "error-before creates nothing")
        let attempt = try d.show(orphanPost)["attempt_log"]?[0]
        let orphanId = try sim.inject(account, orphanText, rkey: platform == .bluesky ? attempt?["idempotency_key"]?.string : nil)
        // 3. Someone else's post on the account: foreign.
        let foreignId = try sim.inject(account, "F26 written by hand on the platform's own app")
        let before = try d.storeSnapshot()

        let first = d.reconcile(["--account", account])
        #expect(first.code == 0, "exit \(first.code): \(first.stderr)")
        let r1 = try DaemonProcess.accountReport(first.report, account)
        let fixes = r1["fixes"]?.array ?? []
        let liveId = try sim.platformId(account, text: liveText)
        #expect(fixes.count == 2, "two fixes: \(r1.serialized)")
        let byPost = Dictionary(fixes.compactMap { f in f["post_id"]?.string.map { ($0, f) } }, uniquingKeysWith: { a, _ in a })
        #expect(byPost[failedLive]?["platform_id"]?.string == liveId && byPost[failedLive]?["from"]?.string == "failed")
        #expect(byPost[failedLive]?["applied"]?.bool == true)
        #expect(byPost[orphanPost]?["platform_id"]?.string == orphanId && byPost[orphanPost]?["applied"]?.bool == true)
        if platform == .bluesky { #expect(byPost[orphanPost]?["by"]?.string == "record key", "\(r1.serialized)") }
        #expect(r1["foreign_new"]?.array?.compactMap(\.string) == [foreignId])
        #expect(first.report?["changes"]?.int == 3)
        let jobs = try d.waitStates([failedLive, orphanPost], "posted", timeoutMillis: 5_000)
        #expect(jobs[failedLive]?["platform_id"]?.string == liveId)
        #expect(jobs[orphanPost]?["platform_id"]?.string == orphanId)
        let after = try d.storeSnapshot()
        #expect(after.filter { before[$0.key] != $0.value }.count == 2, "only the two fixed posts changed")

        // A second run over the same timeline changes nothing.
        let second = d.reconcile(["--account", account])
        #expect(second.code == 0)
        let r2 = try DaemonProcess.accountReport(second.report, account)
        #expect(second.report?["changes"]?.int == 0, "\(second.report?.serialized ?? "")")
        #expect(r2["fixes"]?.array?.isEmpty == true && r2["foreign_new"]?.array?.isEmpty == true)
        #expect(r2["known"]?.int == 2 && r2["foreign_known"]?.int == 1)
        #expect(try d.storeSnapshot() == after)
        #expect(try sim.posts(account).count == 3, "the reconciler never posts")
    }

    @Test("F26: an unknown post the posting worker could not verify is decided posted by the reconciler")
    func f26_unknownDecided() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "f26-unknown-x"
        let d = try DaemonProcess(sim: sim, accounts: [(.x, account, nil)])
        defer { d.cleanUp() }
        try d.configure(.reconciler, "unknown_grace = \"0s\"")  // decide it at once (default: 10 min after its attempt)
        try d.start()
        try d.waitFirstQuickPass()
        // The create lands but its answer is lost; every timeline read fails meanwhile, so the
        // posting worker's verification cannot decide and the post stays unknown.
        try sim.fault("error-before", account: account, endpoint: "timeline", count: nil, extra: [("status", JSON(503))])
        try sim.fault("lose-response", account: account)
        let text = "F26 unknown, decided by the reconciler"
        let id = try d.post(account, text)
        try d.waitStates([id], "unknown")
        // The posting worker stops (so only the reconciler can decide), then the platform heals.
        #expect(d.cli(["stop", "posting"]).code == 0)
        try sim.clearFaults()
        let run = d.reconcile(["--account", account])
        #expect(run.code == 0, "\(run.stderr)")
        let fix = try DaemonProcess.accountReport(run.report, account)["fixes"]?[0]
        #expect(fix?["post_id"]?.string == id && fix?["from"]?.string == "unknown" && fix?["applied"]?.bool == true, "\(run.report?.serialized ?? "")")
        #expect(fix?["by"]?.string == "content hash")
        let live = try sim.platformId(account, text: text)
        #expect(live != nil && fix?["platform_id"]?.string == live)
        #expect(d.cli(["start", "posting"]).code == 0)
        let job = try d.waitStates([id], "posted", timeoutMillis: 20_000)[id]
        #expect(job?["platform_id"]?.string == live)
        #expect(try sim.posts(account).count == 1, "never sent twice")
    }

    @Test("F30: two identical posts on the platform are reported once each run, with both ids")
    func f30_duplicatesReported() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "f30-x"
        let d = try Self.daemon(sim, .x, account)
        defer { d.cleanUp() }
        let text = "F30 posted twice somehow"
        let ours = try d.post(account, text)
        let posted = try d.waitStates([ours], "posted")[ours]?["platform_id"]?.string
        let copy = try sim.inject(account, "F30  posted twice   somehow")  // whitespace differs; the same post
        for run in 1...2 {
            let r = d.reconcile(["--account", account])
            #expect(r.code == 0, "run \(run): \(r.stderr)")
            let dups = try DaemonProcess.accountReport(r.report, account)["duplicates"]?.array ?? []
            #expect(dups.count == 1, "run \(run): one finding: \(dups)")
            #expect(dups.first?["platform_ids"]?.array?.compactMap(\.stringOrNumber) == [posted ?? "?", copy], "run \(run): both ids, oldest first")
            #expect(dups.first?["post_id"]?.string == ours, "run \(run): ours is named")
        }
        let text2 = d.cli(["reconcile", "--account", account])
        #expect(text2.code == 0)
        #expect(text2.stdout.contains("DUPLICATE: \(posted ?? "?"), \(copy) (ours: \(ours))"), "the human report names both: \(text2.stdout)")
    }

    @Test("reconcile --dry-run changes nothing and says what it would do")
    func dryRunChangesNothing() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "dry-mastodon"
        let d = try Self.daemon(sim, .mastodon, account)
        defer { d.cleanUp() }
        let failedLive = try Self.failedButLive(sim, d, account, "dry run: refused but live")
        let foreignId = try sim.inject(account, "dry run: not ours")
        let before = try d.storeSnapshot()
        for _ in 1...2 {
            let dry = d.reconcile(["--dry-run"])
            #expect(dry.code == 0, "\(dry.stderr)")
            #expect(dry.report?["dry_run"]?.bool == true && dry.report?["changes"]?.int == 0)
            let r = try DaemonProcess.accountReport(dry.report, account)
            #expect(r["fixes"]?[0]?["post_id"]?.string == failedLive && r["fixes"]?[0]?["applied"]?.bool == false)
            #expect(r["foreign_new"]?.array?.compactMap(\.stringOrNumber) == [foreignId])
            #expect(try d.storeSnapshot() == before, "the dry run changed the store")
        }
        let text = d.cli(["reconcile", "--dry-run", "--account", account])
        #expect(text.stdout.contains("dry run: nothing changed") && text.stdout.contains("would fix: \(failedLive) failed → posted"), "\(text.stdout)")
        let runs = try d.client.call(method: "reconciler.runs", body: Array("{}".utf8))
        let stored = try JSON.parse(runs).array ?? []
        #expect(!stored.contains { $0["dry_run"]?.bool == true }, "dry runs store no report")
        // And the real run then does it.
        let real = d.reconcile([])
        #expect(real.code == 0 && real.report?["changes"]?.int == 2)
        try d.waitStates([failedLive], "posted", timeoutMillis: 5_000)
    }

    @Test("reconcile: bad arguments get clear errors and change nothing")
    func badArguments() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "args-x"
        let d = try Self.daemon(sim, .x, account)
        defer { d.cleanUp() }
        let unknown = d.cli(["reconcile", "--account", "nobody"])
        #expect(unknown.code == 1)
        #expect(unknown.stderr.contains("no account 'nobody' in the config (accounts: args-x)"), "\(unknown.stderr)")
        let malformed = d.cli(["reconcile", "--account", "Not An Account"])
        #expect(malformed.code == 2)
        #expect(malformed.stderr.contains("--account: 'Not An Account' is not an account name"), "\(malformed.stderr)")
        let flag = d.cli(["reconcile", "--dry"])
        #expect(flag.code == 2 && flag.stderr.contains("--dry"), "\(flag.stderr)")
        let body = d.cli(["debug", "call", "reconciler.run", #"{"dry_run":"yes"}"#])
        #expect(body.code == 1 && body.stderr.contains("dry_run: expected true or false"), "\(body.stderr)")
        let runs = try JSON.parse(try d.client.call(method: "reconciler.runs", body: Array("{}".utf8))).array ?? []
        #expect(runs.allSatisfy { $0["pass"]?.string != "manual" }, "no refused request ran a pass")
    }
}
