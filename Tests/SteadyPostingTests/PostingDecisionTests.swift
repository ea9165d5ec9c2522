import Testing
import SteadyCore
import SteadyPlatforms
import SteadyStore
@testable import SteadyPosting
import SteadyTokens

/// The posting worker's pure decisions: the taxonomy's answer to each failure, breaker input,
/// wake-up planning, request parsing, persisted forms.
struct PostingDecisionTests {
    static let settings = PostingSettings(leaseMillis: 60_000, firstVerifyDelayMillis: 1_000, authPauseMillis: 3_600_000)

    static func error(_ cls: ErrorClass, status: Int? = nil, transport: String? = nil, platform: Platform = .x) -> PlatformError {
        PlatformError(platform: platform, errorClass: cls, evidence: ErrorEvidence(operation: "create", httpStatus: status, transport: transport),
                      message: "m")
    }

    static func decide(_ e: PlatformError, refreshed: Bool = false, refusalsBefore: Int = 0) -> AttemptDecision {
        AttemptDecision.decide(e, attemptNumber: 1, refreshed: refreshed, refusalsAfterRefreshBefore: refusalsBefore, now: 10_000, jitter: 0.5,
                               settings: settings)
    }

    @Test("the taxonomy decides: noEffect retries with the platform's backoff, unknown verifies, rate limits pause, auth refreshes once, retries a refusal after a good refresh and pauses on the third in a row, permanent fails")
    func taxonomy() {
        guard case .outcome(.noEffect(_, let retryAt), nil) = Self.decide(Self.error(.noEffect, status: 503)) else { Issue.record("noEffect"); return }
        #expect(retryAt == 10_000 + RetryPolicy.noEffect(for: .x).delay(failures: 1, jitter: 0.5))
        #expect(Self.decide(Self.error(.unknownOutcome, transport: "timeout")) == .outcome(.unknown(reason: Self.error(.unknownOutcome, transport: "timeout").description, verifyAt: 11_000), pause: nil))
        guard case .outcome(.noEffect(_, let resume), let pause?) = Self.decide(Self.error(.rateLimited(untilMs: 99_000), status: 429)) else {
            Issue.record("rate limit"); return
        }
        #expect(resume == 99_000 && pause.kind == .rateLimit && pause.until == 99_000)
        #expect(Self.decide(Self.error(.auth, status: 401)) == .refreshAndRetry)
        guard case .outcome(.noEffect(_, let again), nil) = Self.decide(Self.error(.auth, status: 401), refreshed: true) else {
            Issue.record("auth refused once after a refresh"); return
        }
        #expect(again == 10_000 + RetryPolicy.noEffect(for: .x).delay(failures: 1, jitter: 0.5))
        guard case .outcome(.noEffect(_, let later), nil) = Self.decide(Self.error(.auth, status: 401), refreshed: true, refusalsBefore: 1) else {
            Issue.record("auth refused twice after a refresh"); return
        }
        #expect(later == 10_000 + RetryPolicy.noEffect(for: .x).delay(failures: 2, jitter: 0.5))
        guard case .outcome(.noEffect, let authPause?) = Self.decide(Self.error(.auth, status: 401), refreshed: true, refusalsBefore: 2) else {
            Issue.record("auth refused a third time after a refresh"); return
        }
        #expect(authPause.kind == .auth && authPause.until == 10_000 + 3_600_000)
        #expect(Self.decide(Self.error(.permanent(reason: "too long"), status: 403)) == .outcome(.permanent(reason: "too long"), pause: nil))
    }

    @Test("F09: only 5xx, 408 and transport failures are unhealthy; refusals are the platform answering; local errors say nothing")
    func health() {
        #expect(PlatformHealth.of(Self.error(.unknownOutcome, status: 503)) == .unhealthy)
        #expect(PlatformHealth.of(Self.error(.unknownOutcome, status: 408)) == .unhealthy)
        #expect(PlatformHealth.of(Self.error(.unknownOutcome, transport: "operation timed out")) == .unhealthy)
        #expect(PlatformHealth.of(Self.error(.noEffect, transport: "connection refused")) == .unhealthy)
        #expect(PlatformHealth.of(Self.error(.rateLimited(untilMs: 1), status: 429)) == .healthy)
        #expect(PlatformHealth.of(Self.error(.auth, status: 401)) == .healthy)
        #expect(PlatformHealth.of(Self.error(.permanent(reason: "x"), status: 422)) == .healthy)
        #expect(PlatformHealth.of(Self.error(.auth)) == .silent)
    }

