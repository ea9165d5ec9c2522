import FoundationEssentials
import Glibc
import SteadyCore
import SteadySystem

/// Thread latency (issue 16): part N posted → part N+1's create at the simulator, over
/// `threads` threads of `parts` parts, with P2 (due → create) measured beside it in the same
/// run from `singles` single posts due 20 ms apart, on P2's setup (the daemon, four Bluesky
/// accounts, concurrency 4, a zero-latency simulator).
///
/// Both ends come from the simulator: part N+1's create arrival is its ground-truth
/// `created_at_ms`; part N's answer is its create's arrival plus the time the simulator took
/// to answer it (`/_sim/requests`: `at_ms` + `duration_ms`, matched to the post by its
/// record key; the log is read every 250 ms, as it keeps only the last 2,000 requests).
/// Where the log no longer has part N's create, arrival → arrival is used and counted.
enum ThreadBench {
    typealias SimPost = ChaosAudit.SimPosts.Item
    struct SimRequests: Decodable {
        struct Request: Decodable { var at_ms: Int64; var duration_ms: Int64; var method: String; var path: String; var account: String?; var rkey: String?; var responded: Bool }
        var requests: [Request]
    }

    static func run(threads: Int, parts: Int, singles: Int) {
        guard threads > 0, parts >= 2, singles >= 0 else { die("threads: expected THREADS ≥ 1, PARTS ≥ 2, SINGLES ≥ 0") }
        // Beyond an hour's Bluesky writes for four accounts at the largest sizes: scaled up.
        let (sim, d) = PostingBench.setUp(rateLimitScale: 10)
        defer { d.stop(); sim.stop() }
        let first = SteadyClock.wallMillis() + 2000
        // Single posts due 20 ms apart (P2's pace); thread j's part 1 due among them, spread
        // over the same span.
        let span = max(Int64(singles) * 20, Int64(threads) * 100)
        var due: [String: Int64] = [:]
        var items: [(due: Int64, json: String)] = []
        for i in 0..<singles {
            let text = "p2 \(i)"
            let at = first + Int64(i) * 20
            due[text] = at
            items.append((at, "{\"account\":\"\(PostingBench.accounts[i % PostingBench.accounts.count])\",\"text\":\"\(text)\",\"at\":\(at)}"))
        }
        var chains: [[String]] = []
        for j in 0..<threads {
            let texts = (1...parts).map { "thread \(j) part \($0)" }
            let at = first + span * Int64(j) / Int64(threads) + 10
            chains.append(texts)
            let json = texts.map { "{\"text\":\"\($0)\"}" }.joined(separator: ",")
            items.append((at, "{\"account\":\"\(PostingBench.accounts[j % PostingBench.accounts.count])\",\"thread\":[\(json)],\"at\":\(at)}"))
        }
        items.sort { $0.due < $1.due }
        PostingBench.create(d, items: items.map(\.json), chunk: 200, what: "threads: posting.create")

        // Until every single post and part is live (or 3 minutes): the request log's newest
        // 500 every 250 ms (more than arrive in that time); the ground truth, much larger, only
        // once the log has had a create for each, so reading it disturbs the run little.
        let wanted = Set(due.keys).union(chains.flatMap { $0 })
        var creates: [String: SimRequests.Request] = [:]
        var truth: [SimPost] = []
        let deadline = SteadyClock.monotonicMillis() + 180_000
        var nextTruth = Int64.max
        while SteadyClock.monotonicMillis() < deadline {
            if let body = sim.admin(.get, "/_sim/requests?limit=500"), let log = try? JSONDecoder().decode(SimRequests.self, from: Data(body)) {
                for r in log.requests where r.method == "POST" && r.path.hasSuffix("createRecord") {
                    if let rkey = r.rkey, let account = r.account { creates[account + " " + rkey] = r }
                }
            }
            if creates.count >= wanted.count && nextTruth == Int64.max { nextTruth = SteadyClock.monotonicMillis() }
            if SteadyClock.monotonicMillis() >= nextTruth {
                if let body = sim.admin(.get, "/_sim/posts"), let posts = try? JSONDecoder().decode(ChaosAudit.SimPosts.self, from: Data(body)) {
                    truth = posts.posts
                    if Set(truth.map(\.text)).isSuperset(of: wanted) { break }
                }
                nextTruth = SteadyClock.monotonicMillis() + 2000
            }
            Chaos.pause(millis: 250)
        }
        if truth.isEmpty, let body = sim.admin(.get, "/_sim/posts"), let posts = try? JSONDecoder().decode(ChaosAudit.SimPosts.self, from: Data(body)) {
            truth = posts.posts
        }

        var byText: [String: [SimPost]] = [:]
        for p in truth { byText[p.text, default: []].append(p) }
        var latencies: [Double] = []
        var arrivalOnly = 0
        var chainErrors = 0
        var whole = 0
        for chain in chains {
            var intact = true
            for k in 1..<chain.count {
                guard let parent = byText[chain[k - 1]]?.first, let part = byText[chain[k]]?.first,
                      byText[chain[k - 1]]?.count == 1, byText[chain[k]]?.count == 1, part.in_reply_to == parent.id else {
                    intact = false
                    continue
                }
                var answered = parent.created_at_ms
                if let rkey = parent.rkey, let r = creates[parent.account + " " + rkey], r.responded {
                    answered = r.at_ms + r.duration_ms
                } else {
                    arrivalOnly += 1
                }
                latencies.append(Double(part.created_at_ms - answered))
            }
            if intact && chain.allSatisfy({ byText[$0]?.count == 1 }) { whole += 1 } else { chainErrors += 1 }
        }
        let lat = Sample(latencies)
        let p2 = Sample(due.compactMap { text, at in byText[text]?.first.map { Double($0.created_at_ms - at) } })
        let early = due.filter { text, at in (byText[text]?.first?.created_at_ms ?? at) < at }.count
        let fallback = arrivalOnly == 0 ? "" : "; \(arrivalOnly) measured arrival → arrival (part N's create no longer in the request log)"
        out("| Threads: part N answered → part N+1's create at the simulator (\(latencies.count) links, \(whole)/\(threads) threads of \(parts) live whole and chained\(fallback)) | \(fmt(lat.p(0.5), 1)) ms | \(fmt(lat.p(0.99), 1)) ms | \(fmt(lat.max, 1)) ms | goal p99 ≤ 50 ms |")
        out("| P2 in the same run: due → create at the simulator (\(p2.count)/\(singles) single posts, \(early) before their due time) | \(fmt(p2.p(0.5), 1)) ms | \(fmt(p2.p(0.99), 1)) ms | \(fmt(p2.max, 1)) ms | goal p99 ≤ 50 ms |")
        if chainErrors > 0 { out("| threads not live whole or not chained | \(chainErrors) | | | must be 0 |") }
    }
}
