import SteadyCore

/// What the first, short look at a request decides: who it is for and which fault fires.
struct Plan: Sendable {
    let account: String?
    let platform: Platform?
    let fault: FiredFault?
}

extension Store {
    /// The account a request is about, from its token, form, body or cookie, without checking
    /// anything: fault rules narrow by it.
    func identify(_ route: Route, _ request: SimRequest) -> String? {
        switch route {
        case .xToken:
            let refresh = parseForm(request.bodyText).first { $0.0 == "refresh_token" }?.1
            return refresh.flatMap { tokens[$0]?.account }
        case .blueskyCreateSession:
            return JSON.parse(request.body)?["identifier"]?.stringValue.flatMap { blueskyRepo($0)?.name }
        case .webLoginPage:
            return request.queryValue("account").flatMap { accounts[$0]?.name }
        case .webLogin:
            guard let username = parseForm(request.bodyText).last(where: { $0.0 == "username" })?.1 else { return nil }
            return accounts[username]?.name
        case .webComposePage, .webCompose:
            return webAccount(request)?.name
        case .webPost:
            return request.parameters["id"].flatMap { findPost($0) }.map { posts[$0].account }
        case .facebookFeed, .facebookPhotos, .facebookPublished, .facebookNode:
            return Store.facebookToken(request).flatMap { tokens[$0]?.account }
        default:
            return request.bearer.flatMap { tokens[$0]?.account }
        }
    }

    /// Identifies the request and picks its fault.
    mutating func plan(_ route: Route, _ request: SimRequest) -> Plan {
        let account = identify(route, request)
        let platform = route.platform ?? account.flatMap { accounts[$0]?.platform }
        let startsProcessing =
            route == .mastodonMediaUpload
            || (route == .xMediaUpload
                && Store.xUploadFields(request).fields.last { $0.0 == "command" }?.1.uppercased() == "FINALIZE")
        let fault = chooseFault(
            category: route.category, platform: platform, account: account, method: request.method,
            startsProcessing: startsProcessing)
        return Plan(account: account, platform: platform, fault: fault)
    }

    /// Runs the request against the state under the planned fault and logs it.
    mutating func execute(_ route: Route, _ request: SimRequest, plan: Plan, startedMono: Int64) -> Outcome {
        let now = now()
        var ex = Exchange(route: route, request: request, now: now, account: plan.account, platform: plan.platform)
        let fault = plan.fault
        if let fault, let account = plan.account {
            switch fault.kind {
            case .tokenExpired: _ = expireAccessTokens(of: account, now: now)
            case .tokenRevoked: revoke(account: account)
            default: break
            }
        }
        if fault?.kind == .rewriteURLs { ex.rewriteURLs = true }
        if fault?.kind == .slowTimeline { ex.pageCap = 5 }
        if fault?.kind == .slowProcessing || fault?.kind == .processingFailure { ex.processingFault = fault }

        var response: SimResponse
        switch fault?.kind {
        case .errorBefore?:
            response = ErrorBodies.generic(status: fault?.status ?? 503, platform: route.platform, headers: peekRateHeaders(ex))
        case .rateLimit?:
            response = injectedRateLimit(&ex, retryAfterS: fault?.retryAfterS ?? 60)
        case .duplicateContent?:
            if route.isWeb {
                response = .html(403, WebPages.errorPage(status: 403, message: "Whoops! You already said that."))
            } else if route.platform == .facebook {
                response = ErrorBodies.facebookDuplicate(peekRateHeaders(ex))
            } else {
                response = ErrorBodies.xDuplicate(peekRateHeaders(ex))
            }
        default:
            response = dispatch(&ex)
        }
        if fault?.kind == .errorAfter {
            let headers = ex.rateHeaders.isEmpty ? peekRateHeaders(ex) : ex.rateHeaders
            response = ErrorBodies.generic(status: fault?.status ?? 500, platform: route.platform, headers: headers)
        }
        if fault?.kind == .highUsage {
            response.addHeaders([Store.facebookUsageHeader(percent: 96, regainMinutes: max(1, (fault?.retryAfterS ?? 60) / 60))])
        }
        let delivery: Delivery
        switch fault?.kind {
        case .loseResponse?: delivery = .lose
        case .holdResponse?: delivery = .hold(fault?.delayMs ?? 60_000)
        case .hangResultPage?: delivery = .hold(nil)
        default: delivery = .send
        }
        let account = ex.account ?? plan.account
        var responded = true
        if case .lose = delivery { responded = false }
        log(
            RequestRecord(
                seq: takeRequestSeq(), atMs: now, method: request.method, path: request.path, account: account,
                status: response.status, fault: fault?.kind.rawValue, idempotencyKey: ex.idempotencyKey
                    ?? request.header("idempotency-key"),
                rkey: ex.rkey, durationMs: SteadyClock.monotonicMillis() - startedMono, responded: responded))
        return Outcome(response: response, delivery: delivery, account: account, fault: fault?.kind)
    }

    private mutating func dispatch(_ ex: inout Exchange) -> SimResponse {
        switch ex.route {
        case .xCreate: return xCreate(&ex)
        case .xRead: return xRead(&ex)
        case .xLookup: return xLookup(&ex)
        case .xMe: return xMe(&ex)
        case .xTimeline: return xTimeline(&ex)
        case .xMentions: return xMentions(&ex)
        case .xToken: return xToken(&ex)
        case .xMediaUpload: return xMediaUpload(&ex)
        case .xMediaStatus: return xMediaStatus(&ex)
        case .xMediaMetadata: return xMediaMetadata(&ex)
        case .mastodonMediaUpload: return mastodonMediaUpload(&ex)
        case .mastodonMediaStatus: return mastodonMediaStatus(&ex)
        case .mastodonCredentials: return mastodonCredentials(&ex)
        case .mastodonCreate: return mastodonCreate(&ex)
        case .mastodonRead: return mastodonRead(&ex)
        case .mastodonLookup: return mastodonLookup(&ex)
        case .mastodonTimeline: return mastodonTimeline(&ex)
        case .mastodonNotifications: return mastodonNotifications(&ex)
        case .mastodonInstance: return mastodonInstance(&ex)
        case .blueskyCreateSession: return blueskyCreateSession(&ex)
        case .blueskyRefreshSession: return blueskyRefreshSession(&ex)
        case .blueskyGetSession: return blueskyGetSession(&ex)
        case .blueskyCreateRecord: return blueskyCreateRecord(&ex)
        case .blueskyGetRecord: return blueskyGetRecord(&ex)
        case .blueskyListRecords: return blueskyListRecords(&ex)
        case .blueskyGetPosts: return blueskyGetPosts(&ex)
        case .blueskyNotifications: return blueskyNotifications(&ex)
        case .blueskyUploadBlob: return blueskyUploadBlob(&ex)
        case .facebookFeed: return facebookFeed(&ex)
        case .facebookPhotos: return facebookPhotos(&ex)
        case .facebookPublished: return facebookPublished(&ex)
        case .facebookNode: return facebookNode(&ex)
        case .webLoginPage: return webLoginPage(&ex)
        case .webLogin: return webLogin(&ex)
        case .webComposePage: return webComposePage(&ex)
        case .webCompose: return webCompose(&ex)
        case .webPost: return webPost(&ex)
        }
    }
}
