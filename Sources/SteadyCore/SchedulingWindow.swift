/// The times a post may be scheduled for: from 2000-01-01T00:00:00Z up to (not including)
/// 2100-01-01T00:00:00Z. Every entry point (the HTTP API, `steadypost post --at/--in`, batch
/// lines) refuses a time outside it, so no stored due time can overflow the arithmetic done
/// on it (lateness, averages, the next wake-up).
public enum SchedulingWindow {
    /// 2000-01-01T00:00:00Z in milliseconds since the epoch.
    public static let earliest: Int64 = 946_684_800_000
    /// 2100-01-01T00:00:00Z in milliseconds since the epoch (excluded).
    public static let end: Int64 = 4_102_444_800_000

    public static func contains(_ millis: Int64) -> Bool { millis >= earliest && millis < end }

    public static let text = "from 2000-01-01T00:00:00Z up to 2100-01-01T00:00:00Z"
}

extension Int64 {
    /// `value` rounded toward zero and clamped to Int64's range (NaN is 0): a figure computed
    /// in Double converts without trapping, however wild the data behind it.
    public init(saturating value: Double) {
        if value.isNaN {
            self = 0
        } else if value >= 9_223_372_036_854_775_807.0 {
            self = .max
        } else if value <= -9_223_372_036_854_775_808.0 {
            self = .min
        } else {
            self = Int64(value)
        }
    }
}
