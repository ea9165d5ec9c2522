import Glibc
import Logging
import Synchronization
import Testing
import SteadyBackground
import SteadyConfig
import SteadyCore
import SteadyPlatforms
import SteadyStore
import SteadyTestSupport
@testable import SteadyReconciler

/// Thread parts on the timeline (issue 16): a live part N > 1 must answer part N-1's live id;
/// one that does not is reported, logged at error level and counted, and nothing changes.
/// Against the real simulator over loopback (its admin API puts the parts on the timeline) and
/// a real store in a temporary directory.
@Suite("reconciler threads", .serialized, .timeLimit(.minutes(2)))
struct ThreadReconcileTests {
    /// The log lines of a pass, by level.
    final class LogCapture: Sendable {
        let entries = Mutex<[(level: Logger.Level, message: String)]>([])

        var errors: [String] { entries.withLock { $0.filter { $0.level == .error }.map(\.message) } }

        struct Handler: LogHandler {
            let capture: LogCapture
            var metadata: Logger.Metadata = [:]
            var logLevel: Logger.Level = .trace

            subscript(metadataKey key: String) -> Logger.Metadata.Value? {
                get { metadata[key] }
                set { metadata[key] = newValue }
            }

            func log(event: LogEvent) {
                capture.entries.withLock { $0.append((event.level, event.message.description)) }
            }
        }
    }

    /// One simulator account, a state directory with a store, and the reconciler's reader.
    final class Fixture: @unchecked Sendable {
        let sim: SimulatorProcess
        let dir = TempDir("steadypost-reconcile-threads")
        let platform: Platform
        let account: String
        let config: Config
        let store: SQLitePostStore
        let reader: ReadingAccount
        let log = LogCapture()
        let logger: Logger

        init(_ platform: Platform) throws {
            self.platform = platform
            account = "threads-\(platform.rawValue)"
            sim = try SimulatorProcess()
            for sub in ["/state", "/run", "/credentials"] { mkdir(dir.path + sub, 0o700) }
            try sim.createAccount(platform, account, credentialsDir: dir.path + "/credentials")
            config = try Config.parse("""
                [daemon]
                state_dir = "\(dir.path)/state"
                runtime_dir = "\(dir.path)/run"
                credentials_dir = "\(dir.path)/credentials"

                [[accounts]]
                name = "\(account)"
                platform = "\(platform.rawValue)"
                base_url = "\(sim.baseURL)"
                credentials = "\(account).json"
                """, path: dir.path + "/steadypost.toml")
            store = try SQLitePostStore(path: dir.path + "/state/steadypost.db")
            let capture = log
            logger = Logger(label: "reconcile-test") { _ in LogCapture.Handler(capture: capture) }
            reader = ReadingAccount(config: config.accounts[0], daemon: config, httpOptions: ReconcilerSettings(config: config.reconciler).httpOptions,
                                    logger: logger)
        }

        deinit {
            sim.stop()
            dir.remove()
        }

        /// A thread of `texts` in the store; its parts in order.
        func thread(_ texts: [String], now: Int64) throws -> [Post] {
            let id = ThreadPlacement.newId()
            return try store.insert(texts.enumerated().map { i, text in
                NewPost(account: account, platform: platform.rawValue, text: text, dueAt: now, contentHash: ContentNormalizer.hash(text),
                        thread: ThreadPlacement(id: id, position: i + 1))
            }, now: now)
        }

