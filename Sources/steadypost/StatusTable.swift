import SteadyProtocol

/// The human form of `steadypost status`: one line per worker, then the posting figures.
enum StatusTable {
    static func render(_ report: StatusReport) -> String {
        var rows: [[String]] = [["ROLE", "STATE", "PID", "RESTARTS", "HEARTBEAT", "RSS", "FDS", "BOUNDS", "NOTE"]]
        for w in report.workers {
            rows.append([
                w.role.rawValue, w.state, w.pid.map(String.init) ?? "-", String(w.restarts),
                w.heartbeat_age_ms.map { age(ms: $0) } ?? "-", w.rss_bytes.map(megabytes) ?? "-",
                w.open_fds.map(String.init) ?? "-", w.bounds, w.reason ?? w.summary ?? w.last_exit ?? "",
            ])
        }
        let widths = (0..<rows[0].count - 1).map { col in rows.map { $0[col].count }.max() ?? 0 }
        var out = ""
        for row in rows {
            for (i, cell) in row.enumerated() {
                out += i < widths.count ? cell + String(repeating: " ", count: widths[i] - cell.count + 2) : cell
            }
            out += "\n"
        }
        if let pool = browserPool(report) { out += pool + "\n" }
        func figure(_ v: Int?) -> String { v.map(String.init) ?? "n/a" }
        out += "queue depth: \(figure(report.queue_depth))  unknown posts: \(figure(report.unknown_posts))  "
        out += "open breakers: \(figure(report.open_breakers))  late jobs: \(figure(report.late_jobs))"
        if let names = report.late_job_names, !names.isEmpty { out += " (" + names.joined(separator: ", ") + ")" }
        out += "\n"
        out += "supervisor pid \(report.supervisor_pid), up \(age(ms: report.uptime_ms)), version \(report.version)\n"
        return out
    }

    /// The browser worker's pool figures from its last heartbeat, when it has a pool.
    static func browserPool(_ report: StatusReport) -> String? {
        guard let c = report.workers.first(where: { $0.role == .browser })?.counters, let browsers = c["browsers"] else { return nil }
        let f = { (name: String) in c[name] ?? 0 }
        return "browser pool: \(browsers)/\(f("browser_capacity")) browsers (\(f("browsers_busy")) busy, \(f("browsers_idle")) idle), "
            + "queue \(f("queue_depth"))/\(f("queue_limit")), refusals \(f("refusals")), recycles \(f("recycles")), "
            + "PSS \(megabytes(UInt64(max(0, f("browser_pss_bytes")))))"
    }

    static func age(ms: Int64) -> String {
        ms < 10_000 ? "\(ms / 1000).\(ms % 1000 / 100)s" : "\(ms / 1000)s"
    }

    static func megabytes(_ bytes: UInt64) -> String {
        "\(bytes / (1 << 20)).\(bytes % (1 << 20) * 10 / (1 << 20)) MB"
    }
}
