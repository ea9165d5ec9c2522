import SteadyHTTP
import Testing

/// The three rate-limit header dialects into one `RateLimitInfo`.
@Suite(.timeLimit(.minutes(1)))
struct RateLimitTests {
    let now: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z

    @Test("X: x-rate-limit-* in epoch seconds, plus the 24-hour caps")
    func x() throws {
        let h: HTTPHeaders = [
            "x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": "1767225900",
            "x-app-limit-24hour-limit": "10000", "x-app-limit-24hour-remaining": "9000", "x-app-limit-24hour-reset": "1767300000",
            "x-user-limit-24hour-limit": "17", "x-user-limit-24hour-remaining": "3", "x-user-limit-24hour-reset": "1767290000",
        ]
        let info = try #require(RateLimitInfo.parse(h, nowMs: now))
        #expect(info.limit == 100)
        #expect(info.remaining == 0)
        #expect(info.resetAtMs == 1_767_225_900_000)
        #expect(info.dailyRemaining == 3)
        #expect(info.dailyResetAtMs == 1_767_290_000_000)
        #expect(info.isExhausted)
        #expect(info.resumeAtMs(nowMs: now, fallbackMs: 1) == 1_767_225_900_000)
    }

    @Test("X: an exhausted 24-hour cap outweighs the window")
    func xDaily() throws {
        let h: HTTPHeaders = ["x-rate-limit-remaining": "50", "x-rate-limit-reset": "1767225900",
                              "x-user-limit-24hour-remaining": "0", "x-user-limit-24hour-reset": "1767290000"]
        let info = try #require(RateLimitInfo.parse(h, nowMs: now))
        #expect(info.isExhausted)
        #expect(info.resumeAtMs(nowMs: now, fallbackMs: 1) == 1_767_290_000_000)
    }

    @Test("Mastodon: X-RateLimit-Reset in ISO 8601 with microseconds", arguments: [
        ("2026-01-01T00:05:00.123456Z", Int64(1_767_225_900_123)),
        ("2026-01-01T00:05:00Z", Int64(1_767_225_900_000)),
        ("2026-01-01T01:05:00.5+01:00", Int64(1_767_225_900_500)),
        ("2026-01-01 00:05:00.000000z", Int64(1_767_225_900_000)),
    ])
    func mastodon(_ reset: String, _ expected: Int64) throws {
        let h: HTTPHeaders = ["X-RateLimit-Limit": "300", "X-RateLimit-Remaining": "299", "X-RateLimit-Reset": reset]
        let info = try #require(RateLimitInfo.parse(h, nowMs: now))
        #expect(info.limit == 300)
        #expect(info.remaining == 299)
        #expect(info.resetAtMs == expected)
        #expect(!info.isExhausted)
    }

    @Test("Bluesky: RateLimit-* epoch seconds, policy, Retry-After")
    func bluesky() throws {
        let h: HTTPHeaders = ["RateLimit-Limit": "5000", "RateLimit-Remaining": "0", "RateLimit-Reset": "1767225700",
                              "RateLimit-Policy": "5000;w=3600", "Retry-After": "300"]
        let info = try #require(RateLimitInfo.parse(h, nowMs: now))
        #expect(info.limit == 5000)
        #expect(info.remaining == 0)
        #expect(info.resetAtMs == 1_767_225_700_000)
        #expect(info.retryAtMs == now + 300_000)
        #expect(info.policy == "5000;w=3600")
        #expect(info.resumeAtMs(nowMs: now, fallbackMs: 1) == now + 300_000)
    }