    @Test("F09: the breaker is asked without spending its probe, fed by health, and persisted; a restored half-open breaker may probe again")
    func breaker() {
        var b = CircuitBreaker(threshold: 2, baseOpenMillis: 1000)
        b.record(.unhealthy, now: 0)
        b.record(.healthy, now: 1)
        b.record(.unhealthy, now: 2)
        #expect(b.state == .closed, "a healthy answer resets the count")
        b.record(.unhealthy, now: 3)
        #expect(b.state == .open && !b.wouldAllow(now: 1002) && b.wouldAllow(now: 1003))
        #expect(b.state == .open, "asking does not take the probe")
        #expect(b.allow(now: 1003) && b.state == .halfOpen && !b.wouldAllow(now: 1003))
        var silent = b
        silent.record(.silent, now: 1004)
        #expect(silent.wouldAllow(now: 1004), "a probe that reached nothing may go again")
        let restored = CircuitBreaker.restored(json: b.json, base: CircuitBreaker(threshold: 2, baseOpenMillis: 1000))
        #expect(restored.state == .halfOpen && !restored.probeInFlight && restored.wouldAllow(now: 1005))
        b.record(.unhealthy, now: 1005)
        let reopened = CircuitBreaker.restored(json: b.json, base: CircuitBreaker(threshold: 2, baseOpenMillis: 1000))
        #expect(reopened.state == .open && reopened.openMillis == 2000 && reopened.openedAt == 1005, "open time grows and persists")
        #expect(CircuitBreaker.restored(json: "garbage").state == .closed)
    }

