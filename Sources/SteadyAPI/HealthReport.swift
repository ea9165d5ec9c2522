import SteadyCore
import SteadyConfig
import SteadyHTTP
import SteadyPlatforms

/// healthy / degraded / unhealthy, in order of badness; `steadypost health` exits with the
/// raw value (0, 1, 2).
public enum HealthStatus: Int, Sendable, Comparable, CaseIterable {
    case healthy = 0
    case degraded = 1
    case unhealthy = 2

    public var name: String {
        switch self {
        case .healthy: "healthy"
        case .degraded: "degraded"
        case .unhealthy: "unhealthy"
        }
    }

    public init?(name: String) {
        guard let s = Self.allCases.first(where: { $0.name == name }) else { return nil }
        self = s
    }

    public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// The health figures of seed 000 and the daemon's own (F25). A nil figure could not be
/// measured (nothing to measure in the window, or its source is not reporting) and is
/// not judged; `notes` says why.
public struct HealthFigures: Sendable, Equatable {
    /// Posted ÷ (posted + failed + parked) among posts settled in the window.
    public var successRate: Double?
    /// Mean ms from due to posted, of posts posted in the window.
    public var avgPostTimeMs: Int64?
    public var stuckPosts: Int?
    /// Live on a platform, missing from the store (the reconciler's `orphaned_posts`).
    public var orphanedPosts: Int?
    /// Duplicates the reconciler found ÷ posts posted in the window.
    public var duplicateRate: Double?
    /// Unknown outcomes settled by verification ÷ (those + posts still unknown past
    /// `stuck_after`).
    public var verificationRate: Double?
    public var unknownPosts: Int?
    public var openBreakers: Int?
    public var pausedAccounts: Int?
    public var lateJobs: Int?
    public var parkedWorkers: Int?
    public var lateJobNames: [String] = []
    public var parkedWorkerNames: [String] = []
    public var notes: [String] = []

    public init() {}

    /// Each figure by its `[health]` name, as a number (ms for times).
    public var values: [(String, Double?)] {
        [
            ("success_rate", successRate), ("avg_post_time", avgPostTimeMs.map(Double.init)),
            ("stuck_posts", stuckPosts.map(Double.init)), ("orphaned_posts", orphanedPosts.map(Double.init)),
            ("duplicate_rate", duplicateRate), ("verification_rate", verificationRate),
            ("unknown_posts", unknownPosts.map(Double.init)), ("open_breakers", openBreakers.map(Double.init)),
            ("paused_accounts", pausedAccounts.map(Double.init)), ("late_jobs", lateJobs.map(Double.init)),
            ("parked_workers", parkedWorkers.map(Double.init)),
        ]
    }
}

/// The figures judged against `[health]`.
public struct HealthReport: Sendable, Equatable {
    public var status: HealthStatus
    public var figures: HealthFigures
    /// One line per figure past a threshold: what, how much, which threshold.
    public var reasons: [String]
    public var windowMs: Int64
    public var checkedAt: Int64

    public init(figures: HealthFigures, config: HealthConfig, now: Int64) {
        self.figures = figures
        windowMs = config.windowMs
        checkedAt = now
        var worst = HealthStatus.healthy
        var reasons: [String] = []
        for (name, value) in figures.values {
            guard let value, let rule = config.rule(name) else { continue }
            let level = Self.judge(value, rule)
            guard level != .healthy else { continue }
            worst = max(worst, level)
            let threshold = level == .unhealthy ? rule.unhealthy : rule.degraded
            let relation = rule.direction == .below ? "below" : "at or above"
            reasons.append("\(name) \(Self.format(value, rule.unit)) is \(relation) \(Self.format(threshold, rule.unit)) (\(level.name))")
        }
        status = worst
        self.reasons = reasons
    }

    /// A figure's level under one rule; a threshold of 0 on an "at or above" rule is off.
    public static func judge(_ value: Double, _ rule: HealthConfig.Rule) -> HealthStatus {
        func past(_ threshold: Double) -> Bool {
            switch rule.direction {
            case .below: return value < threshold
            case .atOrAbove: return threshold > 0 && value >= threshold
            }
        }
        if past(rule.unhealthy) { return .unhealthy }
        if past(rule.degraded) { return .degraded }
        return .healthy
    }

    static func format(_ value: Double, _ unit: HealthConfig.Unit) -> String {
        switch unit {
        case .rate: return percent(value)
        case .duration: return "\(Int64(saturating: value) / 1000)s"
        case .count: return "\(Int64(saturating: value))"
        }
    }

    static func percent(_ rate: Double) -> String {
        let tenths = Int64(saturating: (rate * 1000).rounded())
        return "\(tenths / 10).\(tenths % 10)%"
    }

    /// `/health` and `api.health`: `{"status", "figures": {...}, "reasons", ...}`; rates as
    /// fractions, times in ms, null for what could not be measured.
    public var json: JSON {
        func number(_ v: Double?) -> JSON {
            guard let v else { return .null }
            if v == v.rounded(), abs(v) < 1e15 { return .number(v, raw: String(Int64(v))) }
            let scaled = (v * 10_000).rounded() / 10_000
            return .number(scaled, raw: "\(scaled)")
        }
        return .obj([
            ("status", JSON(status.name)),
            ("exit_code", JSON(status.rawValue)),
            ("checked_at", JSON(HTTPTime.formatISO8601(millis: checkedAt))),
            ("window_ms", .number(Double(windowMs), raw: String(windowMs))),
            ("figures", .object(figures.values.map { name in (name.0 == "avg_post_time" ? "avg_post_time_ms" : name.0, number(name.1)) })),
            ("late_job_names", .array(figures.lateJobNames.map(JSON.init))),
            ("parked_worker_names", .array(figures.parkedWorkerNames.map(JSON.init))),
            ("reasons", .array(reasons.map(JSON.init))),
            ("notes", .array(figures.notes.map(JSON.init))),
        ])
    }
}
