import SteadyPlatforms
import SteadyStore

/// Prometheus text exposition (format 0.0.4), written family by family: each with its HELP
/// and TYPE lines, names and label values escaped as the format asks.
struct MetricsWriter {
    private(set) var text = ""

    mutating func family(_ name: String, _ type: String, _ help: String) {
        text += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
    }

    mutating func sample(_ name: String, _ labels: [(String, String)] = [], _ value: Double) {
        text += name
        if !labels.isEmpty {
            text += "{" + labels.map { "\($0.0)=\"\(Self.escape($0.1))\"" }.joined(separator: ",") + "}"
        }
        text += " " + Self.number(value) + "\n"
    }

    /// A label value as the format asks (`\\`, `\"`, `\n`), scalar by scalar: by
    /// `Character`, `"\r\n"` or a quote followed by a combining mark went through raw.
    static func escape(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        for u in s.unicodeScalars {
            switch u {
            case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
            case "\"": out.append(contentsOf: "\\\"".unicodeScalars)
            case "\n": out.append(contentsOf: "\\n".unicodeScalars)
            default: out.append(u)
            }
        }
        return String(out)
    }

    static func number(_ v: Double) -> String {
        if v.isNaN { return "NaN" }
        if v.isInfinite { return v > 0 ? "+Inf" : "-Inf" }
        if v == v.rounded(), abs(v) < 1e15 { return String(Int64(v)) }
        return "\(v)"
    }
}

extension APIService {
    /// Upper bounds of the post latency histogram (seconds from due to posted).
    static let latencyBounds: [Int64] = [1, 5, 15, 30, 60, 120, 300, 900, 3600]

