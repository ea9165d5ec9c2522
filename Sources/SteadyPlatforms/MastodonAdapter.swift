import SteadyCore
import SteadyHTTP

/// Mastodon's REST API with a bearer token (PLATFORMS.md, "Mastodon"). Creates carry the
/// attempt's `Idempotency-Key`, so a retry of the same attempt within the instance's hour
/// returns the same status instead of a second one. The key cannot be queried: verification
/// after an unknown outcome is by timeline (or by re-sending the same attempt within the hour,
/// which the posting worker may decide to do; this adapter never does it on its own).
public final class MastodonAdapter: PlatformAdapter {
    public let platform = Platform.mastodon
    public private(set) var session: SessionTokens
    public var lastRateLimit: RateLimitInfo? { transport.lastRateLimit }
    public let credentials: MastodonCredentials
    /// The instance's limits (`GET /api/v2/instance`); defaults until `loadInstanceLimits()`.
    public var maxCharacters = TextLength.mastodonDefaultLimit
    public var charactersReservedPerURL = TextLength.mastodonDefaultURLLength
    let transport: AdapterTransport

    public init(baseURL: String, credentials: MastodonCredentials, session: SessionTokens? = nil, client: HTTPClient,
                now: @escaping @Sendable () -> Int64 = { SteadyClock.wallMillis() }) {
        self.credentials = credentials
        var s = session ?? SessionTokens()
        s.accessToken = credentials.accessToken  // Mastodon tokens never rotate
        self.session = s
        transport = AdapterTransport(platform: .mastodon, baseURL: baseURL, client: client, now: now)
        transport.redactor = Redactor(secrets: [credentials.accessToken])
    }

    /// Mastodon tokens never rotate: only the cached own id and handle are taken.
    public func adopt(_ tokens: SessionTokens) {
        if let id = tokens.userId { session.userId = id }
        if let handle = tokens.handle { session.handle = handle }
    }

