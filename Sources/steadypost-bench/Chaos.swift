import FoundationEssentials
import Glibc
import SteadyControl
import SteadyCore
import SteadyProtocol
import SteadyStore
import SteadySystem

/// The chaos run (issue 8): the simulator and the daemon with 3 platforms × 2 accounts, N posts
/// due over a few minutes, platform faults on, random workers SIGKILLed about every second and
/// the supervisor every ~30 s (started again at once), then quiescence and an audit of the
/// simulator's ground truth against the store. Threads (issue 16) of 2–5 parts are due among
/// the single posts; the audit also checks each chain. One summary line; exit 1 on any
/// non-zero count.
struct ChaosOptions {
    var posts = 5000
    var seed: UInt64 = 1
    /// Posts are due evenly over this span from the start.
    var spreadMillis: Int64 = 180_000
    /// A worker SIGKILL about this often (0: none).
    var workerKillMillis: Int64 = 1000
    /// A supervisor SIGKILL about this often (0: none).
    var supervisorKillMillis: Int64 = 30_000
    /// Stop killing after this many kills in all (0: until every post is due).
    var maxKills = 0
    /// After the last due time: how long quiescence may take before posts count as stuck.
    var settleMillis: Int64 = 240_000
    /// The quota's hour, shortened so the quotas bind during the run.
    var quotaWindowMillis: Int64 = 20_000
    var quotaPerWindow = 60
    /// Every this-many-th post carries one or two small images (0: none).
    var mediaShare = 10
    /// Threads of 2–5 parts (one account each, round-robin), due evenly over the spread among
    /// the single posts; every other one waits `threadGapMillis` between parts. 0: none.
    var threads = 50
    var threadGapMillis: Int64 = 500
    var keep = false

    static func parse(_ args: ArraySlice<String>) -> ChaosOptions {
        var o = ChaosOptions()
        var it = args.makeIterator()
        while let a = it.next() {
            func value() -> String {
                guard let v = it.next() else { die("chaos: \(a) needs a value") }
                return v
            }
            func int(_ v: String) -> Int64 {
                guard let n = Int64(v), n >= 0 else { die("chaos: \(a) \(v): expected a whole number ≥ 0") }
                return n
            }
            switch a {
            case "--posts": o.posts = Int(int(value()))
            case "--seed": o.seed = UInt64(int(value()))
            case "--spread-ms": o.spreadMillis = int(value())
            case "--kill-every-ms": o.workerKillMillis = int(value())
            case "--supervisor-kill-every-ms": o.supervisorKillMillis = int(value())
            case "--max-kills": o.maxKills = Int(int(value()))
            case "--settle-ms": o.settleMillis = int(value())
            case "--quota": o.quotaPerWindow = Int(int(value()))
            case "--quota-window-ms": o.quotaWindowMillis = int(value())
            case "--media-share": o.mediaShare = Int(int(value()))
            case "--threads": o.threads = Int(int(value()))
            case "--thread-gap-ms": o.threadGapMillis = int(value())
            case "--keep": o.keep = true
            default: die("chaos: unknown option \(a); see `steadypost-bench help`")
            }
        }
        guard o.posts > 0 else { die("chaos: --posts must be at least 1") }
        guard o.quotaPerWindow > 0, o.quotaWindowMillis >= 2000 else { die("chaos: --quota ≥ 1 and --quota-window-ms ≥ 2000") }
        return o
    }
}

enum Chaos {
    static let accounts: [(platform: String, name: String)] = [
        ("x", "chaos-x-1"), ("x", "chaos-x-2"), ("mastodon", "chaos-m-1"),
        ("mastodon", "chaos-m-2"), ("bluesky", "chaos-b-1"), ("bluesky", "chaos-b-2"),
    ]

    /// The daemon's own fault (`STEADYPOST_FAULTS`): the outcome write after a 2xx create fails.
    static let storeFault = "outcome-write-fails:0.05"