    @Test("F10: the worker sleeps until the first thing it may start, never polls; busy accounts wait for their completion")
    func wakePlanning() {
        typealias A = WakePlanner.Account
        #expect(WakePlanner.next(now: 1000, accounts: [A()], capacityFull: false, nextLeaseExpiry: nil) == nil, "nothing to do: only events")
        #expect(WakePlanner.next(now: 1000, accounts: [A(nextDue: 5000), A(nextDue: 3000)], capacityFull: false, nextLeaseExpiry: nil) == 3000)
        #expect(WakePlanner.next(now: 1000, accounts: [A(pausedUntil: 8000, nextDue: 3000, nextVerification: 2000)], capacityFull: false, nextLeaseExpiry: nil) == 8000)
        #expect(WakePlanner.next(now: 1000, accounts: [A(quotaBlockedUntil: 8000, nextDue: 3000, nextVerification: 4000)], capacityFull: false, nextLeaseExpiry: nil) == 4000,
                "quotas and breakers hold posting, not verification")
        #expect(WakePlanner.next(now: 1000, accounts: [A(breakerBlockedUntil: 6000, nextDue: 3000)], capacityFull: false, nextLeaseExpiry: nil) == 6000)
        #expect(WakePlanner.next(now: 1000, accounts: [A(busy: true, nextDue: 1000)], capacityFull: false, nextLeaseExpiry: nil) == nil)
        #expect(WakePlanner.next(now: 1000, accounts: [A(usable: false, nextDue: 1000)], capacityFull: false, nextLeaseExpiry: nil) == nil)
        #expect(WakePlanner.next(now: 1000, accounts: [A(nextDue: 2000)], capacityFull: true, nextLeaseExpiry: 7000) == 7000, "leases count even when full")
        #expect(WakePlanner.next(now: 1000, accounts: [A(nextDue: 500)], capacityFull: false, nextLeaseExpiry: nil) == 1020, "never a spin")
        #expect(WakePlanner.next(now: 1000, accounts: [A(nextDue: 1001)], capacityFull: false, nextLeaseExpiry: nil, floorMillis: 0) == 1001, "due means due_at <= now, to the ms")
    }

    static var rules: [String: PostRequest.AccountRules] { [
        "news-x": PostRequest.AccountRules(platform: .x) { (draft: PostDraft) throws(PlatformError) in
            if draft.text.count > 280 { throw PlatformError(platform: .x, errorClass: .permanent(reason: "too long"), evidence: ErrorEvidence(operation: "validate"), message: "text too long") }
        },
        "sky": PostRequest.AccountRules(platform: .bluesky) { (_: PostDraft) throws(PlatformError) in },
    ] }

    static func parse(_ text: String) throws(PostRequest.Invalid) -> (posts: [NewPost], batch: Bool) {
        try PostRequest.parse(Array(text.utf8), now: now, accounts: rules)
    }

    /// 2026-05-01T00:00:00Z, inside the scheduling window.
    static let now: Int64 = 1_777_593_600_000

    @Test("create requests: times to integer ms UTC, replies, validation before storing, batch errors name the line")
    func requests() throws {
        let one = try Self.parse(#"{"account":"news-x","text":"hi  there","at":"2026-05-01T12:00:00+02:00","reply_to":"42"}"#)
        #expect(!one.batch && one.posts.count == 1)
        #expect(one.posts[0].dueAt == 1_777_629_600_000 && one.posts[0].inReplyTo == "42" && one.posts[0].platform == "x")
        #expect(one.posts[0].contentHash == ContentNormalizer.hash("hi there"), "normalized content hash")
        #expect(try Self.parse(#"{"account":"news-x","text":"now"}"#).posts[0].dueAt == Self.now)
        #expect(try Self.parse(#"{"account":"news-x","text":"ms","at":1800000000000}"#).posts[0].dueAt == 1_800_000_000_000)
        let batch = try Self.parse(#"{"account":"sky","posts":[{"text":"a","line":1},{"text":"b","account":"news-x","line":3}]}"#)
        #expect(batch.batch && batch.posts.map(\.account) == ["sky", "news-x"])
        let cases: [(String, String)] = [
            (#"{"account":"nobody","text":"x"}"#, "unknown account 'nobody'"),
            (#"{"account":"news-x"}"#, "text: missing"),
            (#"{"account":"news-x","text":"x","at":"tomorrow"}"#, "not an ISO 8601"),
            (#"{"account":"news-x","text":"\#(String(repeating: "y", count: 281))"}"#, "x would refuse it: text too long"),
            (#"{"account":"sky","posts":[{"text":"ok","line":1},{"text":"x","at":"soon","line":7}]}"#, "line 7: at:"),
            (#"{"account":"sky","posts":[{"text":"ok"},{"other":"x"}]}"#, "posts[1]: unknown member \"other\""),
            (#"{"account":"sky","posts":[{"text":"ok"},{"at":null}]}"#, "posts[1]: text: missing"),
            (#"{"account":"sky","posts":[]}"#, "the batch is empty"),
            ("[1,2]", "must be a JSON object"),
            ("{", "not JSON"),
        ]
        for (body, message) in cases {
            #expect { _ = try Self.parse(body) } throws: { error in
                (error as? PostRequest.Invalid)?.message.contains(message) == true
            }
        }
    }

    @Test("hostile create bodies are refused with the field named: times outside 2000-2100, off-calendar dates, controls in text, strict JSON, bounded reply_to")
    func hostileCreateBodies() {
        let cases: [(String, String)] = [
            (#"{"account":"news-x","text":"x","at":-9223372036854775808}"#, "at: -9223372036854775808 ms is outside the times a post may be scheduled for"),
            (#"{"account":"news-x","text":"x","at":9223372036854775807}"#, "outside the times"),
            (#"{"account":"news-x","text":"x","at":"0000-01-01T00:00:00Z"}"#, "outside the times"),
            (#"{"account":"news-x","text":"x","at":"2100-01-01T00:00:00Z"}"#, "outside the times"),
            (#"{"account":"news-x","text":"x","at":"2099-02-31T09:00:00Z"}"#, "not an ISO 8601 date-time on the calendar"),
            (#"{"account":"news-x","text":"x","at":"2099-04-31T09:00:00Z"}"#, "on the calendar"),
            (#"{"account":"news-x","text":"x","at":"2027-01-01T09:00:00+99:99"}"#, "on the calendar"),
            (#"{"account":"news-x","text":"before\u0000after"}"#, "text: control character U+0000 at character 7"),
            (#"{"account":"news-x","text":"\u001b[2J"}"#, "text: control character U+001B"),
            (#"{"account":"news-x","text":"one","text":"two"}"#, "member \"text\" given twice"),
            (#"{"account":"news-x","text":"x","colour":"red"}"#, "unknown member \"colour\""),
            (#"{"account":"news-x","text":"\ud800"}"#, "lone surrogate"),
            (#"{"account":"news-x","text":"x","reply_to":"\#(String(repeating: "9", count: 600))"}"#, "reply_to: 600 bytes; a platform post id is at most 512"),
            (#"{"account":"news-x","text":"x","reply_to":"12\u2028"}"#, "reply_to: a platform post id is printable ASCII"),
        ]
        for (body, message) in cases {
            #expect(throws: PostRequest.Invalid.self, "\(body)") { _ = try Self.parse(body) }
            do { _ = try Self.parse(body) } catch {
                #expect(error.message.contains(message), "\(body) → \(error.message)")
                #expect(!error.message.unicodeScalars.contains { $0.value < 0x20 }, "the error echoes no control character")
            }
        }
        // Invalid UTF-8 is refused, not replaced by U+FFFD.
        let bad = Array(#"{"account":"news-x","text":"caf"#.utf8) + [0xC3] + Array(#""}"#.utf8)
        #expect { _ = try PostRequest.parse(bad, now: Self.now, accounts: Self.rules) } throws: { error in
            (error as? PostRequest.Invalid)?.message.contains("not valid UTF-8") == true
        }
        // What is allowed still is: tabs, line breaks, leap days, offsets, the window's edges.
        let fine = [
            #"{"account":"news-x","text":"a\tb\r\nc"}"#,
            #"{"account":"news-x","text":"x","at":"2028-02-29T23:59:59-05:30"}"#,
            #"{"account":"news-x","text":"x","at":"2000-01-01T00:00:00Z"}"#,
            #"{"account":"news-x","text":"x","at":"2099-12-31T23:59:59.999Z"}"#,
        ]
        for body in fine { #expect(throws: Never.self, "\(body)") { _ = try Self.parse(body) } }
    }

    @Test("pauses and token records persist; a replaced credentials file drops the stale rotation")
    func persistedForms() {
        let pause = AccountPause(kind: .auth, until: 5, reason: "re-authorize: now")
        #expect(AccountPause.parse(until: 5, stored: pause.stored) == pause)
        #expect(AccountPause.parse(until: nil, stored: pause.stored) == nil)
        let creds = Credentials.x(XCredentials(accessToken: "access-one", refreshToken: "refresh-one"))
        let fp = TokenRecord.fingerprint(creds)
        #expect(!fp.contains("access-one"))
        let tokens = SessionTokens(accessToken: "rotated-access", refreshToken: "rotated-refresh", userId: "7")
        let stored = TokenRecord.encode(tokens, fingerprint: fp)
        #expect(TokenRecord.decode(stored, fingerprint: fp) == tokens)
        let replaced = Credentials.x(XCredentials(accessToken: "access-two", refreshToken: "refresh-two"))
        #expect(TokenRecord.decode(stored, fingerprint: TokenRecord.fingerprint(replaced)) == nil)
    }

    @Test("settings: an attempt (create, refresh, create) always fits in its lease")
    func settingsBounds() {
        for lease in [1_000, 8_000, 60_000, 120_000, 600_000] as [Int64] {
            let s = PostingSettings(leaseMillis: lease)
            #expect(3 * s.httpTimeoutMillis < s.leaseMillis)
            #expect(s.httpTimeoutMillis <= 30_000)
        }
        #expect(PostingSettings(leaseMillis: 12_000, httpTimeoutMillis: 3_800).httpTimeoutMillis == 3_800)
        #expect(PostingSettings(leaseMillis: 6_000, httpTimeoutMillis: 60_000).httpTimeoutMillis == 1_833)
        #expect(PostingSettings(hourMillis: 3_000).dayMillis == 72_000)
    }

    @Test("F09 knob: the breaker's first open time comes from the settings (30 s by default), and doubles from there")
    func breakerOpenTime() {
        #expect(PostingSettings().breaker.baseOpenMillis == 30_000)
        var b = PostingSettings(breakerOpenMillis: 1_500).breaker
        for _ in 0..<b.threshold { b.recordUnhealthy(now: 10_000) }
        #expect(b.reopensAt == Int64(11_500))
        let probe = b.allow(now: 11_500)
        #expect(probe, "half-open at the end of the first open time")
        b.recordUnhealthy(now: 11_600)
        #expect(b.reopensAt == Int64(14_600), "reopened for twice as long")
        #expect(CircuitBreaker.restored(json: nil, base: PostingSettings(breakerOpenMillis: 700).breaker).openMillis == 700)
    }

    @Test("the previous worker's leases end at start only when the supervisor reaped it")
    func predecessor() {
        for exit in ["crash", "oom", "hang", "killed", "exited"] {
            #expect(PostingSettings.predecessor(["STEADYPOST_PREVIOUS_EXIT": exit, "STEADYPOST_PREVIOUS_PID": "4242"]) == "posting:4242")
        }
        // `none`: a first start, or a supervisor that died — the old worker may still be alive.
        #expect(PostingSettings.predecessor(["STEADYPOST_PREVIOUS_EXIT": "none", "STEADYPOST_PREVIOUS_PID": "4242"]) == nil)
        #expect(PostingSettings.predecessor(["STEADYPOST_PREVIOUS_EXIT": "crash"]) == nil)
        #expect(PostingSettings.predecessor(["STEADYPOST_PREVIOUS_EXIT": "crash", "STEADYPOST_PREVIOUS_PID": "-1"]) == nil)
        #expect(PostingSettings.predecessor(["STEADYPOST_PREVIOUS_EXIT": "crash", "STEADYPOST_PREVIOUS_PID": "x"]) == nil)
    }
}