    func authorized(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], json: JSON? = nil) -> HTTPRequest {
        var headers: HTTPHeaders = ["Authorization": "Bearer \(credentials.accessToken)", "Accept": "application/json"]
        if json != nil { headers.add("Content-Type", "application/json") }
        return HTTPRequest(method: method, url: transport.url(path, query), headers: headers, body: json?.bytes)
    }

    public func validate(_ draft: PostDraft) throws(PlatformError) {
        let rules = MastodonPlatform()
        try TextLength.check(draft, measured: rules.measure(draft.text, limit: maxCharacters, urlLength: charactersReservedPerURL),
                             unit: rules.lengthUnit)
    }

    /// Reads `configuration.statuses.max_characters` and `characters_reserved_per_url`.
    public func loadInstanceLimits() throws(PlatformError) {
        let request = authorized(.get, "/api/v2/instance")
        let json = try transport.sendExpectingJSON(request, operation: "instance", kind: .read).json
        let statuses = json["configuration"]?["statuses"]
        if let max = statuses?["max_characters"]?.int, max > 0 { maxCharacters = max }
        if let per = statuses?["characters_reserved_per_url"]?.int, per > 0 { charactersReservedPerURL = per }
    }

    public func create(_ draft: PostDraft, attempt: AttemptKey) throws(PlatformError) -> RemotePost {
        try validate(draft)
        // No visibility: the account's own default applies.
        var body: [(String, JSON?)] = [("status", JSON(draft.text))]
        if let reply = draft.replyTo { body.append(("in_reply_to_id", JSON(reply))) }
        if !draft.mediaHandles.isEmpty { body.append(("media_ids", .array(draft.mediaHandles.map(JSON.init)))) }
        var request = authorized(.post, "/api/v1/statuses", json: JSON.obj(body))
        request.headers.add("Idempotency-Key", attempt.mastodonIdempotencyKey)
        let response = try transport.send(request, operation: "create", kind: .create)
        if Self.isStillProcessing(response) {
            throw PlatformError(platform: platform, errorClass: .noEffect,
                                evidence: transport.evidence(response, request: request, operation: "create", platformError: nil),
                                message: "Mastodon has not finished processing the media: nothing was published; try again later")
        }
        guard response.isSuccess else { throw transport.failure(response, request: request, operation: "create", kind: .create) }
        let json = try transport.json(response, request: request, operation: "create", kind: .create)
        guard let post = Self.post(from: json) else {
            throw transport.malformed(response, request: request, operation: "create", kind: .create, what: "no status id")
        }
        return post
    }

    public func lookup(id: String) throws(PlatformError) -> RemotePost? {
        guard Self.isStatusId(id) else { return nil }
        let request = authorized(.get, "/api/v1/statuses/\(id)")
        let response = try transport.send(request, operation: "lookup", kind: .read)
        if response.status == 404 { return nil }
        guard response.isSuccess else { throw transport.failure(response, request: request, operation: "lookup", kind: .read) }
        let json = try transport.json(response, request: request, operation: "lookup", kind: .read)
        guard let post = Self.post(from: json) else {
            throw transport.malformed(response, request: request, operation: "lookup", kind: .read, what: "no status id")
        }
        return post
    }

    public func findByIdempotency(_ attempt: AttemptKey, draft: PostDraft) throws(PlatformError) -> IdempotencyFind {
        .notSupported("Mastodon's Idempotency-Key cannot be queried (a re-POST would create the post if absent): verify by the own timeline")
    }

    public func ownPosts(since sinceMs: Int64?, cursor: PageCursor?, limit: Int) throws(PlatformError) -> Page<RemotePost> {
        let account = try ownUserId()
        var query: [(String, String)] = [("limit", String(min(max(limit, 1), 40))), ("exclude_reblogs", "true")]
        if let cursor { query.append(("max_id", cursor.value)) }
        let request = authorized(.get, "/api/v1/accounts/\(account)/statuses", query: query)
        let (items, next) = try listing(request, operation: "timeline")
        // Boosts are not the account's own posts (their content is empty and the text is someone else's).
        let posts = items.filter { !($0["reblog"]?.isObject ?? false) }.compactMap(Self.post(from:))
        return XAdapter.cut(posts, next: next, since: sinceMs)
    }

    public func mentions(cursor: PageCursor?, limit: Int) throws(PlatformError) -> Page<Mention> {
        var query: [(String, String)] = [("types[]", "mention"), ("limit", String(min(max(limit, 1), 80)))]
        if let cursor { query.append(("max_id", cursor.value)) }
        let request = authorized(.get, "/api/v1/notifications", query: query)
        let (items, next) = try listing(request, operation: "mentions")
        let mentions: [Mention] = items.compactMap { n in
            guard n["type"]?.string == nil || n["type"]?.string == "mention",
                  let id = n["id"]?.stringOrNumber, let status = n["status"], let post = Self.post(from: status) else { return nil }
            return Mention(id: id, postId: post.id, authorId: n["account"]?["id"]?.stringOrNumber,
                           authorHandle: n["account"]?["acct"]?.string ?? n["account"]?["username"]?.string, text: post.text,
                           createdAtMs: n["created_at"]?.string.flatMap(HTTPTime.parseISO8601) ?? post.createdAtMs,
                           inReplyTo: post.inReplyTo)
        }
        return Page(items: mentions, next: next)
    }

    public func metrics(ids: [String]) throws(PlatformError) -> [String: PostMetrics] { try metricsByLookup(ids: ids) }

    public func identity() throws(PlatformError) -> Identity {
        let request = authorized(.get, "/api/v1/accounts/verify_credentials")
        let (response, json) = try transport.sendExpectingJSON(request, operation: "identity", kind: .read)
        guard let id = json["id"]?.stringOrNumber else {
            throw transport.malformed(response, request: request, operation: "identity", kind: .read, what: "no id")
        }
        session.userId = id
        session.handle = json["acct"]?.string ?? json["username"]?.string
        return Identity(userId: id, handle: session.handle)
    }

    public func refreshAuth() throws(PlatformError) -> RefreshOutcome {
        .notRefreshable("Mastodon tokens do not expire and cannot be refreshed: a refused token was revoked; re-authorize the account")
    }

    // MARK: helpers

    private func ownUserId() throws(PlatformError) -> String {
        if let id = session.userId { return id }
        return try identity().userId
    }

    private func listing(_ request: HTTPRequest, operation: String) throws(PlatformError) -> ([JSON], PageCursor?) {
        let (response, json) = try transport.sendExpectingJSON(request, operation: operation, kind: .read)
        guard let items = json.array else {
            throw transport.malformed(response, request: request, operation: operation, kind: .read, what: "not an array")
        }
        let next = items.isEmpty ? nil : Self.nextMaxId(linkHeaders: response.headers.values("Link")).map(PageCursor.init)
        return (items, next)
    }

    /// The `max_id` of the `rel="next"` link (only the id is kept: the token never follows a
    /// URL the server chose).
    static func nextMaxId(linkHeaders: [String]) -> String? {
        for header in linkHeaders {
            for part in splitLinks(header) {
                guard let open = part.firstIndex(of: "<"), let close = part.firstIndex(of: ">"), open < close else { continue }
                let params = part[part.index(after: close)...].split(separator: ";").map { $0.trimmingCharacters() }
                let isNext = params.contains { p in
                    let kv = p.split(separator: "=", maxSplits: 1)
                    guard kv.count == 2, kv[0].trimmingCharacters().lowercased() == "rel" else { return false }
                    let value = kv[1].trimmingCharacters().replacingAll("\"", with: "")
                    return value.split(separator: " ").contains("next")
                }
                if isNext {
                    let url = String(part[part.index(after: open)..<close])
                    if let maxId = URLEncoding.queryValue("max_id", in: url), !maxId.isEmpty { return maxId }
                }
            }
        }
        return nil
    }

    /// Splits a Link header at the commas between `<…>` entries (URLs may contain commas).
    static func splitLinks(_ header: String) -> [String] {
        var parts: [String] = []
        var current = ""
        var inURL = false
        for c in header {
            if c == "<" { inURL = true }
            if c == ">" { inURL = false }
            if c == ",", !inURL {
                parts.append(current)
                current = ""
            } else {
                current.append(c)
            }
        }
        if !current.isEmpty { parts.append(current) }
        return parts
    }

    static func isStatusId(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64 && id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 122) || ($0 >= 65 && $0 <= 90) }
    }

    static func post(from status: JSON) -> RemotePost? {
        guard let id = status["id"]?.stringOrNumber, !id.isEmpty else { return nil }
        let html = status["content"]?.string ?? ""
        let text = html.isEmpty ? (status["text"]?.string ?? "") : HTMLText.plainText(html)
        let metrics = PostMetrics(likes: status["favourites_count"]?.int ?? 0, reposts: status["reblogs_count"]?.int ?? 0,
                                  replies: status["replies_count"]?.int ?? 0, quotes: status["quotes_count"]?.int ?? 0)
        let media: [MediaType.Kind]? = status["media_attachments"]?.array.map { items in
            items.map { item -> MediaType.Kind in
                switch item["type"]?.string {
                case "gifv": .gif
                case "video": .video
                default: .image
                }
            }
        }
        return RemotePost(id: id, text: text, createdAtMs: status["created_at"]?.string.flatMap(HTTPTime.parseISO8601),
                          url: status["url"]?.string ?? status["uri"]?.string, inReplyTo: status["in_reply_to_id"]?.stringOrNumber,
                          metrics: metrics, media: media)
    }
}
