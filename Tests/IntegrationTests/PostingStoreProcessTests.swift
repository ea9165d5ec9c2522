import Glibc
import Testing
import SteadyCore
import SteadyStore
import SteadySystem

/// The store's claim path raced by several real processes on one database file
/// (`steadypost-bench claim-race`, the posting worker's claim → begin attempt → record
/// sequence), which is what the posting worker and a second daemon pointed at the same state
/// directory would do.
@Suite("store across processes", .serialized, .timeLimit(.minutes(3)))
struct PostingStoreProcessTests {
    static var bench: String { TestBinaries.bench }

    struct Claimer {
        let owner: String
        let process: SpawnedProcess
        let outPath: String
        let readyPath: String
    }

    struct RaceResult {
        var claimedBy: [String: [String]] = [:]
        var retries = 0
        var failures: [String] = []
    }

    /// A database of `count` due posts in `dir`.
    static func seed(_ dir: TempDir, count: Int) throws -> (path: String, ids: [String]) {
        let path = dir.path + "/race.db"
        let store = try SQLitePostStore(path: path)
        let now = SteadyClock.wallMillis()
        let posts = (0..<count).map { NewPost(account: "acct-\($0 % 3)", platform: "x", text: "race \($0)", dueAt: now - 1_000, contentHash: "h\($0)") }
        return (path, try store.insert(posts, now: now).map(\.id))
    }

    /// `busyMillis`: the claimers' SQLite busy timeout (nil: the store's default).
    static func spawnClaimers(_ n: Int, db: String, dir: TempDir, busyMillis: Int? = nil) throws -> [Claimer] {
        guard access(bench, X_OK) == 0 else { throw TestFailure("\(bench) is not built") }
        return try (0..<n).map { i in
            let owner = "claimer-\(i)"
            let outPath = dir.path + "/\(owner).out"
            let ready = dir.path + "/\(owner).ready"
            let p = try spawnLogged([bench, "claim-race", db, owner, ready] + (busyMillis.map { [String($0)] } ?? []), log: outPath)
            return Claimer(owner: owner, process: p, outPath: outPath, readyPath: ready)
        }
    }

    /// Waits for every claimer to exit (killing any left at the deadline, by pid) and reads
    /// what each claimed.
    static func collect(_ claimers: [Claimer]) throws -> RaceResult {
        var result = RaceResult()
        defer { for c in claimers { killProcess(c.process) } }
        for c in claimers {
            guard let status = waitExit(c.process, timeoutMillis: 60_000) else { throw TestFailure("timed out after 60000 ms waiting for \(c.owner) to finish") }
            let text = Files.read(c.outPath) ?? ""
            if status != .exited(0) { result.failures.append("\(c.owner) \(status): \(text.suffix(500))") }
            for line in text.split(separator: "\n") {
                if line.hasPrefix("claimed ") { result.claimedBy[String(line.dropFirst(8)), default: []].append(c.owner) }
                if line.hasPrefix("retries "), let n = Int(line.dropFirst(8)) { result.retries += n }
            }
        }
        return result
    }

    /// Every post claimed by exactly one process, posted once, with that process's id.
    static func checkEachOnce(_ result: RaceResult, ids: [String], db: String) throws {
        #expect(result.failures.isEmpty, "every claimer succeeded: \(result.failures)")
        let doubles = result.claimedBy.filter { $0.value.count > 1 }
        #expect(doubles.isEmpty, "posts claimed by two processes: \(doubles)")
        #expect(Set(result.claimedBy.keys) == Set(ids), "every post claimed: \(result.claimedBy.count) of \(ids.count)")
        let store = try SQLitePostStore(path: db)
        #expect(try store.counts() == [.posted: ids.count])
        for id in ids {
            let post = try store.post(id: id)
            let attempts = try store.attempts(postId: id)
            #expect(attempts.count == 1 && post.attempts == 1, "\(id): one attempt, not \(attempts.count)")
            #expect(post.platformId == "\(result.claimedBy[id]?.first ?? "?")/\(id)", "\(id) recorded by its one claimer: \(post.platformId ?? "nil")")
        }
    }

    @Test("F06: four processes claim from one database file at once; no post is claimed twice, every post is claimed and recorded once")
    func f06_concurrentClaimersInProcesses() throws {
        let dir = TempDir("steadypost-f06")
        defer { dir.remove() }
        let (db, ids) = try Self.seed(dir, count: 300)
        // The write lock is the starting gate: held until every claimer is at its first claim.
        let gate = try WriteLockHolder(db)
        let claimers = try Self.spawnClaimers(4, db: db, dir: dir)
        _ = try waitFor("every claimer at its first claim", timeoutMillis: 20_000) { () -> Bool? in
            claimers.allSatisfy { Files.exists($0.readyPath) } ? true : nil
        }
        gate.release()
        let result = try Self.collect(claimers)
        try Self.checkEachOnce(result, ids: ids, db: db)
        #expect(Set(result.claimedBy.values.flatMap { $0 }).count > 1, "the claimers really raced: \(Set(result.claimedBy.values.flatMap { $0 }))")
    }

    @Test("F16: another process holds the write lock while claimers run; their BUSY errors are retried, every operation succeeds, nothing is written twice")
    func f16_busyFromAnotherProcess() throws {
        let dir = TempDir("steadypost-f16")
        defer { dir.remove() }
        let (db, ids) = try Self.seed(dir, count: 120)
        // This process takes the write lock before the claimers start.
        let holder = try WriteLockHolder(db)
        // A busy timeout shorter than the hold, so the held lock surfaces as SQLITE_BUSY to the
        // retry layer. (Two claimers: SQLite's busy wait is not fair, and claimers looping
        // flat out with short timeouts can starve one another past any retry budget.)
        let claimers = try Self.spawnClaimers(2, db: db, dir: dir, busyMillis: 500)
        _ = try waitFor("a claimer at its first claim", timeoutMillis: 20_000) { () -> Bool? in
            claimers.contains { Files.exists($0.readyPath) } ? true : nil
        }
        // The fault: the lock stays held 800 ms more (a claimer's busy timeout is 500 ms and its
        // retries span about four seconds).
        let until = SteadyClock.monotonicMillis() + 800
        while SteadyClock.monotonicMillis() < until {
            var ts = timespec(tv_sec: 0, tv_nsec: 10_000_000)
            _ = nanosleep(&ts, nil)
        }
        holder.release()
        let result = try Self.collect(claimers)
        #expect(result.retries > 0, "the claimers met SQLITE_BUSY and retried")
        try Self.checkEachOnce(result, ids: ids, db: db)
    }
}

/// SQLite's write lock on a database, taken by this process until `release` (or deinit).
final class WriteLockHolder {
    private let db: SQLiteDatabase
    private var held = true

    init(_ path: String) throws {
        db = try SQLiteDatabase(path: path)
        try db.execute("BEGIN IMMEDIATE")
    }

    func release() {
        guard held else { return }
        held = false
        try? db.execute("ROLLBACK")
    }

    deinit { release() }
}
