import Glibc
import SteadyControl
import SteadyCore
import SteadyProtocol
import SteadyStore
import SteadySystem

/// F12: N posts through the daemon leave each worker's open descriptors and RSS flat. The
/// figures are the workers' own heartbeats (`status`): after a warm-up fifth of the posts,
/// then at the end. Prints one line per worker and a verdict line; exit 1 if any worker's
/// descriptors grew by more than 2 or its RSS by more than `rssPercent` after the warm-up.
enum Leaks {
    static func run(posts: Int, rssPercent: Double) {
        let (sim, d) = PostingBench.setUp(rateLimitScale: 100)
        defer { d.stop(); sim.stop() }
        let warmup = max(1, posts / 5)
        _ = PostingBench.schedule(d, count: warmup, firstDue: SteadyClock.wallMillis(), spacingMillis: 0, tag: "leak-warm")
        guard waitPosted(d, warmup, timeoutMillis: 600_000) else { die("leaks: the warm-up did not finish") }
        let before = settled(d)
        _ = PostingBench.schedule(d, count: posts - warmup, firstDue: SteadyClock.wallMillis(), spacingMillis: 0, tag: "leak")
        guard waitPosted(d, posts, timeoutMillis: 1_800_000) else { die("leaks: not every post was posted") }
        // The simulator agrees: every text once.
        let texts = sim.posts().map(\.text)
        guard texts.count == posts, Set(texts).count == posts else { die("leaks: the simulator has \(texts.count) posts, \(Set(texts).count) distinct, for \(posts)") }
        let after = settled(d)
        var grew: [String] = []
        for w in after.workers {
            guard let b = before.workers.first(where: { $0.role == w.role }), b.pid == w.pid,
                  let fb = b.open_fds, let fa = w.open_fds, let rb = b.rss_bytes, let ra = w.rss_bytes else {
                out("| \(w.role.rawValue) | restarted or no figures: not judged |")
                continue
            }
            let rssGrowth = Double(ra) / Double(rb) - 1
            out("| \(w.role.rawValue) | fds \(fb) → \(fa) | RSS \(mb(rb)) → \(mb(ra)) (\(fmt(rssGrowth * 100, 1)) %) |")
            if fa > fb + 2 || rssGrowth * 100 > rssPercent { grew.append(w.role.rawValue) }
        }
        out("leaks posts=\(posts) grew=\(grew.isEmpty ? "none" : grew.joined(separator: ","))")
        if !grew.isEmpty { exit(1) }
    }

    /// Waits until the store holds `count` posted posts (read from the store file: listing
    /// thousands of posts from the simulator each time would cost more than the daemon).
    static func waitPosted(_ d: BenchDaemon, _ count: Int, timeoutMillis: Int64) -> Bool {
        let deadline = SteadyClock.monotonicMillis() + timeoutMillis
        while SteadyClock.monotonicMillis() < deadline {
            if let store = try? Stores.open(path: d.dir + "/state/steadypost.db"), let c = try? store.counts(), (c[.posted] ?? 0) >= count {
                return true
            }
            var ts = timespec(tv_sec: 0, tv_nsec: 250_000_000)
            nanosleep(&ts, nil)
        }
        return false
    }

    /// The status once in-flight work has drained and a fresh heartbeat has arrived.
    static func settled(_ d: BenchDaemon) -> StatusReport {
        let deadline = SteadyClock.monotonicMillis() + 30_000
        var last: StatusReport?
        while SteadyClock.monotonicMillis() < deadline {
            if let r = try? d.client.status() {
                last = r
                let posting = r.workers.first { $0.role == .posting }
                if (posting?.in_flight ?? 1) == 0 && (posting?.heartbeat_age_ms ?? Int64.max) < 500 && noJobMidRun(r) { return r }
            }
            var ts = timespec(tv_sec: 0, tv_nsec: 100_000_000)
            nanosleep(&ts, nil)
        }
        guard let last else { die("leaks: no status") }
        return last
    }

    /// No periodic job is running or due: a pass that first loads libcurl and opens its
    /// connections (the reconciler's first, at start) would otherwise fall between the two
    /// snapshots and look like growth. Every job that runs at start has run by then.
    static func noJobMidRun(_ r: StatusReport) -> Bool {
        let now = SteadyClock.wallMillis()
        for w in r.workers {
            guard let c = w.counters else { continue }
            for (name, next) in c where name.hasPrefix("job.") && name.hasSuffix(".next_run_ms") {
                let job = name.dropLast(".next_run_ms".count)
                if c[job + ".running"] == 1 || next <= now { return false }
            }
        }
        return true
    }

    static func mb(_ bytes: UInt64) -> String { fmt(Double(bytes) / 1_048_576, 1) + " MB" }
}