    /// The platform faults of the run, in the order the simulator tries them.
    static let faults: [String] = [
        #"{"kind":"lose-response","endpoint":"create","probability":0.10}"#,
        #"{"kind":"rate-limit","endpoint":"create","probability":0.05,"retry_after_s":2}"#,
        #"{"kind":"token-expired","probability":0.02}"#,
        #"{"kind":"error-before","endpoint":"create","status":503,"probability":0.03}"#,
        #"{"kind":"slow-timeline","delay_ms":200,"probability":0.5}"#,
    ]

    static func run(_ o: ChaosOptions) {
        let started = SteadyClock.monotonicMillis()
        var rng = SplitMix64(seed: o.seed)
        // The kills are far beyond any restart intensity an operator would set: the run tests
        // exactly-once under fire, not parking (F28 has its own test).
        var toml = ""
        for role in Role.allCases {
            toml += "[workers.\(role.rawValue)]\nrestart_intensity = 10000\nrestart_max_delay = \"1s\"\n"
            toml += role == .posting ? "concurrency = 6\n\n" : "\n"
        }
        for a in accounts {
            toml += "[[accounts]]\nname = \"\(a.name)\"\nplatform = \"\(a.platform)\"\nbase_url = \"BASE\"\ncredentials = \"\(a.name).json\"\n"
            toml += "quota = { hourly = \(o.quotaPerWindow), daily = 1000000 }\n\n"
        }
        let prepared = BenchDaemonPlaceholder.prepare(toml: toml)
        let sim = BenchSim(accounts: accounts.map { "\($0.platform):\($0.name)" }, credentialsDir: prepared.dir + "/credentials",
                           extraArguments: ["--seed", String(o.seed), "--rate-limit-scale", "1000"])
        let config = (Files.read(prepared.config) ?? "").replacingAll("BASE", sim.base)
        try? Files.writeAtomically(prepared.config, config)
        // An attempt's lease bounds how long a killed worker's post waits before verification.
        // The store write after a 2xx fails 5 % of the time (the outcome goes to the journal).
        // Test hooks: the daemon must be a build that has them (scripts/chaos.sh builds debug).
        let environment = ["\(TestHooks.Variable.postingLeaseMillis.rawValue)=12000",
                           "\(TestHooks.Variable.postingQuotaHourMillis.rawValue)=\(o.quotaWindowMillis)",
                           "\(TestHooks.Variable.faults.rawValue)=\(storeFault)"]
        var daemon = BenchDaemon(workerToml: "", reuse: prepared.asReuse(), environment: environment)
        _ = daemon.waitAllRunning()
        for rule in faults where sim.admin(.post, "/_sim/faults", json: rule) == nil {
            die("chaos: the simulator refused the fault rule \(rule)")
        }

        // Schedule: due evenly over the spread, round-robin over the accounts; every
        // `mediaShare`-th post with its own images, put into the media store first.
        let posts = (0..<o.posts).map { i in (account: accounts[i % accounts.count].name, text: "chaos \(o.seed)-\(i) \(word(&rng)) \(word(&rng))") }
        var media: [String: [ChaosMedia.Image]] = [:]
        if o.mediaShare > 0 {
            for (i, post) in posts.enumerated() where i % o.mediaShare == o.mediaShare - 1 {
                media[post.text] = ChaosMedia.images(post: i, count: 1 + (i / o.mediaShare) % 2, seed: o.seed)
            }
            ChaosMedia.put(media.values.flatMap { $0 }, dir: prepared.dir + "/media-source", socket: daemon.socket)
        }
        let firstDue = SteadyClock.wallMillis() + 2000
        var texts: [String: Int64] = [:]
        var items: [(due: Int64, json: String)] = []
        for (i, post) in posts.enumerated() {
            let due = firstDue + (o.posts > 1 ? o.spreadMillis * Int64(i) / Int64(o.posts - 1) : 0)
            texts[post.text] = due
            let attached = media[post.text].map { ",\"media\":" + ChaosMedia.reference($0) } ?? ""
            items.append((due, "{\"account\":\"\(post.account)\",\"text\":\"\(post.text)\",\"at\":\(due)\(attached)}"))
        }
        // Threads: part 1 due among the single posts (offset half a step, so they interleave),
        // each part's text unique like every post's; the batch keeps due order.
        var threads: [[String]] = []
        for j in 0..<o.threads {
            let account = accounts[j % accounts.count].name
            let parts = (1...(2 + Int(rng.next() % 4))).map { k in "chaos \(o.seed)-t\(j).\(k) \(word(&rng)) \(word(&rng))" }
            let due = firstDue + o.spreadMillis * (2 * Int64(j) + 1) / (2 * Int64(o.threads))
            for text in parts { texts[text] = due }
            threads.append(parts)
            let gap = j % 2 == 1 ? ",\"gap\":\(o.threadGapMillis)" : ""
            let json = parts.map { "{\"text\":\"\($0)\"}" }.joined(separator: ",")
            items.append((due, "{\"account\":\"\(account)\",\"thread\":[\(json)],\"at\":\(due)\(gap)}"))
        }
        items.sort { $0.due < $1.due }
        PostingBench.create(daemon, items: items.map(\.json), chunk: 200, what: "chaos: posting.create")
        let lastDue = firstDue + o.spreadMillis
        let storePath = prepared.dir + "/state/steadypost.db"

        // Kill while posts fall due.
        var workerKills = 0
        var supervisorKills = 0
        var nextWorkerKill = SteadyClock.monotonicMillis() + jittered(o.workerKillMillis, &rng)
        var nextSupervisorKill = SteadyClock.monotonicMillis() + jittered(o.supervisorKillMillis, &rng)
        func killsLeft() -> Bool { o.maxKills == 0 || workerKills + supervisorKills < o.maxKills }
        while SteadyClock.wallMillis() < lastDue && killsLeft() && (o.workerKillMillis > 0 || o.supervisorKillMillis > 0) {
            let now = SteadyClock.monotonicMillis()
            if o.supervisorKillMillis > 0 && now >= nextSupervisorKill {
                daemon.kill()
                supervisorKills += 1
                daemon = BenchDaemon(workerToml: "", reuse: prepared.asReuse(), environment: environment)
                _ = daemon.waitAllRunning()
                nextSupervisorKill = SteadyClock.monotonicMillis() + jittered(o.supervisorKillMillis, &rng)
            } else if o.workerKillMillis > 0 && now >= nextWorkerKill {
                if let report = try? daemon.client.status() {
                    // The posting worker is the one that matters: it gets half the kills.
                    let running = report.workers.filter { $0.state == "running" && $0.pid != nil }
                    let posting = running.first { $0.role == .posting }
                    let pick = (rng.next() % 2 == 0 ? posting : nil) ?? running.randomElement(using: &rng)
                    if let pid = pick?.pid, kill(pid, SIGKILL) == 0 { workerKills += 1 }
                }
                nextWorkerKill = now + jittered(o.workerKillMillis, &rng)
            }
            pause(millis: 50)
        }

        // Quiescence: every post in a final state, or the settle time is up.
        let settleDeadline = max(SteadyClock.wallMillis(), lastDue) + o.settleMillis
        var counts: [PostState: Int] = [:]
        while SteadyClock.wallMillis() < settleDeadline {
            if let store = try? Stores.open(path: storePath), let c = try? store.counts() {
                counts = c
                if PostState.allCases.filter({ !$0.isTerminal }).allSatisfy({ (c[$0] ?? 0) == 0 }) { break }
            }
            pause(millis: 500)
        }

        // One reconcile pass over every account, faults off (as after an outage), before the
        // audit: it must find nothing to fix that the audit would not also see.
        let storeFaults = (Files.read(prepared.dir + "/state/faults.fired") ?? "").split(separator: "\n").filter { $0.hasPrefix(storeFault + " ") }.count
        let fired = firedFaults(sim) + " \(storeFault)=\(storeFaults)"
        sim.admin(.delete, "/_sim/faults")
        let reconcile: String
        do {
            let answer = try ControlClient(socketPath: daemon.socket, timeoutMillis: 300_000)
                .call(method: "reconciler.run", body: Array("{}".utf8))
            reconcile = String(decoding: answer, as: UTF8.self)
        } catch { reconcile = "failed: \(error)" }
        let audit = ChaosAudit(texts: texts, media: media.mapValues { $0.map(\.sha256) }, threads: threads, sim: sim, storePath: storePath,
                               accounts: accounts.map(\.name), quotaWindowMillis: o.quotaWindowMillis, quotaPerWindow: o.quotaPerWindow)
        var secretsLeaked: [String] = []
        var secretsChecked = 0
        if let store = try? Stores.open(path: storePath) {
            let secrets = ChaosSecrets.collect(credentialsDir: prepared.dir + "/credentials", store: store, accounts: accounts.map(\.name))
            if secrets.isEmpty { die("chaos: found no credentials to look for") }
            secretsChecked = secrets.count
            secretsLeaked = ChaosSecrets.leaks(secrets, logPath: prepared.dir + "/daemon.log", client: daemon.client, store: store)
        }
        let elapsed = (SteadyClock.monotonicMillis() - started) / 1000
        out("chaos seed=\(o.seed) posts=\(o.posts) threads=\(threads.count) thread_parts=\(audit.threadParts) posted=\(audit.posted) failed=\(audit.failed) duplicates=\(audit.duplicates) lost=\(audit.lost) stuck=\(audit.stuck) mismatches=\(audit.mismatches) chain_errors=\(audit.chainErrors) threads_live=\(audit.threadsLive) media_posts=\(media.count) media_mismatches=\(audit.mediaMismatches) quota_overruns=\(audit.quotaOverruns) secrets_leaked=\(secretsLeaked.count) worker_kills=\(workerKills) supervisor_kills=\(supervisorKills) elapsed=\(elapsed)s")
        out("  faults fired: " + fired)
        out("  reconcile: " + String(reconcile.prefix(300)) + (reconcile.count > 300 ? "…" : ""))
        out("  secrets looked for: \(secretsChecked) (credential files and rotated tokens) in logs, status, job listings, errors")
        for line in (secretsLeaked + audit.details).prefix(20) { out("  " + line) }
        if o.keep { out("  kept: \(prepared.dir) (simulator stopped)") }
        if o.keep { activeDaemon = nil; daemon.kill() } else { daemon.stop() }
        sim.stop()
        _ = counts
        exit(audit.clean && secretsLeaked.isEmpty ? 0 : 1)
    }

    /// "kind=N ..." from the simulator's fault rules.
    static func firedFaults(_ sim: BenchSim) -> String {
        struct Rules: Decodable {
            struct Rule: Decodable { var kind: String; var fired: Int? }
            var faults: [Rule]
        }
        guard let body = sim.admin(.get, "/_sim/faults"), let rules = try? JSONDecoder().decode(Rules.self, from: Data(body)) else {
            return "unknown (the simulator did not say)"
        }
        return rules.faults.map { "\($0.kind)=\($0.fired ?? 0)" }.joined(separator: " ")
    }

    static func jittered(_ base: Int64, _ rng: inout SplitMix64) -> Int64 {
        base <= 0 ? Int64.max / 4 : base / 2 + Int64(rng.next() % UInt64(base))
    }

    static let words = ["river", "lantern", "copper", "meadow", "signal", "harbor", "ember", "quartz", "willow", "orbit", "cinder", "tundra"]
    static func word(_ rng: inout SplitMix64) -> String { words[Int(rng.next() % UInt64(words.count))] }

    static func pause(millis: Int) {
        var ts = timespec(tv_sec: millis / 1000, tv_nsec: (millis % 1000) * 1_000_000)
        nanosleep(&ts, nil)
    }
}
