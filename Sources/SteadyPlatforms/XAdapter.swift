import SteadyCore
import SteadyHTTP

/// X API v2 with OAuth 2.0 user-context bearer tokens (PLATFORMS.md, "X").
/// No idempotency key exists on X: after an unknown outcome, verification is by timeline.
public final class XAdapter: PlatformAdapter {
    public let platform = Platform.x
    public private(set) var session: SessionTokens
    public var lastRateLimit: RateLimitInfo? { transport.lastRateLimit }
    public let credentials: XCredentials
    let transport: AdapterTransport

    static let tweetFields = "created_at,public_metrics,referenced_tweets,author_id,in_reply_to_user_id,attachments"
    /// Asked with every read of posts, so a post's media kinds are known (verification).
    static let mediaQuery: [(String, String)] = [("expansions", "attachments.media_keys"), ("media.fields", "type")]

    /// `baseURL` is `https://api.x.com` (or the simulator's). `session` is the last persisted
    /// rotation, if any; otherwise the credentials file's tokens are used.
    public init(baseURL: String, credentials: XCredentials, session: SessionTokens? = nil, client: HTTPClient,
                now: @escaping @Sendable () -> Int64 = { SteadyClock.wallMillis() }) {
        self.credentials = credentials
        var s = session ?? SessionTokens()
        if s.accessToken == nil { s.accessToken = credentials.accessToken }
        if s.refreshToken == nil { s.refreshToken = credentials.refreshToken }
        self.session = s
        transport = AdapterTransport(platform: .x, baseURL: baseURL, client: client, now: now)
        updateRedactor()
    }

    private func updateRedactor() {
        transport.redactor = Redactor(secrets: session.secrets + Credentials.x(credentials).secrets)
    }