        /// The next due part taken through the contract as the posting worker does (claim,
        /// attempt, outcome), made live on the simulator in between answering `answering`
        /// (by default the reply target the store gave the part: the part before it): put on
        /// the timeline by the admin API, or on Bluesky sent through the adapter (a record the
        /// admin API injects carries no `reply`).
        @discardableResult
        func postNext(now: Int64, answering: String? = nil) throws -> Post {
            guard let part = try store.claimDue(owner: "test", now: now, leaseMillis: 60_000, account: account) else {
                throw TestFailure("no part of the thread is due")
            }
            let attempt = try store.beginAttempt(postId: part.id, owner: "test", idempotencyKey: "k-" + part.id, adapter: platform.rawValue, now: now, leaseMillis: 60_000)
            let target = answering ?? part.inReplyTo
            let id: String
            if platform == .bluesky {
                let draft = PostDraft(text: part.text, replyTo: target)
                let key = AttemptKey(attemptId: attempt.id, startedAtMicros: attempt.startedAt * 1000)
                id = try reader.withAdapter(store: store) { (adapter: any PlatformAdapter) throws(PlatformError) in try adapter.create(draft, attempt: key).id }
            } else {
                let live = try sim.call(.post, "/_sim/posts", .obj([("account", JSON(account)), ("text", JSON(part.text)), ("in_reply_to", target.map(JSON.init))]))
                guard let liveId = live["id"]?.stringOrNumber else { throw TestFailure("the simulator's post has no id: \(live.serialized)") }
                id = liveId
            }
            return try store.recordOutcome(postId: part.id, attemptId: attempt.id, outcome: .published(platformId: id), now: now)
        }

        /// A manual pass over the account, as `steadypost reconcile` runs it; its report.
        func reconcile() throws -> (result: ReconcilePass.Result, report: JSON) {
            let pass = ReconcilePass(name: "manual", readers: [reader], accountFilter: account, windowMs: 3_600_000, dryRun: false)
            let result = pass.run(settings: ReconcilerSettings(config: config.reconciler), store: store,
                                  journal: OutcomeJournal(path: dir.path + "/state/outcomes.journal"), logger: logger)
            return (result, try JSON.parse(result.report))
        }

        /// The account's part of a report.
        func accountReport(_ report: JSON) throws -> JSON {
            try #require(report["accounts"]?.array?.first { $0["account"]?.string == account }, "\(report.serialized)")
        }
    }

    static let platforms: [Platform] = [.x, .mastodon, .bluesky]

    @Test("a thread of 3 parts posted correctly, each answering the part before it: no thread mismatch, nothing changes", arguments: platforms)
    func threadPostedCorrectly(platform: Platform) throws {
        let f = try Fixture(platform)
        let now = SteadyClock.wallMillis()
        let parts = try f.thread(["thread ok 1/3", "thread ok 2/3", "thread ok 3/3"], now: now)
        for _ in parts { try f.postNext(now: now) }
        let posted = try f.store.threadParts(threadId: parts[0].threadId!)
        #expect(posted.map(\.state) == [.posted, .posted, .posted])
        #expect(posted[2].inReplyTo == posted[1].platformId && posted[1].inReplyTo == posted[0].platformId, "the store chained the parts")

        let (result, report) = try f.reconcile()
        #expect(result.ok, "\(report.serialized)")
        let a = try f.accountReport(report)
        #expect(a["scanned"]?.int == 3 && a["known"]?.int == 3, "\(a.serialized)")
        #expect(a["thread_mismatches"]?.array?.isEmpty == true, "\(a.serialized)")
        #expect(result.threadMismatches == 0 && result.changes == 0)
        #expect(!f.log.errors.contains { $0.contains("THREAD") }, "\(f.log.errors)")
        #expect(try f.store.threadParts(threadId: parts[0].threadId!) == posted)
    }

