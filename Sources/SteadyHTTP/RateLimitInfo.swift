/// A platform's rate-limit headers, read into one shape whatever their dialect:
/// - X: `x-rate-limit-limit`, `x-rate-limit-remaining`, `x-rate-limit-reset` (epoch seconds),
///   plus the 24-hour caps `x-user-limit-24hour-*` and `x-app-limit-24hour-*`;
/// - Mastodon: `X-RateLimit-Limit`, `X-RateLimit-Remaining`, `X-RateLimit-Reset` (ISO 8601,
///   microseconds allowed);
/// - Bluesky: `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset` (epoch seconds),
///   `RateLimit-Policy`, and `Retry-After` (delta seconds or an HTTP-date) on a 429;
/// - Facebook: `X-Business-Use-Case-Usage`, JSON per business id of `call_count`,
///   `total_cputime`, `total_time` (percentages of the allowance) and
///   `estimated_time_to_regain_access` (minutes), read as `usagePercent` and `regainAtMs`.
/// Header names are matched case-insensitively. Reset values are accepted in either form
/// (epoch seconds or ISO 8601) whatever the dialect; a bare number below 10^9 is taken as
/// seconds from now, since no reset lies in 2001.
public struct RateLimitInfo: Sendable, Equatable {
    public var limit: Int?
    public var remaining: Int?
    /// When the current window resets, ms since the epoch.
    public var resetAtMs: Int64?
    /// `Retry-After` made absolute, ms since the epoch.
    public var retryAtMs: Int64?
    /// X's 24-hour caps: the more restrictive of the user and app caps.
    public var dailyRemaining: Int?
    public var dailyResetAtMs: Int64?
    /// Bluesky's `RateLimit-Policy`, e.g. `5000;w=3600`.
    public var policy: String?
    /// Facebook's business-use-case usage: the highest percentage it reports.
    public var usagePercent: Int?
    /// When Facebook says a throttled business regains access, ms since the epoch.
    public var regainAtMs: Int64?

    /// The usage at which an account pauses before the platform refuses it.
    public static let highUsagePercent = 95

    public init(limit: Int? = nil, remaining: Int? = nil, resetAtMs: Int64? = nil, retryAtMs: Int64? = nil,
                dailyRemaining: Int? = nil, dailyResetAtMs: Int64? = nil, policy: String? = nil) {
        self.limit = limit
        self.remaining = remaining
        self.resetAtMs = resetAtMs
        self.retryAtMs = retryAtMs
        self.dailyRemaining = dailyRemaining
        self.dailyResetAtMs = dailyResetAtMs
        self.policy = policy
    }

    /// Reads whichever dialect is present; nil when no rate-limit header is.
    public static func parse(_ headers: HTTPHeaders, nowMs: Int64) -> RateLimitInfo? {
        var info = RateLimitInfo()
        var any = false
        for prefix in ["x-rate-limit-", "x-ratelimit-", "ratelimit-"] {
            if let v = headers[prefix + "limit"].flatMap(parseLeadingInt) { info.limit = v; any = true }
            if let v = headers[prefix + "remaining"].flatMap(parseLeadingInt) { info.remaining = v; any = true }
            if let v = headers[prefix + "reset"].flatMap({ parseReset($0, nowMs: nowMs) }) { info.resetAtMs = v; any = true }
        }
        if let p = headers["ratelimit-policy"] { info.policy = p; any = true }
        if let v = headers["retry-after"].flatMap({ parseRetryAfter($0, nowMs: nowMs) }) { info.retryAtMs = v; any = true }
        for scope in ["x-user-limit-24hour-", "x-app-limit-24hour-"] {
            guard let remaining = headers[scope + "remaining"].flatMap(parseLeadingInt) else { continue }
            any = true
            let reset = headers[scope + "reset"].flatMap { parseReset($0, nowMs: nowMs) }
            if info.dailyRemaining == nil || remaining < info.dailyRemaining! {
                info.dailyRemaining = remaining
                info.dailyResetAtMs = reset
            }
        }
        if let usage = headers["x-business-use-case-usage"] {
            let percents = ["call_count", "total_cputime", "total_time"].flatMap { scanNumbers(usage, key: $0) }
            if let highest = percents.max() {
                info.usagePercent = highest
                any = true
            }
            if let minutes = scanNumbers(usage, key: "estimated_time_to_regain_access").max(), minutes > 0 {
                info.regainAtMs = nowMs + Int64(min(minutes, 10_000)) * 60_000
                any = true
            }
        }
        return any ? info : nil
    }

