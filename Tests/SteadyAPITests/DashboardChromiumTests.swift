import Glibc
import Logging
import SteadyBrowser
import SteadyCore
import SteadyPlatforms
import SteadyStore
import SteadyWorker
import Testing
import func SteadyTestSupport.currentEnvironment
@testable import SteadyAPI

/// The supervisor's side of the link, played by the test: `supervisor.status` answers
/// `status`; nothing else is routed.
struct FixedStatusLink: SupervisorLink {
    let status: JSON
    func request(_ method: String, body: [UInt8], timeoutMs: Int64) async -> WorkerCallResult {
        method == "supervisor.status" ? .ok(status.bytes) : .error(code: "unavailable", message: "not routed in this test")
    }
}

/// Hostile text stored everywhere the dashboard shows text from outside, then every page
/// loaded in real headless Chromium (the browser worker's pool) from the real HTTP server.
@Suite("the dashboard and every page in headless Chromium, with hostile text stored", .serialized, .timeLimit(.minutes(3)))
struct DashboardChromiumTests {
    /// Each sets a flag a test can read if it ever runs as script, and most also make an
    /// element; `\u{0600}` and `\u{0301}` are the marks that beat escaping by Character.
    static let payloads: [String: String] = [
        "lastError": "\u{0600}<img src=x onerror=\"document.title='pwned';window.pwned=1\">",
        "pauseReason": "\u{0301}<script>document.title='pwned';window.pwned=2</script>\r\nnext line\u{2028}ls",
        "summary": "\u{202E}\"'><svg onload=\"window.pwned=3\"></svg><b>bold?</b>",
        "reason": "\u{200D}<iframe srcdoc=\"<script>parent.pwned=4</script>\"></iframe>\u{0}end",
        "lateJob": "replies/<img src=x onerror=window.pwned=5>",
        "counter": "x\"} 1\n<img src=x onerror=window.pwned=6>",
    ]

    /// What a browser shows for `text`: HTML parsing turns CR LF and CR into LF, NUL into U+FFFD.
    static func shown(_ text: String) -> String {
        var out = String.UnicodeScalarView()
        var previousCR = false
        for u in text.unicodeScalars {
            defer { previousCR = u == "\r" }
            if u == "\n" && previousCR { continue }
            out.append(u == "\r" ? "\n" : u == "\u{0}" ? "\u{FFFD}" : u)
        }
        return String(out)
    }

    /// A scrape through the pool, driven on this thread until answered.
    func scrape(_ pool: BrowserPool, _ url: String, _ extract: [String: String]) throws -> JSON {
        nonisolated(unsafe) var answer: Result<JSON, LeaseError>?
        let deadline = SteadyClock.monotonicMillis() + 40_000
        pool.lease(.scrape(ScrapeRequest(url: url, extract: extract)), deadline: deadline) { answer = $0 }
        while answer == nil {
            let now = SteadyClock.monotonicMillis()
            if now >= deadline { throw TestFailure("no answer from Chromium for \(url) within 40 s") }
            _ = pool.poller.wait(timeoutMillis: Int32(clamping: max(0, min(pool.wakeAt ?? deadline, deadline) - now)))
            pool.processEvents()
            pool.tick(now: SteadyClock.monotonicMillis())
        }
        switch answer! {
        case .success(let v): return v["values"] ?? .null
        case .failure(let e): throw TestFailure("scrape \(url): \(e)")
        }
    }

