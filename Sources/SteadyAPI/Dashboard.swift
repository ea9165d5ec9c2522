import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyStore

/// The dashboard at `/`: one server-rendered page (no script, no build step) that reloads
/// itself every `refreshSeconds`. Every section has an id the Chromium test reads.
extension APIService {
    static let refreshSeconds = 10

    public func dashboard(status: JSON?, statusError: String?, now: Int64) -> String {
        let report = healthReport(status: status, statusError: statusError, now: now)
        var h = HTML()
        h.raw("""
            <!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
            <meta http-equiv="refresh" content="\(Self.refreshSeconds)">
            <title>steadypost</title><style>
            body{font:14px system-ui,sans-serif;margin:1.5em;color:#222}h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.6em}
            table{border-collapse:collapse}td,th{padding:2px 10px;border-bottom:1px solid #ddd;text-align:left}
            .healthy{color:#15803d}.degraded{color:#b45309}.unhealthy{color:#b91c1c}
            .bar{background:#e5e7eb;width:200px;height:12px;display:inline-block}.bar span{display:block;height:12px;background:#2563eb}
            .bar span.full{background:#b91c1c}svg text{font-size:9px}
            </style></head><body>
            """)
        h.raw("<h1>steadypost <span id=\"health-status\" class=\"\(report.status.name)\">\(report.status.name)</span></h1>")
        h.raw("<p id=\"generated\">generated \(HTML.escape(HTTPTime.formatISO8601(millis: now))); refreshes every \(Self.refreshSeconds) s</p>")

        h.section("health", "Health")
        h.raw("<table><tbody>")
        for (name, value) in report.figures.values {
            let text: String
            if let value {
                text = name.hasSuffix("_rate") ? HealthReport.percent(value) : name == "avg_post_time" ? "\(Int64(saturating: value) / 1000) s" : "\(Int64(saturating: value))"
            } else {
                text = "n/a"
            }
            h.raw("<tr data-figure=\"\(name)\"><th>\(name)</th><td>\(HTML.escape(text))</td></tr>")
        }
        h.raw("</tbody></table><ul id=\"health-reasons\">")
        for r in report.reasons { h.raw("<li>\(HTML.escape(r))</li>") }
        h.raw("</ul>")

        h.section("workers", "Workers")
        if let workers = status?["workers"]?.array {
            h.raw("<table><thead><tr><th>role</th><th>state</th><th>pid</th><th>restarts</th><th>heartbeat</th><th>summary</th></tr></thead><tbody>")
            for w in workers {
                let role = w["role"]?.string ?? "?"
                let state = w["state"]?.string ?? "?"
                let age = w["heartbeat_age_ms"]?.int.map { "\($0) ms ago" } ?? "-"
                let summary = w["reason"]?.string ?? w["summary"]?.string ?? ""
                h.raw("<tr data-role=\"\(HTML.escape(role))\" data-state=\"\(HTML.escape(state))\"><td>\(HTML.escape(role))</td><td class=\"state\">\(HTML.escape(state))</td>")
                h.raw("<td>\(w["pid"]?.int.map(String.init) ?? "-")</td><td class=\"restarts\">\(w["restarts"]?.int ?? 0)</td><td>\(age)</td><td>\(HTML.escape(summary))</td></tr>")
            }
            h.raw("</tbody></table>")
        } else {
            h.raw("<p class=\"unhealthy\">the supervisor did not answer: \(HTML.escape(statusError ?? "unknown"))</p>")
        }

        h.section("queue", "Queue")
        let counts = (try? store.counts()) ?? [:]
        h.raw("<table><tbody>")
        for state in PostState.allCases {
            h.raw("<tr data-state=\"\(state.rawValue)\"><th>\(state.rawValue)</th><td class=\"count\">\(counts[state] ?? 0)</td></tr>")
        }
        h.raw("</tbody></table>")

        h.section("attention", "Unknown and parked posts")
        let attention = ((try? store.posts(state: .unknown, limit: 50)) ?? []) + ((try? store.posts(state: .parked, limit: 50)) ?? [])
        postTable(&h, attention, empty: "none")

        h.section("breakers", "Accounts: breakers and pauses")
        let states = (try? store.accountStates()) ?? [:]
        h.raw("<table><thead><tr><th>account</th><th>breaker</th><th>paused until</th><th>reason</th></tr></thead><tbody>")
        for account in config.accounts {
            let s = states[account.name]
            let breaker = StoredBreaker.parse(s?.breaker).state.rawValue
            let paused = s.flatMap { ($0.pausedUntil ?? 0) > now ? $0 : nil }
            h.raw("<tr data-account=\"\(HTML.escape(account.name))\" data-breaker=\"\(breaker)\"><td>\(HTML.escape(account.name))</td><td>\(breaker)</td>")
            h.raw("<td>\(paused?.pausedUntil.map { HTML.escape(HTTPTime.formatISO8601(millis: $0)) } ?? "-")</td><td>\(HTML.escape(paused?.pauseReason ?? ""))</td></tr>")
        }
        h.raw("</tbody></table>")

        h.section("quotas", "Quotas (attempts started)")
        if case .array(let accounts)? = (try? quotas(now: now))?["accounts"] {
            h.raw("<table><tbody>")
            for a in accounts {
                let name = a["account"]?.string ?? "?"
                for window in ["hourly", "daily"] {
                    let used = a[window]?["used"]?.int ?? 0
                    let limit = a[window]?["limit"]?.int ?? 0
                    let pct = limit > 0 ? min(100, used * 100 / limit) : 100
                    h.raw("<tr data-account=\"\(HTML.escape(name))\" data-window=\"\(window)\"><th>\(HTML.escape(name)) \(window)</th>")
                    h.raw("<td><div class=\"bar\" title=\"\(used) of \(limit)\"><span class=\"\(pct >= 100 ? "full" : "")\" style=\"width:\(pct)%\" data-percent=\"\(pct)\"></span></div></td><td>\(used) / \(limit)</td></tr>")
                }
            }
            h.raw("</tbody></table>")
        }

        h.section("late-jobs", "Late jobs")
        if report.figures.lateJobNames.isEmpty {
            h.raw("<p>\(report.figures.lateJobs == nil ? "n/a" : "none")</p>")
        } else {
            h.raw("<ul>")
            for name in report.figures.lateJobNames { h.raw("<li>\(HTML.escape(name))</li>") }
            h.raw("</ul>")
        }

        h.section("failures", "Recent failures")
        postTable(&h, (try? store.recentFailures(limit: 20)) ?? [], empty: "none")

        h.section("posts-per-hour", "Posts per hour, last 24 hours")
        h.raw(postsPerHourSVG(now: now))
        h.raw("</section></body></html>\n")
        return h.text
    }

