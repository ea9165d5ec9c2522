/// `[health]`: the window the health figures cover and the thresholds that turn them into
/// healthy / degraded / unhealthy (`steadypost health`, `/health`).
public struct HealthConfig: Sendable, Equatable {
    /// How a figure is judged against its two thresholds.
    public enum Direction: Sendable, Equatable {
        /// Bad when the figure is below the threshold (success and verification rates).
        case below
        /// Bad when the figure is at or above the threshold (counts, rates of bad things, times).
        case atOrAbove
    }

    /// What a figure's thresholds are written in.
    public enum Unit: Sendable, Equatable {
        /// A fraction from 0 to 1.
        case rate
        /// A duration; thresholds in ms.
        case duration
        /// A count; 0 switches the threshold off.
        case count
    }

    /// One judged figure: its name (as in `/health`) and its thresholds.
    public struct Rule: Sendable, Equatable {
        public var figure: String
        public var direction: Direction
        public var unit: Unit
        public var degraded: Double
        public var unhealthy: Double

        public init(figure: String, direction: Direction, unit: Unit, degraded: Double, unhealthy: Double) {
            self.figure = figure
            self.direction = direction
            self.unit = unit
            self.degraded = degraded
            self.unhealthy = unhealthy
        }
    }

    /// The rates and times are measured over the last `window`.
    public var windowMs: Int64
    /// A post claimed, attempting, or due and still scheduled for longer than this is stuck.
    public var stuckAfterMs: Int64
    /// In the order `/health` lists them; each with its defaults.
    public var rules: [Rule]

    public init(windowMs: Int64 = 86_400_000, stuckAfterMs: Int64 = 900_000, rules: [Rule] = HealthConfig.defaultRules) {
        self.windowMs = windowMs
        self.stuckAfterMs = stuckAfterMs
        self.rules = rules
    }

    public static let defaultRules: [Rule] = [
        Rule(figure: "success_rate", direction: .below, unit: .rate, degraded: 0.95, unhealthy: 0.80),
        Rule(figure: "avg_post_time", direction: .atOrAbove, unit: .duration, degraded: 60_000, unhealthy: 600_000),
        Rule(figure: "stuck_posts", direction: .atOrAbove, unit: .count, degraded: 1, unhealthy: 10),
        Rule(figure: "orphaned_posts", direction: .atOrAbove, unit: .count, degraded: 1, unhealthy: 10),
        Rule(figure: "duplicate_rate", direction: .atOrAbove, unit: .rate, degraded: 0.01, unhealthy: 0.05),
        Rule(figure: "verification_rate", direction: .below, unit: .rate, degraded: 0.90, unhealthy: 0.50),
        Rule(figure: "unknown_posts", direction: .atOrAbove, unit: .count, degraded: 5, unhealthy: 50),
        Rule(figure: "open_breakers", direction: .atOrAbove, unit: .count, degraded: 1, unhealthy: 0),
        Rule(figure: "paused_accounts", direction: .atOrAbove, unit: .count, degraded: 1, unhealthy: 0),
        Rule(figure: "late_jobs", direction: .atOrAbove, unit: .count, degraded: 1, unhealthy: 0),
        Rule(figure: "parked_workers", direction: .atOrAbove, unit: .count, degraded: 1, unhealthy: 1),
    ]

    /// The rule for `figure`.
    public func rule(_ figure: String) -> Rule? { rules.first { $0.figure == figure } }
}