    @Test("no stored string runs as script or makes an element, and each is shown literally; the dashboard renders under its CSP")
    func hostileTextShownLiterally() throws {
        guard access("/usr/bin/chromium", X_OK) == 0 else {
            Issue.record("chromium is missing (scripts/common.sh installs it)")
            return
        }
        let p = Self.payloads
        let f = try APIFixture()
        let now = SteadyClock.wallMillis()
        let failed = try settle(f.store, ["hostile"], due: now - 10_000, outcome: { _ in .permanent(reason: p["lastError"]!) }, at: now)[0]
        let lastError = try #require(failed.lastError)
        #expect(lastError.contains(p["lastError"]!))
        try f.store.setPause(account: "news-x", until: now + 3_600_000, reason: p["pauseReason"]!, now: now)
        f.service.link = FixedStatusLink(status: .obj([
            ("workers", .array([
                .obj([("role", JSON("posting")), ("state", JSON("running")), ("pid", JSON(4242)), ("restarts", JSON(0)),
                      ("summary", JSON(p["summary"]!)), ("counters", .obj([(p["counter"]!, JSON(1))]))]),
                .obj([("role", JSON("replies")), ("state", JSON("failed")), ("restarts", JSON(6)), ("reason", JSON(p["reason"]!))]),
            ])),
            ("late_jobs", JSON(1)), ("late_job_names", .array([JSON(p["lateJob"]!)])),
        ]))
        let port = try f.serve()
        let base = "http://127.0.0.1:\(port)"

        let dir = f.dir + "/browser"
        var settings = BrowserPoolSettings()
        settings.profileRoot = dir + "/profiles"
        settings.environment = currentEnvironment()
        let pool = try BrowserPool(settings: settings, logger: APIFixture.logger)
        defer { pool.shutdown() }

        // What no script may have changed, and what no markup may have made.
        let untouched: [String: String] = [
            "title": "document.title",
            "pwned": "String(window.pwned === undefined ? 'no' : window.pwned)",
            "made": "document.querySelectorAll('img, script, svg:not(#posts-per-hour-plot), iframe, b').length",
            "contentType": "document.contentType",
        ]
        var extract = untouched
        extract["lastError"] = "document.querySelector('#failures tr[data-post-id] td.reason').textContent"
        extract["pauseReason"] = "document.querySelector('#breakers tr[data-account=news-x] td:last-child').textContent"
        extract["summary"] = "document.querySelector('#workers tr[data-role=posting] td:last-child').textContent"
        extract["reason"] = "document.querySelector('#workers tr[data-role=replies] td:last-child').textContent"
        extract["lateJob"] = "document.querySelector('#late-jobs li').textContent"
        extract["sections"] = "Array.from(document.querySelectorAll('section')).map(s => s.id).join(',')"
        extract["styled"] = "getComputedStyle(document.querySelector('.bar')).width"
        let v = try scrape(pool, base + "/", extract)
        #expect(v["title"]?.string == "steadypost", "\(v)")
        #expect(v["pwned"]?.string == "no")
        #expect(v["made"]?.int == 0, "markup from a stored string became elements")
        #expect(v["contentType"]?.string == "text/html")
        #expect(v["lastError"]?.string == Self.shown(lastError))
        for key in ["pauseReason", "summary", "reason", "lateJob"] {
            #expect(v[key]?.string == Self.shown(p[key]!), "\(key): \(v[key]?.string?.debugDescription ?? "missing")")
        }
        // Still the whole page, styled by its inline <style> under the CSP.
        #expect(v["sections"]?.string == "health,workers,queue,attention,breakers,quotas,late-jobs,failures,posts-per-hour")
        #expect(v["styled"]?.string == "200px")

        // The other pages: JSON and text are shown as text, never parsed as HTML.
        // (An empty 404 is not a page the pool navigates to; its headers are HostCheckTests'.)
        for (path, type) in [("/health", "application/json"), ("/metrics", "text/plain"), ("/api/quotas", "application/json")] {
            var extract = untouched
            extract["body"] = "document.body ? document.body.innerText : ''"
            let page = try scrape(pool, base + path, extract)
            #expect(page["pwned"]?.string == "no", "\(path)")
            #expect(page["made"]?.int == 0, "\(path): elements were made")
            #expect(page["contentType"]?.string == type, "\(path): \(page)")
            #expect(page["title"]?.string?.contains("pwned") == false, "\(path)")
        }
        // /health and /metrics carry the hostile late job and counter name, as text.
        let health = try scrape(pool, base + "/health", ["body": "document.body.innerText"])
        #expect(health["body"]?.string?.contains("<img src=x onerror=window.pwned=5>") == true, "\(health)")
    }
}
