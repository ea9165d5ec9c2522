import SteadyCore

/// One rate-limit bucket: a fixed window per account.
struct RateSpec: Sendable {
    let bucket: String
    let limit: Int
    let windowMs: Int64
    let cost: Int
    /// Bluesky's `RateLimit-Policy` value.
    var policy: String? { "\(limit);w=\(windowMs / 1000)" }

    static let minute: Int64 = 60_000

    /// The buckets a route counts against; the first one is shown in the headers.
    static func specs(for route: Route) -> [RateSpec] {
        switch route {
        case .xCreate: return [RateSpec(bucket: "x-create", limit: 100, windowMs: 15 * minute, cost: 1)]
        case .xRead: return [RateSpec(bucket: "x-read", limit: 900, windowMs: 15 * minute, cost: 1)]
        case .xLookup: return [RateSpec(bucket: "x-lookup", limit: 900, windowMs: 15 * minute, cost: 1)]
        case .xTimeline: return [RateSpec(bucket: "x-timeline", limit: 900, windowMs: 15 * minute, cost: 1)]
        case .xMentions: return [RateSpec(bucket: "x-mentions", limit: 300, windowMs: 15 * minute, cost: 1)]
        case .xMe: return [RateSpec(bucket: "x-me", limit: 75, windowMs: 15 * minute, cost: 1)]
        case .xToken: return [RateSpec(bucket: "x-token", limit: 1_000, windowMs: 15 * minute, cost: 1)]
        case .xMediaUpload, .xMediaMetadata:
            return [RateSpec(bucket: "x-media", limit: 500, windowMs: 15 * minute, cost: 1)]
        case .xMediaStatus: return [RateSpec(bucket: "x-media-status", limit: 1_000, windowMs: 15 * minute, cost: 1)]
        case .mastodonMediaUpload:
            return [
                RateSpec(bucket: "mastodon", limit: 300, windowMs: 5 * minute, cost: 1),
                RateSpec(bucket: "mastodon-media", limit: 30, windowMs: 30 * minute, cost: 1),
            ]
        case .mastodonMediaStatus: return [RateSpec(bucket: "mastodon", limit: 300, windowMs: 5 * minute, cost: 1)]
        case .mastodonCreate:
            return [
                RateSpec(bucket: "mastodon", limit: 300, windowMs: 5 * minute, cost: 1),
                RateSpec(bucket: "mastodon-statuses", limit: 300, windowMs: 180 * minute, cost: 1),
            ]
        case .mastodonCredentials, .mastodonRead, .mastodonLookup, .mastodonTimeline, .mastodonNotifications,
            .mastodonInstance:
            return [RateSpec(bucket: "mastodon", limit: 300, windowMs: 5 * minute, cost: 1)]
        case .blueskyCreateRecord:
            return [RateSpec(bucket: "bluesky-write", limit: 5_000, windowMs: 60 * minute, cost: 3)]
        case .blueskyUploadBlob:
            return [RateSpec(bucket: "bluesky-blob", limit: 1_000, windowMs: 1_440 * minute, cost: 1)]
        case .blueskyCreateSession:
            return [RateSpec(bucket: "bluesky-session", limit: 30, windowMs: 5 * minute, cost: 1)]
        case .blueskyRefreshSession, .blueskyGetSession, .blueskyGetRecord, .blueskyListRecords, .blueskyGetPosts,
            .blueskyNotifications:
            return [RateSpec(bucket: "bluesky-read", limit: 3_000, windowMs: 5 * minute, cost: 1)]
        case .facebookFeed, .facebookPhotos, .facebookPublished, .facebookNode:
            // The Page's business-use-case allowance (a rolling 24 h, here a fixed hour).
            return [RateSpec(bucket: "facebook", limit: 200, windowMs: 60 * minute, cost: 1)]
        case .webLoginPage, .webLogin, .webComposePage, .webCompose, .webPost:
            return []
        }
    }
}

extension Store {
    private func windowKey(_ spec: RateSpec, _ account: String?) -> String {
        (account ?? "-anonymous-") + "|" + spec.bucket
    }

    /// The window of `spec` for `account` as it stands at `now` (a fresh one when expired).
    func currentWindow(_ spec: RateSpec, account: String?, now: Int64) -> RateWindow {
        if let window = rateWindows[windowKey(spec, account)], now < window.resetMs {
            return window
        }
        return RateWindow(startMs: now, durationMs: spec.windowMs, limit: spec.limit * rateLimitScale, used: 0)
    }