    func postTable(_ h: inout HTML, _ posts: [Post], empty: String) {
        guard !posts.isEmpty else {
            h.raw("<p>\(empty)</p>")
            return
        }
        h.raw("<table><thead><tr><th>id</th><th>account</th><th>state</th><th>due</th><th>reason</th></tr></thead><tbody>")
        for p in posts {
            h.raw("<tr data-post-id=\"\(HTML.escape(p.id))\" data-state=\"\(p.state.rawValue)\"><td>\(HTML.escape(p.id))</td><td>\(HTML.escape(p.account))</td><td>\(p.state.rawValue)</td>")
            h.raw("<td>\(HTML.escape(HTTPTime.formatISO8601(millis: p.dueAt)))</td><td class=\"reason\">\(HTML.escape(p.lastError ?? ""))</td></tr>")
        }
        h.raw("</tbody></table>")
    }

    /// 24 bars, one per hour, oldest on the left; each `<rect>` carries its hour and count.
    func postsPerHourSVG(now: Int64) -> String {
        let hour: Int64 = 3_600_000
        let current = now / hour * hour
        let first = current - 23 * hour
        let perHour = (try? store.postedPerHour(since: first)) ?? [:]
        let counts = (0..<24).map { perHour[first + Int64($0) * hour] ?? 0 }
        let top = max(1, counts.max() ?? 1)
        var svg = "<svg id=\"posts-per-hour-plot\" width=\"520\" height=\"140\" viewBox=\"0 0 520 140\" role=\"img\" aria-label=\"posts per hour\">"
        svg += "<line x1=\"20\" y1=\"120\" x2=\"500\" y2=\"120\" stroke=\"#999\"/>"
        for (i, n) in counts.enumerated() {
            let height = n * 100 / top
            let x = 20 + i * 20
            let start = HTTPTime.formatISO8601(millis: first + Int64(i) * hour)
            svg += "<rect class=\"hour\" x=\"\(x + 2)\" y=\"\(120 - height)\" width=\"16\" height=\"\(height)\" fill=\"#2563eb\" data-hour=\"\(start)\" data-count=\"\(n)\"><title>\(start): \(n)</title></rect>"
            if n > 0 { svg += "<text x=\"\(x + 10)\" y=\"\(116 - height)\" text-anchor=\"middle\">\(n)</text>" }
        }
        svg += "<text x=\"20\" y=\"134\">-24 h</text><text x=\"500\" y=\"134\" text-anchor=\"end\">now</text></svg>"
        return svg
    }
}

/// A page being written; text goes in escaped.
struct HTML {
    private(set) var text = ""

    mutating func raw(_ s: String) { text += s }

    mutating func section(_ id: String, _ title: String) {
        if text.contains("<section") { text += "</section>" }
        text += "<section id=\"\(id)\"><h2>\(HTML.escape(title))</h2>"
    }

    /// `s` as HTML text or attribute value: `& < > " '` become references, scalar by
    /// scalar. Walking `Character`s was wrong: a combining or format mark before `<`
    /// (`"\u{0600}<"`, `"\u{0301}<"`) makes one grapheme that equals none of them, and the
    /// `<` went through raw. NUL becomes U+FFFD (as an HTML parser would make it); every
    /// other scalar is kept as it is, so the page shows the text literally.
    static func escape(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            switch u {
            case "&": out.append(contentsOf: "&amp;".unicodeScalars)
            case "<": out.append(contentsOf: "&lt;".unicodeScalars)
            case ">": out.append(contentsOf: "&gt;".unicodeScalars)
            case "\"": out.append(contentsOf: "&quot;".unicodeScalars)
            case "'": out.append(contentsOf: "&#39;".unicodeScalars)
            case "\u{0}": out.append("\u{FFFD}")
            default: out.append(u)
            }
        }
        return String(out)
    }
}