    @Test("a thread whose part 3 is live answering part 1 instead of part 2: one thread mismatch naming part 3, expecting part 2's id; reported, logged, counted, nothing changes",
          arguments: platforms)
    func threadPartAnsweringTheWrongPart(platform: Platform) throws {
        let f = try Fixture(platform)
        let now = SteadyClock.wallMillis()
        let parts = try f.thread(["thread bent 1/3", "thread bent 2/3", "thread bent 3/3"], now: now)
        let first = try f.postNext(now: now)
        let second = try f.postNext(now: now)
        let third = try f.postNext(now: now, answering: first.platformId)
        let liveThird = try #require(try f.sim.posts(f.account).first { $0["text"]?.string == "thread bent 3/3" })
        #expect(liveThird["in_reply_to"]?.stringOrNumber == first.platformId, "the simulator holds part 3 answering part 1: \(liveThird.serialized)")
        let threadId = try #require(parts[0].threadId)
        let before = try f.store.threadParts(threadId: threadId)
        #expect(before.map(\.state) == [.posted, .posted, .posted])

        let (result, report) = try f.reconcile()
        #expect(result.ok, "a mismatch is a finding, not a failed pass: \(report.serialized)")
        let a = try f.accountReport(report)
        let mismatches = a["thread_mismatches"]?.array ?? []
        #expect(mismatches.count == 1, "exactly one: \(a.serialized)")
        let m = try #require(mismatches.first)
        #expect(m["post_id"]?.string == third.id)
        #expect(m["thread_id"]?.string == threadId)
        #expect(m["position"]?.int == 3)
        #expect(m["platform_id"]?.string == third.platformId)
        #expect(m["replies_to"]?.string == first.platformId)
        #expect(m["expected"]?.string == second.platformId)
        #expect(m["previous_post_id"]?.string == second.id)
        #expect(result.threadMismatches == 1, "counted in the run's figures")
        // Reported only: no fix, no change, every part as it was.
        #expect(result.changes == 0 && a["fixes"]?.array?.isEmpty == true && a["foreign_new"]?.array?.isEmpty == true)
        #expect(try f.store.threadParts(threadId: threadId) == before)
        // Logged at error level, naming the part.
        let logged = f.log.errors.filter { $0.contains("THREAD MISMATCH") }
        #expect(logged.count == 1 && logged.first?.contains(third.platformId ?? "?") == true, "\(f.log.errors)")
        // Stored with the run, as `steadypost reconcile` shows the latest.
        let stored = try #require(try f.store.reconcileRuns(limit: 1).first)
        #expect(stored.id == result.id)
        let storedAccount = try f.accountReport(try JSON.parse(Array(stored.report.utf8)))
        #expect(storedAccount["thread_mismatches"]?.array?.first?["post_id"]?.string == third.id)
    }

    // MARK: - The check alone

    static func part(_ id: String, thread: String, _ position: Int, _ state: PostState, platformId: String?) -> Post {
        var post = TimelineMatcherTests.candidate(id, "thread part \(position)", state, platformId: platformId).post
        post.threadId = thread
        post.threadPosition = position
        return post
    }

    @Test("thread check: a live part whose part before it is not posted here, or which answers nothing, is a mismatch; part 1 and a right answer are not")
    func threadCheckCases() {
        let parts = [Self.part("p1", thread: "t_1", 1, .posted, platformId: "10"), Self.part("p2", thread: "t_1", 2, .failed, platformId: nil),
                     Self.part("p3", thread: "t_1", 3, .posted, platformId: "30")]
        let live = [(remote: RemotePost(id: "10", text: "thread part 1"), post: parts[0]),
                    (remote: RemotePost(id: "30", text: "thread part 3", inReplyTo: "10"), post: parts[2])]
        let notPosted = ThreadCheck.mismatches(live: live, parts: ["t_1": parts])
        #expect(notPosted.map(\.postId) == ["p3"])
        #expect(notPosted.first?.expected == nil && notPosted.first?.previousPostId == "p2" && notPosted.first?.repliesTo == "10")
        #expect(notPosted.first?.reason.contains("failed here, not posted") == true, "\(notPosted)")

        var chained = parts
        chained[1].state = .posted
        chained[1].platformId = "20"
        let answersNothing = [(remote: RemotePost(id: "30", text: "thread part 3", inReplyTo: nil), post: chained[2])]
        #expect(ThreadCheck.mismatches(live: answersNothing, parts: ["t_1": chained]).map(\.expected) == ["20"])
        let right = [(remote: RemotePost(id: "20", text: "thread part 2", inReplyTo: "10"), post: chained[1]),
                     (remote: RemotePost(id: "30", text: "thread part 3", inReplyTo: "20"), post: chained[2])]
        #expect(ThreadCheck.mismatches(live: right, parts: ["t_1": chained]).isEmpty)
        // Part 2 found live in this pass (not yet holding its id here): its live id is what part 3 must answer.
        let adopting = [(remote: RemotePost(id: "21", text: "thread part 2", inReplyTo: "10"), post: parts[1]),
                        (remote: RemotePost(id: "30", text: "thread part 3", inReplyTo: "21"), post: parts[2])]
        #expect(ThreadCheck.mismatches(live: adopting, parts: ["t_1": parts]).isEmpty)
    }
}
