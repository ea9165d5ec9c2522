import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import SteadySystem
import SteadyTestSupport

/// Issue 16: threads through the real supervisor, posting worker and simulator. The
/// simulator's ground truth decides: every part once, each answering the part before it.
@Suite("threads", .serialized, .timeLimit(.minutes(5)))
struct ThreadTests {
    /// Schedules a thread; its id and part ids in order.
    static func thread(_ d: DaemonProcess, _ account: String, _ texts: [String], gap: String? = nil, at: String? = nil) throws -> (id: String, parts: [String]) {
        let body = JSON.obj([("account", JSON(account)), ("thread", .array(texts.map { JSON.obj([("text", JSON($0))]) })),
                             ("gap", gap.map(JSON.init)), ("at", at.map(JSON.init))])
        let answer = try d.call("create", body)
        guard let id = answer["thread_id"]?.string else { throw TestFailure("no thread id: \(answer.serialized)") }
        let parts = (answer["posts"]?.array ?? []).compactMap { $0["id"]?.string }
        guard parts.count == texts.count else { throw TestFailure("\(parts.count) parts for \(texts.count) texts: \(answer.serialized)") }
        for (n, row) in (answer["posts"]?.array ?? []).enumerated() {
            #expect(row["thread_id"]?.string == id && row["thread_position"]?.int == n + 1, "row \(n): \(row.serialized)")
        }
        return (id, parts)
    }

    /// The account's live posts on the platform by text: each text once (a second is a
    /// duplicate), with its id and the id it answers.
    static func truth(_ sim: SimulatorProcess, _ account: String) throws -> [String: (id: String, replyTo: String?, root: String?)] {
        var out: [String: (id: String, replyTo: String?, root: String?)] = [:]
        for p in try sim.posts(account) where p["deleted"]?.bool != true {
            let text = p["text"]?.string ?? ""
            #expect(out[text] == nil, "DUPLICATE on the platform: \(account) has '\(text)' twice")
            out[text] = (p["id"]?.stringOrNumber ?? "", p["in_reply_to"]?.string, p["reply_root"]?.string)
        }
        return out
    }

    /// Every text live once, in a chain: part 1 answers nothing, part N answers part N-1; the
    /// store's platform ids are the platform's.
    static func checkChain(_ d: DaemonProcess, _ sim: SimulatorProcess, _ account: String, texts: [String], parts: [String], context: String) throws {
        let live = try truth(sim, account)
        for (n, text) in texts.enumerated() {
            guard let post = live[text] else {
                Issue.record("\(context): part \(n + 1) '\(text)' is not on the platform")
                continue
            }
            if n == 0 {
                #expect(post.replyTo == nil, "\(context): part 1 answers \(post.replyTo ?? "")")
            } else {
                #expect(post.replyTo == live[texts[n - 1]]?.id, "\(context): part \(n + 1) answers \(post.replyTo ?? "nothing"), not part \(n)'s \(live[texts[n - 1]]?.id ?? "?")")
                #expect(post.root == live[texts[0]]?.id, "\(context): part \(n + 1)'s thread starts at \(post.root ?? "nothing"), not part 1")
            }
            #expect(try d.show(parts[n])["platform_id"]?.string == post.id, "\(context): part \(n + 1)'s stored id")
        }
    }