    func authorized(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], json: JSON? = nil) -> HTTPRequest {
        var headers: HTTPHeaders = ["Authorization": "Bearer \(session.accessToken ?? credentials.accessToken)", "Accept": "application/json"]
        if json != nil { headers.add("Content-Type", "application/json") }
        return HTTPRequest(method: method, url: transport.url(path, query), headers: headers, body: json?.bytes)
    }

    public func validate(_ draft: PostDraft) throws(PlatformError) {
        try XPlatform().validate(draft)
    }

    public func create(_ draft: PostDraft, attempt: AttemptKey) throws(PlatformError) -> RemotePost {
        try validate(draft)
        var body: [(String, JSON?)] = [("text", JSON(draft.text))]
        if let reply = draft.replyTo { body.append(("reply", JSON.obj([("in_reply_to_tweet_id", JSON(reply))]))) }
        if !draft.mediaHandles.isEmpty { body.append(("media", JSON.obj([("media_ids", .array(draft.mediaHandles.map(JSON.init)))]))) }
        let request = authorized(.post, "/2/tweets", json: JSON.obj(body))
        let response = try transport.send(request, operation: "create", kind: .create)
        if let refused = transport.mediaRefusal(response, request: request, draft: draft) { throw refused }
        guard response.isSuccess else { throw transport.failure(response, request: request, operation: "create", kind: .create) }
        let json = try transport.json(response, request: request, operation: "create", kind: .create)
        guard let data = json["data"], let post = Self.post(from: data, fallbackText: draft.text) else {
            throw transport.malformed(response, request: request, operation: "create", kind: .create, what: "no data.id")
        }
        var result = post
        if result.inReplyTo == nil { result.inReplyTo = draft.replyTo }
        return result
    }

    public func lookup(id: String) throws(PlatformError) -> RemotePost? {
        guard Self.isTweetId(id) else { return nil }
        let request = authorized(.get, "/2/tweets/\(id)", query: [("tweet.fields", Self.tweetFields)] + Self.mediaQuery)
        let response = try transport.send(request, operation: "lookup", kind: .read)
        if Self.isNotFound(response) { return nil }
        guard response.isSuccess else { throw transport.failure(response, request: request, operation: "lookup", kind: .read) }
        let json = try transport.json(response, request: request, operation: "lookup", kind: .read)
        if let data = json["data"], let post = Self.post(from: data, fallbackText: nil, media: Self.mediaKinds(json)) { return post }
        if Self.hasNotFoundProblem(json) { return nil }
        throw transport.malformed(response, request: request, operation: "lookup", kind: .read, what: "neither data nor a not-found error")
    }

    public func findByIdempotency(_ attempt: AttemptKey, draft: PostDraft) throws(PlatformError) -> IdempotencyFind {
        .notSupported("X has no idempotency key: verify by the own timeline since the attempt started")
    }

    public func ownPosts(since sinceMs: Int64?, cursor: PageCursor?, limit: Int) throws(PlatformError) -> Page<RemotePost> {
        let user = try ownUserId()
        var query: [(String, String)] = [
            ("max_results", String(min(max(limit, 5), 100))), ("tweet.fields", Self.tweetFields), ("exclude", "retweets"),
        ] + Self.mediaQuery
        if let cursor { query.append(("pagination_token", cursor.value)) }
        if let sinceMs { query.append(("start_time", HTTPTime.formatISO8601Seconds(millis: sinceMs))) }
        let request = authorized(.get, "/2/users/\(user)/tweets", query: query)
        let (items, next, kinds) = try listing(request, operation: "timeline")
        let posts = items.compactMap { Self.post(from: $0, fallbackText: nil, media: kinds) }
        return Self.cut(posts, next: next, since: sinceMs)
    }

    public func mentions(cursor: PageCursor?, limit: Int) throws(PlatformError) -> Page<Mention> {
        let user = try ownUserId()
        var query: [(String, String)] = [
            ("max_results", String(min(max(limit, 5), 100))), ("tweet.fields", Self.tweetFields),
            ("expansions", "author_id"), ("user.fields", "username"),
        ]
        if let cursor { query.append(("pagination_token", cursor.value)) }
        let request = authorized(.get, "/2/users/\(user)/mentions", query: query)
        let json = try transport.sendExpectingJSON(request, operation: "mentions", kind: .read).json
        var handles: [String: String] = [:]
        for user in json["includes"]?["users"]?.array ?? [] {
            if let id = user["id"]?.stringOrNumber, let name = user["username"]?.string { handles[id] = name }
        }
        let mentions: [Mention] = (json["data"]?.array ?? []).compactMap { item in
            guard let post = Self.post(from: item, fallbackText: nil) else { return nil }
            let author = item["author_id"]?.stringOrNumber
            return Mention(id: post.id, postId: post.id, authorId: author, authorHandle: author.flatMap { handles[$0] },
                           text: post.text, createdAtMs: post.createdAtMs, inReplyTo: post.inReplyTo)
        }
        let next = json["meta"]?["next_token"]?.string.map(PageCursor.init)
        return Page(items: mentions, next: next)
    }

    public func metrics(ids: [String]) throws(PlatformError) -> [String: PostMetrics] { try metricsByLookup(ids: ids) }

    public func identity() throws(PlatformError) -> Identity {
        let request = authorized(.get, "/2/users/me")
        let (response, json) = try transport.sendExpectingJSON(request, operation: "identity", kind: .read)
        guard let id = json["data"]?["id"]?.stringOrNumber else {
            throw transport.malformed(response, request: request, operation: "identity", kind: .read, what: "no data.id")
        }
        session.userId = id
        session.handle = json["data"]?["username"]?.string
        return Identity(userId: id, handle: session.handle)
    }

    /// `POST /2/oauth2/token` with the refresh token (rotated: single-use). Public clients send
    /// `client_id` in the form; confidential clients authenticate with HTTP Basic.
    public func refreshAuth() throws(PlatformError) -> RefreshOutcome {
        guard let refresh = session.refreshToken else {
            throw transport.local(.auth, operation: "refresh", "no refresh token (the offline.access scope was not granted): re-authorize the account")
        }
        var form: [(String, String)] = [("grant_type", "refresh_token"), ("refresh_token", refresh)]
        var headers: HTTPHeaders = ["Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"]
        if let id = credentials.clientId, let secret = credentials.clientSecret {
            headers.add("Authorization", "Basic " + Base64.encode(Array("\(URLEncoding.percentEncode(id)):\(URLEncoding.percentEncode(secret))".utf8)))
        } else if let id = credentials.clientId {
            form.append(("client_id", id))
        }
        let request = HTTPRequest(method: .post, url: transport.url("/2/oauth2/token"), headers: headers, body: Array(URLEncoding.query(form).utf8))
        let (response, json) = try transport.sendExpectingJSON(request, operation: "refresh", kind: .consumingRefresh)
        guard let access = json["access_token"]?.string, !access.isEmpty else {
            throw transport.malformed(response, request: request, operation: "refresh", kind: .consumingRefresh, what: "no access_token")
        }
        session.accessToken = access
        // Rotation: the new refresh token replaces the used one; keep the old only if none came.
        if let newRefresh = json["refresh_token"]?.string, !newRefresh.isEmpty { session.refreshToken = newRefresh }
        let issued = transport.now()
        session.accessExpiresAtMs = json["expires_in"]?.int.map { issued + Int64($0) * 1000 }
        session.accessIssuedAtMs = session.accessExpiresAtMs == nil ? nil : issued
        updateRedactor()
        return .refreshed(session)
    }

    /// Takes tokens another process renewed (and stored) in place of this adapter's.
    public func adopt(_ tokens: SessionTokens) {
        var s = tokens
        if s.accessToken == nil { s.accessToken = credentials.accessToken }
        if s.refreshToken == nil { s.refreshToken = credentials.refreshToken }
        if s.userId == nil { s.userId = session.userId }
        if s.handle == nil { s.handle = session.handle }
        session = s
        updateRedactor()
    }

    // MARK: helpers

    private func ownUserId() throws(PlatformError) -> String {
        if let id = session.userId { return id }
        return try identity().userId
    }

    private func listing(_ request: HTTPRequest, operation: String) throws(PlatformError) -> ([JSON], PageCursor?, [String: MediaType.Kind]) {
        let (response, json) = try transport.sendExpectingJSON(request, operation: operation, kind: .read)
        guard json.isObject else { throw transport.malformed(response, request: request, operation: operation, kind: .read, what: "not an object") }
        let items = json["data"]?.array ?? []
        let next = json["meta"]?["next_token"]?.string.map(PageCursor.init)
        return (items, next, Self.mediaKinds(json))
    }

    /// `includes.media` by media key: `photo`, `animated_gif`, `video`.
    static func mediaKinds(_ json: JSON) -> [String: MediaType.Kind] {
        var out: [String: MediaType.Kind] = [:]
        for m in json["includes"]?["media"]?.array ?? [] {
            guard let key = m["media_key"]?.string else { continue }
            switch m["type"]?.string {
            case "photo": out[key] = .image
            case "animated_gif": out[key] = .gif
            case "video": out[key] = .video
            default: break
            }
        }
        return out
    }

    /// Drops posts older than `since` (newest first: once one is older, the rest are too).
    static func cut(_ posts: [RemotePost], next: PageCursor?, since: Int64?) -> Page<RemotePost> {
        guard let since else { return Page(items: posts, next: next) }
        let kept = posts.filter { ($0.createdAtMs ?? Int64.max) >= since }
        let wentPast = posts.contains { ($0.createdAtMs ?? Int64.max) < since }
        return Page(items: kept, next: wentPast ? nil : next)
    }

    static func isTweetId(_ id: String) -> Bool { !id.isEmpty && id.utf8.count <= 20 && id.utf8.allSatisfy { $0 >= 48 && $0 <= 57 } }

    /// `media`: the answer's media kinds by key; given, the post's `media` is known (a post
    /// without `attachments` has none).
    static func post(from data: JSON, fallbackText: String?, media: [String: MediaType.Kind]? = nil) -> RemotePost? {
        guard let id = data["id"]?.stringOrNumber, !id.isEmpty else { return nil }
        let text = data["text"]?.string.map(HTMLText.decodeEntities) ?? fallbackText ?? ""
        let created = data["created_at"]?.string.flatMap(HTTPTime.parseISO8601)
        let replyTo = (data["referenced_tweets"]?.array ?? []).first { $0["type"]?.string == "replied_to" }?["id"]?.stringOrNumber
        let keys = (data["attachments"]?["media_keys"]?.array ?? []).compactMap(\.string)
        let kinds: [MediaType.Kind]? = media.flatMap { known in
            let mapped = keys.compactMap { known[$0] }
            return mapped.count == keys.count ? mapped : nil
        }
        return RemotePost(id: id, text: text, createdAtMs: created, inReplyTo: replyTo, metrics: metrics(from: data), media: kinds)
    }

    /// `public_metrics` in either spelling (`retweet_count` or, in the newer spec,
    /// `repost_count`; the object may also be called `public_metrics` under `post.fields`).
    static func metrics(from data: JSON) -> PostMetrics? {
        guard let m = data["public_metrics"] ?? data["metrics"], m.isObject else { return nil }
        return PostMetrics(likes: m["like_count"]?.int ?? 0, reposts: m["retweet_count"]?.int ?? m["repost_count"]?.int ?? 0,
                           replies: m["reply_count"]?.int ?? 0, quotes: m["quote_count"]?.int ?? 0,
                           bookmarks: m["bookmark_count"]?.int, impressions: m["impression_count"]?.int)
    }

    static func hasNotFoundProblem(_ json: JSON) -> Bool {
        for e in json["errors"]?.array ?? [] {
            if (e["type"]?.string ?? "").hasSuffix("/resource-not-found") || e["title"]?.string == "Not Found Error" { return true }
        }
        return (json["type"]?.string ?? "").hasSuffix("/resource-not-found") || json["title"]?.string == "Not Found Error"
    }

    static func isNotFound(_ response: HTTPResponse) -> Bool {
        guard response.status == 404 else { return false }
        // A 404 problem object, or a bare 404 for the tweet path.
        guard let json = try? JSON.parse(response.body) else { return true }
        return hasNotFoundProblem(json) || json["title"] == nil
    }
}
