import Glibc
import Testing
import SteadyCore
import SteadyStore
import SteadySystem
import class SteadyTestSupport.TempDir
@testable import SteadyPosting
import Synchronization

/// The test fault points' switch (`STEADYPOST_FAULTS`): parsing, one-shot across restarts
/// (two instances on one fired file stand for a worker and its replacement), a post never
/// crashed twice, and nothing at all without the variable.
struct PostingFaultsTests {
    /// A fired-file path in a fresh directory, removed by the caller (`remove()`).
    static func scratch() -> (dir: TempDir, file: String) {
        let dir = TempDir("steadypost-faults")
        return (dir, dir.path + "/faults.fired")
    }

    final class Kills: Sendable {
        private let n = Mutex(0)
        var count: Int { n.withLock { $0 } }
        func add() { n.withLock { $0 += 1 } }
    }

    @Test("without the variable there are no fault points at all")
    func absentVariable() throws {
        #expect(try PostingFaults.from(environment: [:], stateDir: "/nonexistent") == nil)
        #expect(try PostingFaults.from(environment: ["STEADYPOST_FAULTS": " "], stateDir: "/nonexistent") == nil)
    }

    @Test("every entry kind parses; an unknown one is refused naming it and what is known")
    func parsing() throws {
        let entries = try PostingFaults.parse("crash:after_send@acct-x, outcome-write-fails,store-unwritable:2500@m,outcome-write-fails:0.05")
        #expect(entries.map(\.kind) == [.crash(.afterSend), .outcomeWriteFails, .storeUnwritable(millis: 2500), .outcomeWriteFailsAtRate(0.05)])
        #expect(entries.map(\.account) == ["acct-x", nil, "m", nil])
        #expect(try PostingFaults.parse(PostingFaults.CrashPoint.allCases.map { "crash:\($0.rawValue)" }.joined(separator: ",")).count == 8)
        for (bad, says) in [("crash:mid_air", "unknown crash point 'mid_air'"), ("explode", "unknown fault 'explode'"),
                            ("store-unwritable:soon", "positive duration"), ("crash:after_send@", "empty account"),
                            ("outcome-write-fails:1.5", "probability"), ("outcome-write-fails:0", "probability")] {
            #expect(throws: PostingStartError.self) { try PostingFaults.parse(bad) }
            do { _ = try PostingFaults.parse(bad) } catch { #expect(error.description.contains(says), "\(error)") }
        }
    }

    @Test("a crash point fires once, for its account only, and stays fired in the restarted worker")
    func crashOneShotAcrossRestart() throws {
        let (scratch, file) = Self.scratch()
        defer { scratch.remove() }
        let kills = Kills()
        let entries = try PostingFaults.parse("crash:after_intent@a")
        let first = PostingFaults(entries: entries, firedPath: file, killSelf: { kills.add() })
        first.crash(at: .beforeIntent, account: "a", postId: "p1") { _ in }
        first.crash(at: .afterIntent, account: "b", postId: "p1") { _ in }
        #expect(kills.count == 0, "another point, another account: nothing")
        first.crash(at: .afterIntent, account: "a", postId: "p1") { _ in }
        #expect(kills.count == 1)
        first.crash(at: .afterIntent, account: "a", postId: "p2") { _ in }
        #expect(kills.count == 1, "one-shot")
        // The replacement worker reads the fired file.
        let second = PostingFaults(entries: entries, firedPath: file, killSelf: { kills.add() })
        second.crash(at: .afterIntent, account: "a", postId: "p3") { _ in }
        #expect(kills.count == 1, "still fired after the restart")
    }

    @Test("a post that one crash entry killed the worker on is passed over by the others (no poison parking by faults)")
    func victimNotCrashedTwice() throws {
        let (scratch, file) = Self.scratch()
        defer { scratch.remove() }
        let kills = Kills()
        let entries = try PostingFaults.parse("crash:before_intent,crash:after_intent")
        PostingFaults(entries: entries, firedPath: file, killSelf: { kills.add() }).crash(at: .beforeIntent, account: "a", postId: "p1") { _ in }
        let restarted = PostingFaults(entries: entries, firedPath: file, killSelf: { kills.add() })
        restarted.crash(at: .afterIntent, account: "a", postId: "p1") { _ in }
        #expect(kills.count == 1, "p1 already crashed once")
        restarted.crash(at: .afterIntent, account: "a", postId: "p2") { _ in }
        #expect(kills.count == 2, "a fresh post takes the next entry")
    }

    @Test("a crash entry with #N fires only at a thread's part N; #N on another kind, or #0, is refused")
    func threadPartSelector() throws {
        let (scratch, file) = Self.scratch()
        defer { scratch.remove() }
        let kills = Kills()
        let entries = try PostingFaults.parse("crash:after_send@a#2")
        #expect(entries.first?.part == 2 && entries.first?.account == "a")
        let faults = PostingFaults(entries: entries, firedPath: file, killSelf: { kills.add() })
        faults.crash(at: .afterSend, account: "a", postId: "single") { _ in }
        faults.crash(at: .afterSend, account: "a", postId: "part1", part: 1) { _ in }
        #expect(kills.count == 0, "not a part 2")
        faults.crash(at: .afterSend, account: "a", postId: "part2", part: 2) { _ in }
        #expect(kills.count == 1)
        for bad in ["outcome-write-fails@a#2", "crash:after_send@a#0", "crash:after_send#x"] {
            #expect(throws: PostingStartError.self) { try PostingFaults.parse(bad) }
        }
    }

    @Test("F01/F03 switches: the outcome write fails once; store-unwritable fails every write for its window, then none")
    func storeFaults() throws {
        let (scratch, file) = Self.scratch()
        let dir = scratch.path
        defer { scratch.remove() }
        let faults = PostingFaults(entries: try PostingFaults.parse("outcome-write-fails@a,store-unwritable:60000@b"), firedPath: file)
        #expect(faults.storeWriteFailure() == nil, "no window before the first 2xx")
        #expect(faults.outcomeWriteFailure(account: "b", postId: "p1") == nil, "b's 2xx opens the window but fails no outcome by itself")
        #expect(faults.storeWriteFailure()?.kind == .io, "an I/O error while the window lasts")
        #expect(faults.outcomeWriteFailure(account: "a", postId: "p2")?.isTransient == true)
        #expect(faults.outcomeWriteFailure(account: "a", postId: "p3") == nil, "one-shot")

        let short = PostingFaults(entries: try PostingFaults.parse("store-unwritable:1"), firedPath: dir + "/other")
        defer { _ = unlink(dir + "/other") }
        _ = short.outcomeWriteFailure(account: "x", postId: "p")
        let deadline = SteadyClock.wallMillis() + 5_000
        while short.storeWriteFailure() != nil, SteadyClock.wallMillis() < deadline {}
        #expect(short.storeWriteFailure() == nil, "the window closes")
    }

    @Test("F03: a write fault makes the store's writes fail as I/O errors after its retries, reads go on")
    func storeWriteHook() throws {
        let (scratch, _) = Self.scratch()
        let dir = scratch.path
        defer { scratch.remove() }
        let store = FaultInjectingStore(try SQLitePostStore(path: dir + "/s.db"), retry: TransientRetry(limit: 6, baseMillis: 1))
        store.setFault { DatabaseFailure.injectedIOError("test") }
        let draft = NewPost(account: "a", platform: "x", text: "t", dueAt: 0, contentHash: "h")
        #expect(throws: StoreError.self) { try store.insert([draft], now: 1) }
        #expect(store.transientRetries == 6, "retried as a transient error first")
        #expect(try store.counts().isEmpty, "reads still work")
        store.setFault(nil)
        #expect(try store.insert([draft], now: 1).count == 1)
    }

    @Test("outcome-write-fails:P fails each matching outcome write at its rate, keeps firing across restarts, and logs each firing")
    func outcomeWriteFailsAtRate() throws {
        let (scratch, file) = Self.scratch()
        defer { scratch.remove() }
        let always = PostingFaults(entries: try PostingFaults.parse("outcome-write-fails:1@a"), firedPath: file)
        #expect(always.outcomeWriteFailure(account: "a", postId: "p1") != nil)
        #expect(always.outcomeWriteFailure(account: "a", postId: "p2") != nil, "not one-shot")
        #expect(always.outcomeWriteFailure(account: "b", postId: "p3") == nil, "another account")
        let restarted = PostingFaults(entries: try PostingFaults.parse("outcome-write-fails:1@a"), firedPath: file)
        #expect(restarted.outcomeWriteFailure(account: "a", postId: "p4") != nil, "still firing after a restart")
        #expect((Files.read(file) ?? "").split(separator: "\n").count == 3, "each firing logged")
        let rare = PostingFaults(entries: try PostingFaults.parse("outcome-write-fails:0.25"), firedPath: file)
        let hits = (0..<2000).filter { rare.outcomeWriteFailure(account: "a", postId: "q\($0)") != nil }.count
        #expect(hits > 300 && hits < 700, "about a quarter of 2,000: \(hits)")
    }
}
