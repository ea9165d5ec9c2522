import Glibc
import SteadyControl
import SteadyCore
import SteadyProtocol
import SteadyStore
import SteadySystem

/// P2, P3, P7: the posting path end to end against a zero-latency simulator. Bluesky
/// accounts (the simulator's most generous write limit: 5,000 points an hour, 3 a create)
/// share the load, so no run is throttled by the platform.
enum PostingBench {
    static let accounts = (1...4).map { "bench-bsky-\($0)" }

    /// `rateLimitScale` > 1 for runs beyond what four accounts may post in an hour (Bluesky:
    /// 1,666 creates per account).
    static func setUp(rateLimitScale: Int = 1) -> (BenchSim, BenchDaemon) {
        var toml = ""
        for a in accounts {
            toml += "[[accounts]]\nname = \"\(a)\"\nplatform = \"bluesky\"\nbase_url = \"BASE\"\ncredentials = \"\(a).json\"\nquota = { hourly = 1000000, daily = 1000000 }\n\n"
        }
        toml += "[workers.posting]\nconcurrency = 4\n"
        // The daemon's directory first (for its credentials dir), then the simulator writes there.
        let daemon = BenchDaemonPlaceholder.prepare(toml: toml)
        let sim = BenchSim(accounts: accounts.map { "bluesky:\($0)" }, credentialsDir: daemon.dir + "/credentials",
                           extraArguments: ["--rate-limit-scale", String(rateLimitScale)])
        let config = (Files.read(daemon.config) ?? "").replacingAll("BASE", sim.base)
        try? Files.writeAtomically(daemon.config, config)
        let d = BenchDaemon(workerToml: "", extraToml: "", reuse: daemon.asReuse())
        _ = d.waitAllRunning()
        return (sim, d)
    }

    /// Schedules `count` posts, the i-th due at `firstDue + i × spacing`; returns their texts.
    static func schedule(_ d: BenchDaemon, count: Int, firstDue: Int64, spacingMillis: Int64, tag: String) -> [String: Int64] {
        var due: [String: Int64] = [:]
        var items: [String] = []
        for i in 0..<count {
            let text = "\(tag) \(i)"
            let at = firstDue + Int64(i) * spacingMillis
            due[text] = at
            items.append("{\"account\":\"\(accounts[i % accounts.count])\",\"text\":\"\(text)\",\"at\":\(at)}")
        }
        create(d, items: items, chunk: 500, what: "posting.create")
        return due
    }

    /// Schedules `items` (batch items, each a JSON object) in `posting.create` batches of
    /// `chunk`, in order; dies naming `what` on a refusal.
    static func create(_ d: BenchDaemon, items: [String], chunk: Int, what: String) {
        for start in stride(from: 0, to: items.count, by: chunk) {
            let body = "{\"posts\":[\(items[start..<min(items.count, start + chunk)].joined(separator: ","))]}"
            do { _ = try d.client.call(method: "posting.create", body: Array(body.utf8)) } catch { die("\(what): \(error)") }
        }
    }

    /// Waits until the simulator holds every text in `due` (or the deadline); returns arrival times.
    static func waitPosted(_ sim: BenchSim, _ due: [String: Int64], timeoutMillis: Int64) -> [String: Int64] {
        let deadline = SteadyClock.monotonicMillis() + timeoutMillis
        var seen: [String: Int64] = [:]
        while SteadyClock.monotonicMillis() < deadline {
            seen = [:]
            for p in sim.posts() where due[p.text] != nil { seen[p.text] = p.createdAt }
            if seen.count == due.count { break }
            var ts = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            nanosleep(&ts, nil)
        }
        return seen
    }

    /// P2: due time → the create arriving at the simulator.
    static func p2(count: Int) {
        let (sim, d) = setUp()
        defer { d.stop(); sim.stop() }
        let first = SteadyClock.wallMillis() + 2000
        let due = schedule(d, count: count, firstDue: first, spacingMillis: 20, tag: "p2")
        let seen = waitPosted(sim, due, timeoutMillis: 120_000)
        let lat = Sample(seen.map { Double($0.value - due[$0.key]!) })
        out("| P2 due → create at the simulator (\(seen.count)/\(count) posts, 4 Bluesky accounts) | \(fmt(lat.p(0.5), 1)) ms | \(fmt(lat.p(0.99), 1)) ms | \(fmt(lat.max, 1)) ms | goal p99 ≤ 50 ms |")
        let early = seen.filter { $0.value < due[$0.key]! }.count
        out("| P2 posts published before their due time | \(early) | | | must be 0 |")
    }

