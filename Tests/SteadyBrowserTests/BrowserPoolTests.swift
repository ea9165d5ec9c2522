import Glibc
import SteadyCore
import SteadyJSON
import SteadySystem
import SteadyTestSupport
import SteadyWorker
import Testing

@testable import SteadyBrowser

/// Real Chromium, driven in-process through the pool (the worker loop's part is played by
/// `drive`). Serialized: each test owns at most a couple of ~400 MiB browsers on 2 cores.
/// Every suite that runs real Chromium nests here, so they run one at a time (2 cores,
/// ~300-400 MiB per browser; the deadline checks below allow 300 ms).
@Suite(.serialized) struct RealChromiumTests {}

extension RealChromiumTests {
@Suite(.enabled(if: chromiumInstalled, "needs /usr/bin/chromium (apt-get install -y chromium)"))
struct BrowserPoolTests {
    static let metrics: [String: String] = [
        "title": "document.title",
        "likes": "Number(document.querySelector('[data-metric=likes]').textContent)",
        "items": "[...document.querySelectorAll('li')].map(e => e.textContent)",
        "later": "new Promise(r => setTimeout(() => r({ok: true}), 10))",
    ]

    /// Every browser the pool ever ran, with every process seen in its group.
    final class Tracker {
        var groups: [Int32: Set<Int32>] = [:]
        func note(_ pool: BrowserPool) {
            for b in pool.browsers {
                groups[b.pid, default: []].formUnion(ProcessGroup.members(b.pid))
                groups[b.pid]!.formUnion(ProcessGroup.strays(of: b.pid, mentioning: b.profileDir))
                groups[b.pid]!.insert(b.pid)
            }
        }
        func allGone() -> Bool { groups.allSatisfy { groupGone($0.key, pids: Array($0.value)) } }
    }

