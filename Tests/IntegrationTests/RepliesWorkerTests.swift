import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import SteadyProtocol
import SteadyStore
import SteadySystem

/// The replies worker end to end: the real supervisor, posting and replies workers, the real
/// simulator over loopback (mentions injected through its admin API), and for the
/// chat-completions generator a loopback endpoint run by the test.
@Suite("replies worker", .serialized, .timeLimit(.minutes(3)))
struct RepliesWorkerTests {
    static let replies = """
        poll_interval = "300ms"
        retry_base_delay = "300ms"
        retry_max_delay = "600ms"
        template = "@{author} thanks for writing!"
        """

    static func daemon(_ sim: SimulatorProcess, account: String, replies: String = RepliesWorkerTests.replies,
                       before: (DaemonProcess) throws -> Void = { _ in }) throws -> DaemonProcess {
        let d = try DaemonProcess(sim: sim, accounts: [(.mastodon, account, nil)])
        try d.configure(.replies, replies)
        try before(d)
        try d.start()
        try d.waitWorker(.replies, summaryPrefix: "answering mentions")
        return d
    }

    /// The account's replies on the platform (ground truth).
    static func replyPosts(_ sim: SimulatorProcess, _ account: String) throws -> [JSON] {
        try sim.posts(account).filter { !($0["in_reply_to"]?.isNull ?? true) }
    }

    /// A chat-completions endpoint that answers every request 503 (the generator down).
    static func generatorDown() throws -> ScriptedServer {
        let down = ScriptedServer.Action.respond(status: 503, headers: ["Content-Type: application/json"],
                                                 body: Array(#"{"error":{"message":"unavailable"}}"#.utf8))
        return try ScriptedServer(script: Array(repeating: down, count: 200))
    }

    /// A daemon whose replies come from the chat-completions endpoint `server` (key file 0600).
    static func openAIDaemon(_ sim: SimulatorProcess, account: String, server: ScriptedServer, key: String) throws -> DaemonProcess {
        try daemon(sim, account: account, replies: replies + """

            generator = "openai"
            openai_base_url = "\(server.url)/v1"
            openai_model = "tiny"
            openai_key_file = "openai.key"
            openai_timeout = "2s"
            """, before: { d in try Files.writeAtomically(d.credentialsDir + "/openai.key", key + "\n", mode: 0o600) })
    }

    /// Waits for the account's first reply on the platform; returns its replies.
    static func waitReplies(_ sim: SimulatorProcess, _ account: String) throws -> [JSON] {
        try waitFor("the reply on the platform", timeoutMillis: 30_000) { () -> [JSON]? in
            let r = try replyPosts(sim, account)
            return r.isEmpty ? nil : r
        }
    }

    /// Lets three more passes run, then checks the platform still has exactly one reply.
    static func expectAnsweredOnce(_ sim: SimulatorProcess, _ d: DaemonProcess, _ account: String) throws {
        let passes = try d.counters(.replies)["passes"] ?? 0
        try d.waitCounter(.replies, "passes", atLeast: passes + 3)
        #expect(try replyPosts(sim, account).count == 1, "answered once")
    }

    static func mentionRecord(_ d: DaemonProcess, _ account: String) throws -> JSON? {
        try d.routed("replies.mentions", .obj([("account", JSON(account))]))["mentions"]?[0]
    }

    @Test("a mention is answered once through the posting worker; ignored authors are not")
    func mentionAnsweredOnce() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "rep-m"
        let d = try Self.daemon(sim, account: account, replies: Self.replies + "\nignore_accounts = [\"spam_bot\"]")
        defer { d.cleanUp() }
        let mention = try sim.mention(account, from: "alice", text: "hello there")
        try sim.mention(account, from: "spam_bot", text: "buy now")
        let replies = try Self.waitReplies(sim, account)
        #expect(replies.count == 1)
        #expect(replies[0]["text"]?.string == "@alice thanks for writing!")
        #expect(replies[0]["in_reply_to"]?.stringOrNumber == mention["status_id"]?.stringOrNumber, "answers the mentioning status: \(replies[0])")
        let records = try waitFor("both mentions recorded", timeoutMillis: 30_000) { () -> [JSON]? in
            let r = try d.routed("replies.mentions", .obj([("account", JSON(account))]))["mentions"]?.array ?? []
            return r.count == 2 ? r : nil
        }
        let byAuthor = Dictionary(records.map { ($0["author"]?.string ?? "?", $0) }, uniquingKeysWith: { a, _ in a })
        #expect(byAuthor["alice"]?["decision"]?.string == "enqueued")
        #expect(byAuthor["spam_bot"]?["decision"]?.string == "ignored")
        #expect(byAuthor["spam_bot"]?["reason"]?.string?.contains("ignore_accounts") == true)
        // Later passes read the same mentions again and answer nothing twice.
        let passes = try d.counters(.replies)["passes"] ?? 0
        try d.waitCounter(.replies, "passes", atLeast: passes + 4)
        #expect(try Self.replyPosts(sim, account).count == 1, "answered once")
        #expect(try d.jobs(account: account).count == 1, "one reply post in the store")
    }

    @Test("F17: while the posting worker is down the reply waits; once it is back the mention is answered once")
    func testF17_enqueueRetriedAnsweredOnce() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "f17-enq"
        let d = try Self.daemon(sim, account: account)
        defer { d.cleanUp() }
        #expect(d.cli(["stop", "posting"]).code == 0)
        try sim.mention(account, from: "alice", text: "hello?")
        let waiting = try d.waitCounter(.replies, "enqueue_errors", atLeast: 2)
        #expect(waiting["mentions_retrying"] == 1, "\(waiting)")
        let record = try #require(try Self.mentionRecord(d, account))
        #expect(record["last_error_class"]?.string == "enqueue-unavailable", "\(record)")
        #expect(d.cli(["start", "posting"]).code == 0)
        _ = try Self.waitReplies(sim, account)
        try Self.expectAnsweredOnce(sim, d, account)
        #expect(try d.jobs(account: account).count == 1, "one reply post in the store")
    }