    /// P3: posts per second end to end, beside SQLite's synchronous=FULL commit rate here.
    static func p3(count: Int) {
        let limit = sqliteCommitRate(dir: "/tmp")
        let (sim, d) = setUp()
        defer { d.stop(); sim.stop() }
        let t0 = SteadyClock.wallMillis()
        let due = schedule(d, count: count, firstDue: t0, spacingMillis: 0, tag: "p3")
        let seen = waitPosted(sim, due, timeoutMillis: 300_000)
        let last = seen.values.max() ?? t0
        let rate = Double(seen.count) / (Double(last - t0) / 1000)
        // Each post costs these commits: its share of the batch insert, claim, attempt, outcome.
        let perPost = 3.0
        out("| P3 end-to-end posts/s (\(seen.count) posts, zero-latency simulator) | \(fmt(rate, 1)) /s | SQLite limit \(fmt(limit / perPost, 1)) /s (\(fmt(limit, 0)) commits/s ÷ \(Int(perPost))) | \(fmt(rate / (limit / perPost) * 100, 0)) % of the limit | goal ≥ 50 % |")
    }

    /// P7: SIGKILL the supervisor with posts due, start it again: time until posting resumes.
    static func p7() {
        let (sim, d) = setUp()
        let first = SteadyClock.wallMillis() + 1000
        let due = schedule(d, count: 200, firstDue: first, spacingMillis: 50, tag: "p7")
        var ts = timespec(tv_sec: 4, tv_nsec: 0)
        nanosleep(&ts, nil)
        d.kill()
        let restart = SteadyClock.wallMillis()
        let again = BenchDaemon(workerToml: "", reuse: (d.dir, d.config))
        defer { again.stop(); sim.stop() }
        let seen = waitPosted(sim, due, timeoutMillis: 120_000)
        let resumed = seen.values.filter { $0 >= restart }.min().map { $0 - restart }
        let texts = sim.posts().map(\.text).filter { due[$0] != nil }
        out("| P7 supervisor SIGKILLed → first post after the restart | \(resumed.map { "\($0) ms" } ?? "none") | \(seen.count)/\(due.count) posted, \(texts.count - Set(texts).count) duplicates | goal ≤ 1 s |")
    }

    /// Single-row INSERT commits per second with WAL and synchronous=FULL, on `dir`'s disk.
    static func sqliteCommitRate(dir: String) -> Double {
        let path = dir + "/steadypost-bench-commit.db"
        defer { for s in ["", "-wal", "-shm"] { unlink(path + s) } }
        guard let db = try? SQLiteDatabase(path: path), (try? db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")) != nil,
              let stmt = try? db.prepare("INSERT INTO t (v) VALUES (?)") else { return 0 }
        let n = 500
        let t0 = SteadyClock.monotonicNanos()
        for i in 0..<n {
            _ = try? db.execute("BEGIN IMMEDIATE")
            _ = try? stmt.run([.text("row \(i)")])
            _ = try? db.execute("COMMIT")
        }
        return Double(n) / (Double(SteadyClock.monotonicNanos() - t0) / 1e9)
    }
}

/// The daemon's directory and config, written before the simulator (which needs the
/// credentials directory) and the daemon (which needs the simulator's port) start.
enum BenchDaemonPlaceholder {
    struct Prepared {
        let dir: String
        let config: String
        func asReuse() -> (dir: String, config: String) { (dir, config) }
    }

    static func prepare(toml: String) -> Prepared {
        var template = Array("/tmp/steadypost-bench.XXXXXX".utf8CString)
        let dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        let config = dir + "/steadypost.toml"
        var text = "[daemon]\nstate_dir = \"\(dir)/state\"\nruntime_dir = \"\(dir)/run\"\ncredentials_dir = \"\(dir)/credentials\"\n\n"
            + "[api]\nlisten = \"127.0.0.1:0\"\n\n" + toml
        text += "\n"
        do {
            try Files.makeDirectories(dir + "/credentials", mode: 0o700)
            try Files.writeAtomically(config, text)
        } catch { die("\(error)") }
        return Prepared(dir: dir, config: config)
    }
}

extension String {
    func replacingAll(_ target: String, _ replacement: String) -> String {
        var out = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            out += rest[..<r.lowerBound] + replacement
            rest = rest[r.upperBound...]
        }
        return out + rest
    }
}