    /// `/metrics`: posts by state, attempts by outcome, the latency histogram, breakers,
    /// quota use, per-worker state, restarts, heartbeat age, memory and every heartbeat
    /// counter (browser pool, scrapes, replies...), and the health verdict.
    public func metrics(status: JSON?, statusError: String?, now: Int64) -> String {
        var m = MetricsWriter()
        var storeErrors = 0
        func read<T>(_ body: () throws(StoreError) -> T) -> T? {
            do { return try body() } catch {
                storeErrors += 1
                logger.warning("metrics: store read failed: \(error)")
                return nil
            }
        }

        if let counts = read({ () throws(StoreError) in try store.counts() }) {
            m.family("steadypost_posts", "gauge", "Posts in the store by state.")
            for state in PostState.allCases { m.sample("steadypost_posts", [("state", state.rawValue)], Double(counts[state] ?? 0)) }
        }
        if let outcomes = read({ () throws(StoreError) in try store.attemptOutcomes() }) {
            m.family("steadypost_attempts_total", "counter", "Attempts by outcome class (in_flight: not finished).")
            for (outcome, n) in outcomes.sorted(by: { $0.key < $1.key }) {
                m.sample("steadypost_attempts_total", [("outcome", outcome)], Double(n))
            }
        }
        if let h = read({ () throws(StoreError) in try store.postLatencyHistogram(bounds: Self.latencyBounds.map { $0 * 1000 }) }) {
            m.family("steadypost_post_latency_seconds", "histogram", "Time from a post's due time to its being posted.")
            for (i, bound) in Self.latencyBounds.enumerated() {
                m.sample("steadypost_post_latency_seconds_bucket", [("le", String(bound))], Double(h.cumulative[i]))
            }
            m.sample("steadypost_post_latency_seconds_bucket", [("le", "+Inf")], Double(h.count))
            m.sample("steadypost_post_latency_seconds_sum", [], Double(h.sumMillis) / 1000)
            m.sample("steadypost_post_latency_seconds_count", [], Double(h.count))
        }
        if let states = read({ () throws(StoreError) in try store.accountStates() }) {
            m.family("steadypost_breaker_state", "gauge", "Each account's circuit breaker: 1 for its current state.")
            for account in config.accounts {
                let state = StoredBreaker.parse(states[account.name]?.breaker).state
                for s in [StoredBreaker.State.closed, .open, .halfOpen] {
                    m.sample("steadypost_breaker_state", [("account", account.name), ("state", s.rawValue)], state == s ? 1 : 0)
                }
            }
            m.family("steadypost_account_paused", "gauge", "1 while the account is paused (rate limit, auth).")
            for account in config.accounts {
                m.sample("steadypost_account_paused", [("account", account.name)], (states[account.name]?.pausedUntil ?? 0) > now ? 1 : 0)
            }
        }
        var used: [(String, String, Int, Int)] = []
        for account in config.accounts {
            if let hour = read({ () throws(StoreError) in try store.attemptsStarted(account: account.name, since: now - 3_600_000 + 1) }),
               let day = read({ () throws(StoreError) in try store.attemptsStarted(account: account.name, since: now - 86_400_000 + 1) }) {
                used.append((account.name, "hour", hour, account.quota.hourly))
                used.append((account.name, "day", day, account.quota.daily))
            }
        }
        m.family("steadypost_quota_used", "gauge", "Attempts started in the last hour or day, as the quota counts them.")
        for u in used { m.sample("steadypost_quota_used", [("account", u.0), ("window", u.1)], Double(u.2)) }
        m.family("steadypost_quota_limit", "gauge", "The configured quota per hour or day.")
        for u in used { m.sample("steadypost_quota_limit", [("account", u.0), ("window", u.1)], Double(u.3)) }

        m.family("steadypost_supervisor_up", "gauge", "1 when the supervisor answered supervisor.status.")
        m.sample("steadypost_supervisor_up", [], status == nil ? 0 : 1)
        if let workers = status?["workers"]?.array {
            m.family("steadypost_worker_up", "gauge", "1 when the worker is running.")
            for w in workers { m.sample("steadypost_worker_up", [("role", w["role"]?.string ?? "")], w["state"]?.string == "running" ? 1 : 0) }
            m.family("steadypost_worker_parked", "gauge", "1 when the supervisor has parked the worker (failed).")
            for w in workers { m.sample("steadypost_worker_parked", [("role", w["role"]?.string ?? "")], w["state"]?.string == "failed" ? 1 : 0) }
            m.family("steadypost_worker_restarts_total", "counter", "Restarts of the worker since the supervisor started.")
            for w in workers { m.sample("steadypost_worker_restarts_total", [("role", w["role"]?.string ?? "")], Double(w["restarts"]?.int ?? 0)) }
            m.family("steadypost_worker_heartbeat_age_seconds", "gauge", "Time since the worker's last heartbeat.")
            for w in workers {
                guard let age = w["heartbeat_age_ms"]?.int else { continue }
                m.sample("steadypost_worker_heartbeat_age_seconds", [("role", w["role"]?.string ?? "")], Double(age) / 1000)
            }
            m.family("steadypost_worker_resident_memory_bytes", "gauge", "The worker's resident set size at its last heartbeat.")
            for w in workers {
                guard let rss = w["rss_bytes"]?.stringOrNumber.flatMap({ Double($0) }) else { continue }
                m.sample("steadypost_worker_resident_memory_bytes", [("role", w["role"]?.string ?? "")], rss)
            }
            m.family("steadypost_worker_figure", "gauge",
                     "Every figure a worker sends in its heartbeat (posting, browser pool, scrapes, replies, job health), by role and name.")
            for w in workers {
                guard case .object(let counters)? = w["counters"] else { continue }
                for (name, value) in counters.sorted(by: { $0.0 < $1.0 }) {
                    guard let v = value.stringOrNumber.flatMap({ Double($0) }) else { continue }
                    m.sample("steadypost_worker_figure", [("role", w["role"]?.string ?? ""), ("name", name)], v)
                }
            }
        } else if let statusError {
            logger.warning("metrics without the workers: \(statusError)")
        }

        let report = healthReport(status: status, statusError: statusError, now: now)
        m.family("steadypost_health_status", "gauge", "0 healthy, 1 degraded, 2 unhealthy (as steadypost health exits).")
        m.sample("steadypost_health_status", [], Double(report.status.rawValue))
        m.family("steadypost_health_figure", "gauge", "The health figures (rates as fractions, times in seconds); absent when not measurable.")
        for (name, value) in report.figures.values {
            guard let value else { continue }
            let scaled = name == "avg_post_time" ? value / 1000 : value
            m.sample("steadypost_health_figure", [("figure", name == "avg_post_time" ? "avg_post_time_seconds" : name)], scaled)
        }
        m.family("steadypost_api_store_errors", "gauge", "Store reads that failed while writing this page.")
        m.sample("steadypost_api_store_errors", [], Double(storeErrors))
        return m.text
    }
}
