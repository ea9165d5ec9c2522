import Glibc
import Logging
import Testing
import SteadyConfig
import SteadyCore
import SteadyPlatforms
@testable import SteadyPosting
import SteadyStore
import SteadySystem
import class SteadyTestSupport.TempDir
import struct SteadyTestSupport.TestFailure

/// The proof that a platform is one place: the posting engine, unchanged, schedules, sends,
/// verifies and records for a platform defined only in this test target, by that platform's
/// rules (its text limit, its idempotency material, its credentials member, its verification).
@Suite("a platform defined only in the tests posts through the unchanged engine", .serialized, .timeLimit(.minutes(1)))
struct FakePlatformPostingTests {
    init() {
        PlatformRegistry.register(FakePlatform())  // the one registration line
    }

    /// A posting engine with one `fake` account, driven the way `WorkerRuntime` drives it.
    final class Rig {
        let temp = TempDir("steadypost-fake")
        var dir: String { temp.path }
        let world: FakeWorld
        let engine: PostingEngine
        let store: SQLitePostStore

        init() throws {
            let dir = temp.path
            let worldURL = "http://127.0.0.1:9/\(dir.split(separator: "/").last!)"
            world = FakeWorld.named(worldURL)
            try Files.writeAtomically(dir + "/fake.json", #"{"token": "fake-secret-token-123"}"#, mode: 0o600)
            var config = try Config.parse("""
                [daemon]
                state_dir = "\(dir)/state"
                runtime_dir = "\(dir)/run"
                credentials_dir = "\(dir)"

                [[accounts]]
                name = "fake-one"
                platform = "x"
                base_url = "\(worldURL)"
                credentials = "fake.json"
                """, path: dir + "/steadypost.toml")
            // A config names built-in platforms only (the supervisor checks it without adapter
            // code); the engine takes whatever the account says.
            config.accounts[0].platform = .fake
            engine = try PostingEngine(config: config, environment: [:], logger: Logger(label: "fake-platform-test"))
            engine.start(logger: Logger(label: "fake-platform-test"))
            store = try SQLitePostStore(path: dir + "/state/steadypost.db")
        }

        /// `posting.create` for the fake account: the new post's id, or the refusal.
        func create(_ text: String) throws -> Result<String, Refusal> {
            switch engine.handle(method: "create", body: Array(#"{"account": "fake-one", "text": "\#(text)"}"#.utf8)) {
            case .ok(let bytes)?:
                guard let id = try JSON.parse(bytes)["id"]?.string else { throw TestFailure("no id in the answer") }
                return .success(id)
            case .error(let code, let message)?: return .failure(Refusal(code: code, message: message))
            default: throw TestFailure("no answer to create")
            }
        }

        /// Runs the engine's loop until `done` holds, or fails after `seconds`.
        func run(seconds: Int64 = 20, until done: () throws -> Bool) throws -> Bool {
            let deadline = SteadyClock.monotonicMillis() + seconds * 1000
            while SteadyClock.monotonicMillis() < deadline {
                if try done() { return true }
                engine.tick(now: SteadyClock.monotonicMillis())
                let wait = engine.wakeAt.map { max(0, min(100, $0 - SteadyClock.monotonicMillis())) } ?? 100
                var fds = engine.watchedDescriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
                if poll(&fds, nfds_t(fds.count), Int32(wait)) > 0 {
                    for p in fds where p.revents != 0 { engine.readable(p.fd) }
                }
            }
            return try done()
        }
    }

    struct Refusal: Error {
        var code: String
        var message: String
    }

    @Test("a fake-platform post is published once, with the fake's idempotency key and its credentials")
    func publishes() throws {
        let rig = try Rig()
        let id = try rig.create("hello from an unnamed platform").get()
        #expect(try rig.run { try rig.store.post(id: id).state == .posted })
        let post = try rig.store.post(id: id)
        #expect(post.platformId == "fake-1")
        #expect(rig.world.posts.count == 1)
        #expect(rig.world.posts.first?.token == "fake-secret-token-123")
        #expect(rig.world.posts.first?.key.hasPrefix("fk-") == true)
    }

    @Test("the fake's text rule decides what is accepted: over its 40 characters is refused before anything is stored")
    func textRule() throws {
        let rig = try Rig()
        guard case .failure(let refusal) = try rig.create(String(repeating: "a", count: FakePlatform.limit + 1)) else {
            Issue.record("a text over the fake's limit was accepted"); return
        }
        #expect(refusal.code == "invalid")
        #expect(refusal.message.contains("41 of 40"))
        #expect(try rig.store.counts().values.reduce(0, +) == 0)
        #expect(rig.world.creates == 0)
    }

    @Test("F02 on the fake: the answer is lost, the engine verifies by the fake's idempotency lookup and records the post once")
    func lostAnswerVerified() throws {
        let rig = try Rig()
        rig.world.state.withLock { $0.dropResponses = 1 }
        let id = try rig.create("the answer to this one is lost").get()
        #expect(try rig.run { try rig.store.post(id: id).state == .posted })
        #expect(try rig.store.post(id: id).platformId == "fake-1")
        #expect(rig.world.posts.count == 1)
        #expect(rig.world.creates == 1)
    }
}