    /// When the account should stop sending although nothing was refused yet: the platform
    /// reported a usage of `highUsagePercent` or more; until it regains access, else
    /// `fallbackMs` from now. nil while the usage is below that.
    public func pauseBeforeRefusal(nowMs: Int64, fallbackMs: Int64) -> Int64? {
        guard let usagePercent, usagePercent >= Self.highUsagePercent else { return nil }
        return resumeAtMs(nowMs: nowMs, fallbackMs: fallbackMs)
    }

    /// Every non-negative integer that follows `"key":` in `text` (the usage header is flat
    /// JSON numbers under a business id; no full parser is needed to read them).
    static func scanNumbers(_ text: String, key: String) -> [Int] {
        let bytes = Array(text.utf8)
        let needle = Array("\"\(key)\"".utf8)
        var out: [Int] = []
        var i = 0
        while i + needle.count <= bytes.count {
            guard bytes[i..<(i + needle.count)].elementsEqual(needle) else {
                i += 1
                continue
            }
            i += needle.count
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
            guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { continue }
            i += 1
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x09 { i += 1 }
            var value = 0
            var digits = 0
            while i < bytes.count, bytes[i] >= 48, bytes[i] <= 57, digits < 9 {
                value = value * 10 + Int(bytes[i] - 48)
                digits += 1
                i += 1
            }
            if digits > 0 { out.append(value) }
        }
        return out
    }

    /// Whether this response says the next request would be refused.
    public var isExhausted: Bool { remaining == 0 || dailyRemaining == 0 }

    /// When requests may resume after a refusal: the latest of the window reset, the
    /// `Retry-After` time and (when exhausted) the 24-hour reset; `fallbackMs` from now when
    /// the headers say nothing usable. Never earlier than one second from now and never later
    /// than `ceilingMs` from now (a wild header must not park an account for a year).
    public func resumeAtMs(nowMs: Int64, fallbackMs: Int64, ceilingMs: Int64 = 25 * 3_600_000) -> Int64 {
        var candidates: [Int64] = []
        if let r = retryAtMs { candidates.append(r) }
        if let r = resetAtMs { candidates.append(r) }
        if dailyRemaining == 0, let r = dailyResetAtMs { candidates.append(r) }
        if let r = regainAtMs { candidates.append(r) }
        let chosen = candidates.filter { $0 > nowMs }.max() ?? (nowMs + fallbackMs)
        return min(max(chosen, nowMs + 1000), nowMs + ceilingMs)
    }

    static func parseLeadingInt(_ text: String) -> Int? {
        // "5000;w=3600" (a policy-like value) still yields its count.
        let head = text.split(separator: ";", maxSplits: 1).first.map { $0.trimmingHTTPWhitespace() } ?? ""
        return Int(head)
    }

    /// Epoch seconds (fractions allowed), seconds from now (below 10^9), or ISO 8601.
    static func parseReset(_ raw: String, nowMs: Int64) -> Int64? {
        let text = raw.trimmingHTTPWhitespace()
        if let v = Double(text), v.isFinite, v >= 0 {
            if v < 1_000_000_000 { return nowMs + millis(seconds: v) }
            return millis(seconds: v)
        }
        return HTTPTime.parseISO8601(text)
    }

    /// Delta seconds or an HTTP-date.
    static func parseRetryAfter(_ raw: String, nowMs: Int64) -> Int64? {
        let text = raw.trimmingHTTPWhitespace()
        if let v = Double(text), v.isFinite, v >= 0 { return nowMs + millis(seconds: v) }
        return HTTPTime.parseHTTPDate(text) ?? HTTPTime.parseISO8601(text)
    }

    /// Seconds (finite, ≥ 0) as milliseconds, a wild value held at 10^11 s (about 3,000
    /// years: `resumeAtMs` caps the wait anyway) so the conversion and the sums after it
    /// cannot overflow — the fuzzer's `Retry-After: 344444444444444440` trapped here.
    static func millis(seconds: Double) -> Int64 {
        Int64(min(seconds, 1e11) * 1000)
    }
}