    @Test("Facebook: X-Business-Use-Case-Usage, its highest percentage and the minutes to regain access")
    func facebookUsage() throws {
        let calm: HTTPHeaders = ["X-Business-Use-Case-Usage": #"{"112233": [{"type": "pages", "call_count": 12, "total_cputime": 3, "total_time": 40, "estimated_time_to_regain_access": 0}]}"#]
        let low = try #require(RateLimitInfo.parse(calm, nowMs: now))
        #expect(low.usagePercent == 40 && low.regainAtMs == nil && !low.isExhausted)
        #expect(low.pauseBeforeRefusal(nowMs: now, fallbackMs: 60_000) == nil)
        let busy: HTTPHeaders = ["x-business-use-case-usage": #"{"1": [{"call_count": 20}], "2": [{"type":"pages","call_count":96,"total_cputime":10,"total_time":50,"estimated_time_to_regain_access":12}]}"#]
        let high = try #require(RateLimitInfo.parse(busy, nowMs: now))
        #expect(high.usagePercent == 96 && high.regainAtMs == now + 12 * 60_000)
        #expect(high.pauseBeforeRefusal(nowMs: now, fallbackMs: 60_000) == now + 12 * 60_000)
        let noRegain = try #require(RateLimitInfo.parse(["X-Business-Use-Case-Usage": #"{"1": [{"total_time": 99}]}"#], nowMs: now))
        #expect(noRegain.pauseBeforeRefusal(nowMs: now, fallbackMs: 60_000) == now + 60_000, "the platform's window when it names no time")
        #expect(RateLimitInfo.parse(["X-Business-Use-Case-Usage": "garbage"], nowMs: now) == nil)
    }

    @Test("Retry-After as an HTTP-date")
    func retryAfterDate() throws {
        let info = try #require(RateLimitInfo.parse(["Retry-After": "Sun, 06 Nov 1994 08:49:37 GMT"], nowMs: now))
        #expect(info.retryAtMs == 784_111_777_000)
    }

    @Test("no headers, garbage, and clamping")
    func edges() throws {
        #expect(RateLimitInfo.parse(["Content-Type": "application/json"], nowMs: now) == nil)
        let garbage = try #require(RateLimitInfo.parse(["x-rate-limit-reset": "soon", "x-rate-limit-remaining": "0"], nowMs: now))
        #expect(garbage.resetAtMs == nil)
        #expect(garbage.resumeAtMs(nowMs: now, fallbackMs: 60_000) == now + 60_000)
        // A small number is taken as seconds from now.
        let relative = try #require(RateLimitInfo.parse(["ratelimit-reset": "42"], nowMs: now))
        #expect(relative.resetAtMs == now + 42_000)
        #expect(RateLimitInfo(resetAtMs: now - 5).resumeAtMs(nowMs: now, fallbackMs: 7000) == now + 7000)
        #expect(RateLimitInfo(resetAtMs: now + 100).resumeAtMs(nowMs: now, fallbackMs: 7000) == now + 1000)
        #expect(RateLimitInfo(resetAtMs: now + 400 * 86_400_000).resumeAtMs(nowMs: now, fallbackMs: 7000) == now + 25 * 3_600_000)
    }

    @Test("wild numbers and dates from a platform are held, never trap (the fuzzer's Retry-After: 344444444444444440)")
    func wildValues() throws {
        for header in [("Retry-After", "344444444444444440"), ("Retry-After", "1e300"), ("x-rate-limit-reset", "9223372036854775807"),
                       ("ratelimit-reset", "1e308")] {
            let info = try #require(RateLimitInfo.parse(HTTPHeaders([header]), nowMs: now), "\(header)")
            let resume = info.resumeAtMs(nowMs: now, fallbackMs: 7000)
            #expect(resume == now + 25 * 3_600_000, "held at the ceiling: \(header)")
        }
        for bad in ["Sun, 06 Nov 9223372036854775807 08:49:37 GMT", "Sun, 99999999999999999 Nov 1994 08:49:37 GMT",
                    "Sun, 06 Nov 1994 9223372036854775807:49:37 GMT", "Sun, 06 Nov 1994 08:99:37 GMT"] {
            #expect(HTTPTime.parseHTTPDate(bad) == nil, "\(bad)")
        }
    }

    @Test("HTTP-date formatting: the RFC's example, and a round trip through the parser")
    func httpDate() {
        #expect(HTTPTime.formatHTTPDate(millis: 784_111_777_000) == "Sun, 06 Nov 1994 08:49:37 GMT")
        #expect(HTTPTime.formatHTTPDate(millis: 0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        for t in 0..<50 {
            let ms = Int64(t) * 987_654_321_000 % 4_000_000_000_000
            #expect(HTTPTime.parseHTTPDate(HTTPTime.formatHTTPDate(millis: ms)) == ms)
        }
    }

    @Test("ISO 8601 round trip and rejects")
    func iso() {
        #expect(HTTPTime.formatISO8601(millis: 1_767_225_900_123) == "2026-01-01T00:05:00.123Z")
        #expect(HTTPTime.formatISO8601Seconds(millis: 1_767_225_900_123) == "2026-01-01T00:05:00Z")
        #expect(HTTPTime.formatISO8601(millis: 0) == "1970-01-01T00:00:00.000Z")
        #expect(HTTPTime.parseISO8601("2024-02-29T23:59:59.999Z") == 1_709_251_199_999)
        #expect(HTTPTime.parseISO8601("2000-02-29T00:00:00Z") == 951_782_400_000, "2000 is a leap year")
        #expect(HTTPTime.parseISO8601("2026-01-01T00:00:00+23:59") != nil)
        for t in 0..<50 {
            let ms = Int64(t) * 987_654_321_123 % 4_000_000_000_000
            #expect(HTTPTime.parseISO8601(HTTPTime.formatISO8601(millis: ms)) == ms)
        }
        for bad in ["", "2026-01-01", "2026-13-01T00:00:00Z", "2026-01-01T00:00:00Q", "2026-01-01T00:00:00.Z", "yesterday",
                    // Off the calendar (once rolled over into the next month) and impossible offsets.
                    "2099-02-31T00:00:00Z", "2027-02-29T00:00:00Z", "2100-02-29T00:00:00Z", "2026-04-31T00:00:00Z", "2026-06-00T00:00:00Z",
                    "2026-01-01T00:00:00+99:99", "2026-01-01T00:00:00+24:00", "2026-01-01T00:00:00-05:60"] {
            #expect(HTTPTime.parseISO8601(bad) == nil, "\(bad)")
        }
    }
}