    @Test("a 5-part thread with the create answer of part 3 lost: 5 posts live, each answering the one before, part 3 sent once (x, mastodon, bluesky)",
          arguments: Platform.allCases.filter { PlatformRegistry.rules(for: $0).threadChains })
    func lostAnswerMidThread(platform: Platform) throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "th-\(platform.rawValue)"
        let d = try DaemonProcess(sim: sim, accounts: [(platform, account, nil)], environment: ["STEADYPOST_POSTING_SETTLE_MS=1500"])
        defer { d.cleanUp() }
        try d.start()
        let texts = (1...5).map { "thread on \(platform.rawValue), part \($0) of 5" }
        // A gap, so the fault can be armed between part 2 posted and part 3's create.
        let (threadId, parts) = try Self.thread(d, account, texts, gap: "2s")
        try d.waitStates([parts[1]], "posted", timeoutMillis: 30_000)
        _ = try sim.fault("lose-response", account: account)
        let posted = try d.waitStates(parts, "posted", timeoutMillis: 60_000)
        try Self.checkChain(d, sim, account, texts: texts, parts: parts, context: platform.rawValue)
        let third = try d.show(parts[2])
        #expect(third["attempts"]?.int == 1, "part 3 never re-sent: \(third.serialized)")
        #expect(third["attempt_log"]?[0]?["detail"]?.string?.contains("verified published") == true, "part 3 was verified: \(third.serialized)")
        #expect(try sim.call(.get, "/_sim/faults")["faults"]?[0]?["fired"]?.int == 1, "the answer was lost")
        #expect(posted.values.allSatisfy { $0["thread_id"]?.string == threadId })
        let whole = try d.show(threadId)
        #expect(whole["state"]?.string == "posted", "\(whole.serialized)")
        #expect(whole["posts"]?.array?.map { $0["thread_position"]?.int ?? 0 } == [1, 2, 3, 4, 5])
        if platform == .bluesky {
            // Part 3's cid came back with its verification (getRecord), so parts 4 and 5 named
            // their parents from the store: nothing had to be read back from the platform.
            #expect(third["platform_cid"]?.string?.isEmpty == false, "part 3's cid recovered: \(third.serialized)")
            #expect(try sim.requests(pathPrefix: "/xrpc/app.bsky.feed.getPosts").isEmpty, "no part read its parent back")
        }
    }

    @Test("crash points of part 2: the worker SIGKILLs itself at each point of a 3-part thread's part 2, is restarted, and every thread is 3 parts live once, chained (x, mastodon, bluesky)")
    func crashPointsOfPartTwo() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let accounts: [(Platform, String)] = [(.x, "tc-x"), (.mastodon, "tc-m"), (.bluesky, "tc-b")]
        let entries = accounts.flatMap { a in CrashPointTests.points.map { "crash:\($0)@\(a.1)#2" } }
        let d = try DaemonProcess(sim: sim, accounts: accounts.map { ($0.0, $0.1, nil) }, concurrency: 1, leaseMillis: 3_000,
                                  environment: ["STEADYPOST_FAULTS=\(entries.joined(separator: ","))", "STEADYPOST_POSTING_SETTLE_MS=1500"],
                                  postingWorker: CrashPointTests.restartFreely)
        defer { d.cleanUp() }
        try d.start()
        // One batch, so no create can be cut off by a crash.
        var threads: [(account: String, texts: [String], parts: [String])] = []
        for (_, account) in accounts {
            for n in 0..<CrashPointTests.points.count {
                threads.append((account, (1...3).map { "crash thread \(account) #\(n) part \($0)" }, []))
            }
        }
        let items = threads.map { t in
            JSON.obj([("account", JSON(t.account)), ("thread", .array(t.texts.map { JSON.obj([("text", JSON($0))]) }))])
        }
        let rows = try d.call("create", .obj([("posts", .array(items))]))["posts"]?.array ?? []
        try #require(rows.count == threads.count * 3)
        for i in threads.indices { threads[i].parts = rows[(3 * i)..<(3 * i + 3)].compactMap { $0["id"]?.string } }
        _ = try d.waitStates(threads.flatMap(\.parts), "posted", timeoutMillis: 200_000)
        let fired = d.firedFaults()
        for entry in entries { #expect(fired[entry] != nil, "\(entry) never fired: \(fired)") }
        let partTwos = Set(threads.map { $0.parts[1] })
        #expect(fired.values.allSatisfy { partTwos.contains($0) }, "every crash hit a part 2: \(fired)")
        for t in threads {
            try Self.checkChain(d, sim, t.account, texts: t.texts, parts: t.parts, context: "\(t.account) \(t.texts[0])")
        }
        #expect(try d.jobs(state: "parked").isEmpty)
    }

    @Test("the supervisor SIGKILLed between parts: the thread resumes at the part that did not go out, never restarts")
    func supervisorKilledBetweenParts() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "tk-m"
        let d = try DaemonProcess(sim: sim, accounts: [(.mastodon, account, nil)])
        defer { d.cleanUp() }
        try d.start()
        let texts = (1...3).map { "resumed thread part \($0)" }
        let (_, parts) = try Self.thread(d, account, texts, gap: "3s")
        try d.waitStates([parts[0]], "posted", timeoutMillis: 30_000)
        let workers = try d.status().workers.compactMap(\.pid)
        try d.stop(signal: SIGKILL)
        for pid in workers { _ = kill(pid, SIGKILL) }
        try d.waitWorkersGone()
        #expect(try Self.truth(sim, account).count == 1, "only part 1 went out before the kill")
        try d.start()
        _ = try d.waitStates(parts, "posted", timeoutMillis: 60_000)
        try Self.checkChain(d, sim, account, texts: texts, parts: parts, context: "after the restart")
        for id in parts { #expect(try d.show(id)["attempts"]?.int == 1, "\(id) sent once") }
    }

    @Test("part 2 refused for good: parts 3..5 fail naming part 2, part 1 stays posted, nothing more is sent")
    func refusedPartStopsTheRest() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "tr-x"
        let d = try DaemonProcess(sim: sim, accounts: [(.x, account, nil)])
        defer { d.cleanUp() }
        try d.start()
        let texts = (1...5).map { "refused thread part \($0)" }
        let (threadId, parts) = try Self.thread(d, account, texts, gap: "2s")
        try d.waitStates([parts[0]], "posted", timeoutMillis: 30_000)
        _ = try sim.fault("error-before", account: account, extra: [("status", JSON(403))])
        let failed = try d.waitStates(Array(parts[1...]), "failed", timeoutMillis: 30_000)
        for id in parts[2...] {
            #expect(failed[id]?["last_error"]?.string?.hasPrefix("part 2 failed: ") == true, "\(failed[id]?.serialized ?? "")")
            #expect(failed[id]?["attempts"]?.int == 0, "never attempted")
        }
        #expect(try d.show(parts[0])["state"]?.string == "posted")
        #expect(try Self.truth(sim, account).keys.sorted() == [texts[0]])
        #expect(try d.show(threadId)["state"]?.string == "failed")
    }

    @Test("cancel mid-thread: the parts not yet attempted are cancelled, the posted part stays; a second cancel is a conflict")
    func cancelMidThread() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "tx-b"
        let d = try DaemonProcess(sim: sim, accounts: [(.bluesky, account, nil)])
        defer { d.cleanUp() }
        try d.start()
        let texts = (1...3).map { "cancelled thread part \($0)" }
        let (threadId, parts) = try Self.thread(d, account, texts, gap: "1h")
        try d.waitStates([parts[0]], "posted", timeoutMillis: 30_000)
        let cli = d.cli(["cancel", threadId, "--json"])
        #expect(cli.code == 0, "\(cli.stderr)")
        let answer = try JSON.parse(cli.stdout)
        #expect(answer["posts"]?.array?.map { $0["state"]?.string ?? "" } == ["posted", "cancelled", "cancelled"], "\(cli.stdout)")
        let again = d.cli(["cancel", threadId])
        #expect(again.code == 1 && again.stderr.contains("no part left to cancel"), "\(again.stderr)")
        #expect(try Self.truth(sim, account).keys.sorted() == [texts[0]])
    }

    @Test("a batch line's thread with an image on part 2 (Bluesky): every part live once, chained, the image on part 2 only, its very bytes")
    func mediaOnAPart() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "tm-b"
        let d = try DaemonProcess(sim: sim, accounts: [(.bluesky, account, nil)])
        defer { d.cleanUp() }
        try d.start()
        let image = MediaSchedulingTests.png(30_000, seed: 7)
        let path = d.dir.path + "/chart.png"
        try MediaSchedulingTests.write(path, image)
        let file = d.dir.path + "/thread.jsonl"
        let texts = ["media thread part 1", "media thread part 2, with a chart", "media thread part 3"]
        try Files.writeAtomically(file, """
            {"thread": [{"text": "\(texts[0])"}, {"text": "\(texts[1])", "media": [{"path": "\(path)", "alt": "a chart"}]}, {"text": "\(texts[2])"}]}
            """)
        let made = d.cli(["post", "--account", account, "--file", file, "--json"])
        #expect(made.code == 0, "\(made.stderr)")
        let rows = try JSON.parse(made.stdout)["posts"]?.array ?? []
        let parts = rows.compactMap { $0["id"]?.string }
        try #require(parts.count == 3)
        #expect(rows[1]["media"]?[0]?["sha256"]?.string == MediaSchedulingTests.sha(image))
        _ = try d.waitStates(parts, "posted", timeoutMillis: 60_000)
        try Self.checkChain(d, sim, account, texts: texts, parts: parts, context: "media thread")
        let live = try sim.posts(account)
        for (n, text) in texts.enumerated() {
            let media = live.first { $0["text"]?.string == text }?["media"]?.array ?? []
            #expect(media.count == (n == 1 ? 1 : 0), "part \(n + 1) carries \(media.count) media")
            if n == 1 { #expect(media.first?["sha256"]?.string == MediaSchedulingTests.sha(image), "\(media)") }
        }
    }

    @Test("the CLI: `thread` prints the id, jobs rows carry thread_id and thread_position, a batch line holds a thread; bad parts, and a thread for Facebook (no chains), are refused naming the part and nothing is stored")
    func cli() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "tl-x", nil), (.facebook, "tl-fb", nil)])
        defer { d.cleanUp() }
        try d.start()
        let made = d.cli(["thread", "--account", "tl-x", "--at", "2099-01-01T00:00:00Z", "first part", "second part"])
        #expect(made.code == 0, "\(made.stderr)")
        let threadId = made.stdout.trimmed
        #expect(threadId.hasPrefix("t_"))
        let rows = try JSON.parse(d.cli(["jobs", "--json"]).stdout).array ?? []
        #expect(rows.compactMap { $0["thread_id"]?.string == threadId ? $0["thread_position"]?.int : nil }.sorted() == [1, 2])
        let shown = d.cli(["show", threadId])
        #expect(shown.code == 0 && shown.stdout.contains("part 2:"), "\(shown.stdout)\(shown.stderr)")

        let file = d.dir.path + "/batch.jsonl"
        try Files.writeAtomically(file, """
            {"text": "a single post", "at": "2099-01-01T00:00:00Z"}
            {"thread": [{"text": "batch thread one"}, {"text": "batch thread two"}], "at": "2099-01-01T00:00:00Z", "gap": "30s"}
            """)
        let batch = d.cli(["post", "--account", "tl-x", "--file", file, "--json"])
        #expect(batch.code == 0, "\(batch.stderr)")
        let posts = try JSON.parse(batch.stdout)["posts"]?.array ?? []
        #expect(posts.map { $0["thread_position"]?.int ?? 0 } == [0, 1, 2], "\(batch.stdout)")

        let before = try d.jobs().count
        let flat = d.cli(["thread", "--account", "tl-fb", "first", "second"])
        #expect(flat.code == 1 && flat.stderr.contains("does not chain posts") && flat.stderr.contains("part 2"), "\(flat.stderr)")
        let long = String(repeating: "x", count: 300)
        for (args, expected) in [(["thread", "--account", "tl-x", "fine", long], "part 2: x would refuse it"),
                                 (["thread", "--account", "tl-x", "fine", " "], "part 2: empty")] {
            let refused = d.cli(args)
            #expect(refused.code != 0 && refused.stderr.contains(expected), "\(args.last!.prefix(10)): \(refused.stderr)")
        }
        try Files.writeAtomically(file, """
            {"thread": [{"text": "ok"}, {"text": ""}]}
            """)
        let badLine = d.cli(["post", "--account", "tl-x", "--file", file])
        #expect(badLine.code == 1 && badLine.stderr.contains("line 1: part 2: empty"), "\(badLine.stderr)")
        #expect(try d.jobs().count == before, "nothing of a refused thread was stored")
    }
}