    @Test("a mention is answered once on X and Bluesky too", arguments: [Platform.x, Platform.bluesky])
    func answeredOnEveryPlatform(_ platform: Platform) throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "rep-\(platform.rawValue)"
        let d = try DaemonProcess(sim: sim, accounts: [(platform, account, nil)])
        try d.configure(.replies, Self.replies)
        defer { d.cleanUp() }
        try d.start()
        try d.waitWorker(.replies, summaryPrefix: "answering mentions")
        try sim.mention(account, from: "carol", text: "ping")
        let replies = try Self.waitReplies(sim, account)
        #expect(replies.count == 1 && replies[0]["text"]?.string?.hasPrefix("@carol") == true, "\(replies)")
        try Self.expectAnsweredOnce(sim, d, account)
    }

    @Test("F17: a failing reply generator shows in health; the mention is retried later and answered once")
    func testF17_generatorFailuresRetriedAnsweredOnce() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "f17-m"
        // The endpoint fails twice (5xx, then a body that is not a completion), then answers.
        let completion = #"{"choices":[{"message":{"role":"assistant","content":"@alice glad you asked!"},"finish_reason":"stop"}]}"#
        let server = try ScriptedServer(script: [
            .respond(status: 500, headers: ["Content-Type: application/json"], body: Array(#"{"error":{"message":"model overloaded"}}"#.utf8)),
            .respond(status: 200, headers: ["Content-Type: application/json"], body: Array("<html>proxy</html>".utf8)),
            .respond(status: 200, headers: ["Content-Type: application/json"], body: Array(completion.utf8)),
        ])
        defer { server.stop() }
        let d = try Self.openAIDaemon(sim, account: account, server: server, key: "sk-f17-secret")
        defer { d.cleanUp() }
        try sim.mention(account, from: "alice", text: "what is new?")

        // Health shows the failures: counted by class, the job failing in a row.
        let failing = try d.waitCounter(.replies, "generator_errors", atLeast: 1)
        #expect(failing["generator_errors.server"] == 1, "\(failing)")
        #expect((failing["job.mentions.consecutive_failures"] ?? 0) >= 1, "\(failing)")
        // Then answered, once.
        let replies = try Self.waitReplies(sim, account)
        #expect(replies.count == 1 && replies[0]["text"]?.string == "@alice glad you asked!", "\(replies)")
        let after = try d.counters(.replies)
        #expect(after["generator_errors.malformed"] == 1 && after["generator_errors"] == 2, "\(after)")
        let record = try #require(try Self.mentionRecord(d, account))
        #expect(record["decision"]?.string == "enqueued" && record["tries"]?.int == 2, "\(record)")
        #expect(server.requests.count == 3, "one request per try")
        let passes = after["passes"] ?? 0
        let healthy = try d.waitCounter(.replies, "passes", atLeast: passes + 3)
        #expect(healthy["job.mentions.consecutive_failures"] == 0, "healthy again: \(healthy)")
        #expect(try Self.replyPosts(sim, account).count == 1, "answered once")
        #expect(server.requests.count == 3, "not generated again")
        #expect(!d.log().contains("sk-f17-secret"), "the key never reaches a log")
    }

    @Test("F17: a generator that keeps failing turns the replies job late in status, and nothing is posted")
    func testF17_failingGeneratorTurnsJobLate() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "f17-late"
        let server = try Self.generatorDown()
        defer { server.stop() }
        let d = try Self.openAIDaemon(sim, account: account, server: server, key: "sk-late")
        defer { d.cleanUp() }
        try sim.mention(account, from: "alice", text: "anyone there?")
        let report = try waitFor("the replies job late", timeoutMillis: 30_000) { () -> StatusReport? in
            let r = try d.client.status()
            return (r.late_job_names ?? []).contains("replies/mentions") ? r : nil
        }
        #expect((report.late_jobs ?? 0) >= 1)
        let counters = try d.counters(.replies)
        #expect((counters["generator_errors.server"] ?? 0) >= 1 && counters["mentions_retrying"] == 1, "\(counters)")
        #expect(try Self.replyPosts(sim, account).isEmpty)
    }

    @Test("F18: while the reply quota cannot be read, no reply is posted; once it can, the mention is answered once")
    func testF18_unreadableQuotaPostsNothing() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "f18-m"
        let d = try Self.daemon(sim, account: account)
        defer { d.cleanUp() }
        // Break the quota bookkeeping from outside, as a damaged store would.
        let outside = try SQLiteDatabase(path: d.storePath)
        func rename(_ from: String, _ to: String) throws {
            try outside.execute("ALTER TABLE \(from) RENAME TO \(to)")
        }
        try rename("reply_quota", "reply_quota_unreadable")
        try sim.mention(account, from: "alice", text: "are you there?")
        _ = try waitFor("the mention seen", timeoutMillis: 30_000) { try Self.mentionRecord(d, account) }
        let seenAt = try d.counters(.replies)["passes"] ?? 0
        let held = try d.waitCounter(.replies, "passes", atLeast: seenAt + 3)
        #expect((held["quota_unreadable"] ?? 0) >= 2, "counted: \(held)")
        #expect((held["job.mentions.consecutive_failures"] ?? 0) >= 2, "the job reports it: \(held)")
        #expect(try Self.replyPosts(sim, account).isEmpty, "nothing posted while the quota is unknown")
        #expect(try d.jobs(account: account).isEmpty, "nothing even enqueued")
        let record = try #require(try Self.mentionRecord(d, account))
        #expect(record["decision"]?.string == "answer" && record["last_error_class"]?.string == "quota-unreadable", "\(record)")

        try rename("reply_quota_unreadable", "reply_quota")
        _ = try Self.waitReplies(sim, account)
        try Self.expectAnsweredOnce(sim, d, account)
    }

    @Test("F18: the hourly reply quota holds replies beyond it")
    func testF18_hourlyQuotaHoldsTheRest() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = "f18-q"
        let d = try Self.daemon(sim, account: account, replies: Self.replies + "\nhourly_quota = 1")
        defer { d.cleanUp() }
        try sim.mention(account, from: "alice", text: "one")
        try sim.mention(account, from: "bob", text: "two")
        let counters = try d.waitCounter(.replies, "replies_held_by_quota", atLeast: 1)
        #expect(counters["replies_enqueued"] == 1, "\(counters)")
        _ = try waitFor("the one reply posted", timeoutMillis: 30_000) { () -> Bool? in
            try Self.replyPosts(sim, account).count == 1 ? true : nil
        }
        let passes = try d.counters(.replies)["passes"] ?? 0
        let later = try d.waitCounter(.replies, "passes", atLeast: passes + 3)
        #expect(later["replies_enqueued"] == 1, "the held one waits for the window: \(later)")
        let records = try d.routed("replies.mentions", .obj([("account", JSON(account))]))["mentions"]?.array ?? []
        #expect(records.filter { $0["decision"]?.string == "answer" && $0["last_error_class"]?.string == "quota" }.count == 1, "\(records)")
        #expect(try Self.replyPosts(sim, account).count == 1)
    }
}