    /// Counts the request against every bucket of its route. Returns nil when allowed (and the
    /// headers to send in `exchange.rateHeaders`), else the 429 response.
    mutating func consumeRate(_ exchange: inout Exchange) -> SimResponse? {
        let specs = RateSpec.specs(for: exchange.route)
        guard let first = specs.first, let platform = exchange.route.platform else { return nil }
        var windows = specs.map { currentWindow($0, account: exchange.account, now: exchange.now) }
        if let over = windows.indices.first(where: { windows[$0].used + specs[$0].cost > windows[$0].limit }) {
            let headers = Store.rateHeaders(
                platform: platform, window: windows[over], spec: specs[over], remaining: 0, now: exchange.now,
                retryAfterS: max(0, (windows[over].resetMs - exchange.now + 999) / 1000))
            exchange.rateHeaders = headers
            return Store.tooManyRequests(platform: platform, headers: headers)
        }
        for index in windows.indices {
            windows[index].used += specs[index].cost
            rateWindows[windowKey(specs[index], exchange.account)] = windows[index]
        }
        exchange.rateHeaders = Store.rateHeaders(
            platform: platform, window: windows[0], spec: first,
            remaining: max(0, windows[0].limit - windows[0].used), now: exchange.now, retryAfterS: nil)
        return nil
    }

    /// The headers of the route's first bucket, without counting the request.
    func peekRateHeaders(_ exchange: Exchange) -> [(String, String)] {
        guard let spec = RateSpec.specs(for: exchange.route).first, let platform = exchange.route.platform else {
            return []
        }
        let window = currentWindow(spec, account: exchange.account, now: exchange.now)
        return Store.rateHeaders(
            platform: platform, window: window, spec: spec, remaining: max(0, window.limit - window.used),
            now: exchange.now, retryAfterS: nil)
    }

    /// The 429 the `rate-limit` fault sends: remaining 0, reset after `retryAfterS`.
    func injectedRateLimit(_ exchange: inout Exchange, retryAfterS: Int64) -> SimResponse {
        guard let platform = exchange.route.platform else {
            return .html(429, WebPages.errorPage(status: 429, message: "Too many requests"))
        }
        let spec =
            RateSpec.specs(for: exchange.route).first
            ?? RateSpec(bucket: "any", limit: 1, windowMs: 60_000, cost: 1)
        let window = RateWindow(
            startMs: exchange.now + retryAfterS * 1000 - spec.windowMs, durationMs: spec.windowMs, limit: spec.limit,
            used: spec.limit)
        let headers = Store.rateHeaders(
            platform: platform, window: window, spec: spec, remaining: 0, now: exchange.now,
            retryAfterS: retryAfterS)
        exchange.rateHeaders = headers
        return Store.tooManyRequests(platform: platform, headers: headers)
    }

    static func rateHeaders(
        platform: Platform, window: RateWindow, spec: RateSpec, remaining: Int, now: Int64, retryAfterS: Int64?
    ) -> [(String, String)] {
        let resetSeconds = (window.resetMs + 999) / 1000
        switch platform {
        case .x:
            return [
                ("x-rate-limit-limit", String(window.limit)),
                ("x-rate-limit-remaining", String(remaining)),
                ("x-rate-limit-reset", String(resetSeconds)),
            ]
        case .mastodon:
            return [
                ("x-ratelimit-limit", String(window.limit)),
                ("x-ratelimit-remaining", String(remaining)),
                ("x-ratelimit-reset", Timestamps.isoMicros(ms: window.resetMs)),
            ]
        case .bluesky:
            var headers = [
                ("ratelimit-limit", String(window.limit)),
                ("ratelimit-remaining", String(remaining)),
                ("ratelimit-reset", String(resetSeconds)),
                ("ratelimit-policy", spec.policy ?? ""),
            ]
            if let retryAfterS {
                headers.append(("retry-after", String(retryAfterS)))
            }
            return headers
        case .facebook:
            let used = window.limit - remaining
            let percent = window.limit > 0 ? Int64(used) * 100 / Int64(window.limit) : 100
            let regain = remaining == 0 ? max(1, (window.resetMs - now + 59_999) / 60_000) : 0
            return [facebookUsageHeader(percent: percent, regainMinutes: regain)]
        }
    }

    static func tooManyRequests(platform: Platform, headers: [(String, String)]) -> SimResponse {
        switch platform {
        case .x:
            return .json(
                429,
                [
                    "title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank",
                    "status": 429,
                ], headers: headers)
        case .mastodon:
            return .json(429, ["error": "Too many requests"], headers: headers)
        case .bluesky:
            return .json(429, ["error": "RateLimitExceeded", "message": "Rate Limit Exceeded"], headers: headers)
        case .facebook:
            return ErrorBodies.facebook(
                400, code: 80001,
                "(#80001) There have been too many calls to this Page account. Wait a bit and try again. For more info, please refer to https://developers.facebook.com/docs/graph-api/overview/rate-limiting.",
                headers: headers)
        }
    }

    /// `X-Business-Use-Case-Usage`: per business id, the percentages used of the allowance
    /// (call count rising with calls; CPU and total time below it) and, once throttled, the
    /// minutes until access comes back.
    static func facebookUsageHeader(percent: Int64, regainMinutes: Int64) -> (String, String) {
        let entry: JSON = [
            "type": "pages", "call_count": .int(percent), "total_cputime": .int(percent / 2), "total_time": .int(percent * 3 / 4),
            "estimated_time_to_regain_access": .int(regainMinutes),
        ]
        return ("x-business-use-case-usage", JSON.object([JSON.Member(facebookBusinessID, [entry])]).serialized)
    }

    static let facebookBusinessID = "1000000000000001"
}