    @Test(.timeLimit(.minutes(2))) func scrapeReturnsValuesFromTheDOM() throws {
        let tmp = TempDir("steadypost-browser")
        defer { tmp.remove() }
        let dir = tmp.path
        let server = try PageServer()
        defer { server.stop() }
        let pool = try BrowserPool(settings: testSettings(dir: dir), logger: quietLogger)
        let tracker = Tracker()
        defer { pool.shutdown(); #expect(tracker.allGone()) }
        let answers = Answers()
        var latencies: [Int64] = []
        for i in 0..<4 {
            let start = SteadyClock.monotonicMillis()
            pool.lease(.scrape(ScrapeRequest(url: server.base + "/page/abcd\(i)", extract: Self.metrics)),
                       deadline: start + 20_000, completion: answers.completion(i))
            try drive(pool, timeoutMs: 25_000) { answers.results[i] != nil }
            tracker.note(pool)
            latencies.append(answers.at(i)! - start)
            let v = try #require(answers.value(i), "\(String(describing: answers.error(i)))")
            #expect(v["values"]?["title"]?.string == "Page abcd\(i)")
            #expect(v["values"]?["likes"]?.int == 15)
            #expect(v["values"]?["items"] == .array([JSON("a"), JSON("b"), JSON("c")]))
            #expect(v["values"]?["later"] == .obj([("ok", .bool(true))]))
        }
        // A failing expression and a failing navigation are errors, not hangs.
        pool.lease(.scrape(ScrapeRequest(url: server.base + "/page/x", extract: ["bad": "document.nothing.here"])),
                   deadline: SteadyClock.monotonicMillis() + 10_000, completion: answers.completion(10))
        pool.lease(.scrape(ScrapeRequest(url: "http://127.0.0.1:1/refused", extract: ["t": "1"])),
                   deadline: SteadyClock.monotonicMillis() + 10_000, completion: answers.completion(11))
        try drive(pool, timeoutMs: 15_000) { answers.results.count == 6 }
        #expect(answers.error(10)?.code == LeaseError.extractFailed)
        #expect(answers.error(11)?.code == LeaseError.navigationFailed)
        // Memory of the one browser, measured over its process group.
        try drive(pool, timeoutMs: 5_000) { pool.browsers.first?.state == .idle }
        let b = try #require(pool.browsers.first)
        b.measure()
        print("P8 scrape latency ms (first includes browser start): \(latencies); browser PSS \(b.pssBytes >> 20) MiB, summed RSS \(b.rssBytes >> 20) MiB over \(b.processCount) processes")
        #expect(b.pssBytes > 50 << 20)
        #expect(pool.stats.launched == 1)
        let status = pool.statusJSON()
        #expect(status["browsers"]?.int == 1)
        #expect(status["completed"]?.int == 4)
        #expect(pool.counters["browser1_pss_bytes"] == Int64(b.pssBytes))
        #expect(pool.stats.recycles == 0)
    }

    /// A browser killed while a command is pending: the command (and its lease) fail at once,
    /// the group is reaped, and the next lease gets a new browser.
    @Test(.timeLimit(.minutes(2))) func aBrowserKilledMidCommandFailsAtOnceAndIsReplaced() throws {
        let tmp = TempDir("steadypost-browser")
        defer { tmp.remove() }
        let dir = tmp.path
        let server = try PageServer()
        defer { server.stop() }
        let pool = try BrowserPool(settings: testSettings(dir: dir), logger: quietLogger)
        let tracker = Tracker()
        defer { pool.shutdown(); #expect(tracker.allGone()) }
        let answers = Answers()
        // /hang never answers: Page.navigate stays pending.
        pool.lease(.scrape(ScrapeRequest(url: server.base + "/hang", extract: ["t": "1"])),
                   deadline: SteadyClock.monotonicMillis() + 30_000, completion: answers.completion(0))
        try drive(pool, timeoutMs: 20_000) { (try? server.hits("/hang")) ?? 0 >= 1 }
        tracker.note(pool)
        let b = try #require(pool.browsers.first)
        #expect(b.connection.pendingCount >= 1)
        let victim = b.pid
        let killedAt = SteadyClock.monotonicMillis()
        kill(victim, SIGKILL)
        try drive(pool, timeoutMs: 5_000) { answers.results[0] != nil }
        #expect(answers.error(0)?.code == LeaseError.browserCrashed)
        #expect(answers.at(0)! - killedAt < 1000, "the pending command failed at once, not at the deadline")
        #expect(b.connection.pendingCount == 0)
        try drive(pool, timeoutMs: 5_000) { pool.reapingCount == 0 }
        #expect(groupGone(victim, pids: Array(tracker.groups[victim]!)))
        #expect(pool.stats.recyclesByReason["crash"] == 1)
        pool.lease(.scrape(ScrapeRequest(url: server.base + "/page/after", extract: ["t": "document.title"])),
                   deadline: SteadyClock.monotonicMillis() + 20_000, completion: answers.completion(1))
        try drive(pool, timeoutMs: 25_000) { answers.results[1] != nil }
        tracker.note(pool)
        #expect(answers.value(1)?["values"]?["t"]?.string == "Page after")
        #expect(pool.browsers.first?.pid != victim)
    }

    /// F15: flood the pool past its queue. Refusals are immediate; a leased page that never
    /// finishes loading is reclaimed at its deadline and the queue moves on; a killed browser
    /// is replaced; no Chromium process is left after shutdown.
    @Test(.timeLimit(.minutes(3))) func f15FloodRefusesAtOnceAndReclaimsAtTheDeadline() throws {
        let tmp = TempDir("steadypost-browser")
        defer { tmp.remove() }
        let dir = tmp.path
        let server = try PageServer()
        defer { server.stop() }
        let pool = try BrowserPool(settings: testSettings(dir: dir, browsers: 1, queue: 2), logger: quietLogger)
        let tracker = Tracker()
        let answers = Answers()
        // Warm the browser so the timings below are the pool's, not Chromium's start.
        pool.lease(.scrape(ScrapeRequest(url: server.base + "/page/warm", extract: ["t": "document.title"])),
                   deadline: SteadyClock.monotonicMillis() + 20_000, completion: answers.completion(0))
        try drive(pool, timeoutMs: 25_000) { answers.results[0] != nil }
        #expect(answers.value(0) != nil)
        try drive(pool, timeoutMs: 5_000) { pool.browsers.first?.state == .idle }
        tracker.note(pool)

        // 1 leased (a page whose load never finishes), 2 queued, then 20 more: all refused at once.
        let t0 = SteadyClock.monotonicMillis()
        let hangDeadline = t0 + 3000
        pool.lease(.scrape(ScrapeRequest(url: server.base + "/hangimg", extract: ["t": "1"])), deadline: hangDeadline, completion: answers.completion(1))
        pool.lease(.scrape(ScrapeRequest(url: server.base + "/page/q1", extract: ["t": "document.title"])), deadline: t0 + 30_000, completion: answers.completion(2))
        pool.lease(.scrape(ScrapeRequest(url: server.base + "/page/q2", extract: ["t": "document.title"])), deadline: t0 + 30_000, completion: answers.completion(3))
        for i in 4..<24 {
            let before = SteadyClock.monotonicMillis()
            pool.lease(.scrape(ScrapeRequest(url: server.base + "/page/flood\(i)", extract: ["t": "1"])), deadline: t0 + 30_000, completion: answers.completion(i))
            #expect(answers.error(i)?.code == LeaseError.busy, "refused inside the call")
            #expect(answers.at(i)! - before < 20)
        }
        #expect(pool.stats.refusals == 20)
        #expect(pool.queueDepth == 2)
        // The hanging lease is answered at its deadline (not before, not much after).
        try drive(pool, timeoutMs: 10_000) { answers.results[1] != nil }
        #expect(answers.error(1)?.code == LeaseError.timeout)
        #expect(answers.at(1)! >= hangDeadline)
        #expect(answers.at(1)! - hangDeadline < 300, "answered \(answers.at(1)! - hangDeadline) ms after its deadline")
        // Its tab was closed and the queue moved on, on the same browser.
        try drive(pool, timeoutMs: 20_000) { answers.results[2] != nil && answers.results[3] != nil }
        #expect(answers.value(2)?["values"]?["t"]?.string == "Page q1")
        #expect(answers.value(3)?["values"]?["t"]?.string == "Page q2")
        #expect(pool.stats.recycles == 0)
        tracker.note(pool)

        // A killed browser is replaced. Its crashpad handlers (outside its group) exit by
        // themselves when it dies; the pool hears of the death only when driven, so they are
        // left to become zombies first (empty command lines): the pool must still reap them.
        let victimBrowser = try #require(pool.browsers.first)
        let victim = victimBrowser.pid
        let handlers = ProcessGroup.strays(of: victim, mentioning: victimBrowser.profileDir)
        kill(victim, SIGKILL)
        _ = try waitFor("the victim's crashpad handlers to exit", timeoutMillis: 10_000) {
            handlers.allSatisfy { !isAlive($0) } ? true : nil
        }
        try drive(pool, timeoutMs: 5_000) { pool.stats.crashes == 1 && pool.reapingCount == 0 }
        pool.lease(.scrape(ScrapeRequest(url: server.base + "/page/new", extract: ["t": "document.title"])),
                   deadline: SteadyClock.monotonicMillis() + 20_000, completion: answers.completion(30))
        try drive(pool, timeoutMs: 25_000) { answers.results[30] != nil }
        #expect(answers.value(30)?["values"]?["t"]?.string == "Page new")
        tracker.note(pool)
        #expect(tracker.groups.count == 2)

        // No Chromium process survives the pool.
        pool.shutdown()
        #expect(pool.reapingCount == 0)
        #expect(tracker.allGone(), "\(tracker.groups.mapValues { $0.filter { kill($0, 0) == 0 } })")
        #expect(Files.list(dir + "/profiles")?.isEmpty == true, "profiles removed")
    }

    /// F19: overlapping scrapes of the same URL and extract run once; the second joins the first.
    @Test(.timeLimit(.minutes(2))) func f19OverlappingScrapesRunOnce() throws {
        let tmp = TempDir("steadypost-browser")
        defer { tmp.remove() }
        let dir = tmp.path
        let server = try PageServer()
        defer { server.stop() }
        let pool = try BrowserPool(settings: testSettings(dir: dir, browsers: 2), logger: quietLogger)
        let tracker = Tracker()
        defer { pool.shutdown(); #expect(tracker.allGone()) }
        let answers = Answers()
        let now = SteadyClock.monotonicMillis()
        let item = ScrapeRequest(url: server.base + "/page/item42", extract: Self.metrics)
        pool.lease(.scrape(item), deadline: now + 20_000, completion: answers.completion(1))
        pool.lease(.scrape(item), deadline: now + 20_000, completion: answers.completion(2))
        // The same URL with another extract is another scrape.
        pool.lease(.scrape(ScrapeRequest(url: item.url, extract: ["t": "document.title"])), deadline: now + 20_000, completion: answers.completion(3))
        try drive(pool, timeoutMs: 25_000) { answers.results.count == 3 }
        tracker.note(pool)
        #expect(answers.value(1) != nil)
        #expect(answers.value(1) == answers.value(2))
        #expect(pool.stats.joined == 1)
        #expect(pool.stats.leases == 2)
        #expect(try server.hits("/page/item42") == 2, "one load for the shared scrape, one for the other extract")
        // After it finished, a new trigger runs again (single-flight, not a cache).
        pool.lease(.scrape(item), deadline: SteadyClock.monotonicMillis() + 20_000, completion: answers.completion(4))
        try drive(pool, timeoutMs: 25_000) { answers.results[4] != nil }
        #expect(try server.hits("/page/item42") == 3)
    }

    /// Recycling after M leases and past the memory bound, with its cost measured.
    @Test(.timeLimit(.minutes(3))) func recyclesAfterMLeasesAndPastTheMemoryBound() throws {
        let tmp = TempDir("steadypost-browser")
        defer { tmp.remove() }
        let dir = tmp.path
        let server = try PageServer()
        defer { server.stop() }
        var settings = testSettings(dir: dir)
        settings.leasesPerBrowser = 2
        let pool = try BrowserPool(settings: settings, logger: quietLogger)
        let tracker = Tracker()
        defer { pool.shutdown(); #expect(tracker.allGone()) }
        let answers = Answers()
        var recycleCost: Int64 = 0
        for i in 0..<3 {
            pool.lease(.scrape(ScrapeRequest(url: server.base + "/page/m\(i)", extract: ["t": "document.title"])),
                       deadline: SteadyClock.monotonicMillis() + 20_000, completion: answers.completion(i))
            try drive(pool, timeoutMs: 25_000) { answers.results[i] != nil }
            tracker.note(pool)
            #expect(answers.value(i) != nil)
            if i == 1 {
                // The second lease's release recycled the browser: time the kill and reap.
                let t = SteadyClock.monotonicMillis()
                try drive(pool, timeoutMs: 10_000) { pool.stats.recycles == 1 && pool.reapingCount == 0 }
                recycleCost = SteadyClock.monotonicMillis() - t
            }
        }
        #expect(pool.stats.recyclesByReason["leases"] == 1)
        #expect(pool.stats.launched == 2)
        #expect(tracker.groups.count == 2)
        #expect(groupGone(tracker.groups.keys.min()!, pids: Array(tracker.groups[tracker.groups.keys.min()!]!)))

        // Past the memory bound: measured, then recycled when idle.
        var small = testSettings(dir: dir + "/b")
        small.browserMemoryMax = 1 << 20
        small.memoryCheckIntervalMs = 50
        let lean = try BrowserPool(settings: small, logger: quietLogger)
        let leanTracker = Tracker()
        defer { lean.shutdown(); #expect(leanTracker.allGone()) }
        lean.lease(.scrape(ScrapeRequest(url: server.base + "/page/mem", extract: ["t": "document.title"])),
                   deadline: SteadyClock.monotonicMillis() + 20_000, completion: answers.completion(10))
        try drive(lean, timeoutMs: 25_000) { leanTracker.note(lean); return answers.results[10] != nil }
        #expect(answers.value(10) != nil)
        try drive(lean, timeoutMs: 10_000) { lean.stats.recyclesByReason["memory"] == 1 && lean.reapingCount == 0 }
        print("P8 recycle (SIGKILL of the group + reap + profile removal): \(recycleCost) ms")
    }

    /// Without Chromium the pool says so and refuses at once with `unavailable`.
    @Test(.timeLimit(.minutes(1))) func missingChromiumAnswersUnavailable() throws {
        let tmp = TempDir("steadypost-browser")
        defer { tmp.remove() }
        let dir = tmp.path
        var s = testSettings(dir: dir)
        s.chromiumPath = dir + "/no-such-chromium"
        let role = BrowserRole(settings: s, logger: quietLogger)
        #expect(role.summary.contains("Chromium not found at \(dir)/no-such-chromium"))
        let reply = role.handle(request: WorkerRequest(method: "scrape", body: Array(#"{"url":"http://127.0.0.1:1/","extract":{"t":"1"}}"#.utf8), correlation: 1, deadline: 0))
        guard case .error(let code, _)? = reply else { Issue.record("\(String(describing: reply))"); return }
        #expect(code == LeaseError.unavailable)
        guard case .ok(let status)? = role.handle(request: WorkerRequest(method: "status", body: [], correlation: 2, deadline: 0)) else { Issue.record("no status"); return }
        #expect(try JSON.parse(status)["available"] == .bool(false))
        #expect(role.counters["unavailable"] == 1)
    }
}
}
