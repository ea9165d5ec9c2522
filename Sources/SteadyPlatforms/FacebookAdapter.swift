import SteadyCore
import SteadyHTTP

/// A Facebook Page through the Graph API with a Page access token (PLATFORMS.md, "Facebook
/// Pages (Graph API)"). The token goes in the `Authorization` header, never in a URL. No
/// idempotency exists: after an unknown outcome, verification is by the Page's
/// `published_posts` since the attempt began, matched by normalized content. A 500 with code
/// 2 and a code 506 duplicate refusal on a create are `unknownOutcome` (the Classifier asks
/// `FacebookPlatform`). The usage header is read into `lastRateLimit` with every answer.
///
/// Photos: each is uploaded unpublished (`POST /{page-id}/photos`, `published=false`), which
/// publishes nothing, and the one create names them all (`attached_media`), so a one-photo
/// post and a ten-photo post take the same path and the create stays the only effect.
/// Metrics and mentions are not read yet: `metrics` answers empty, `mentions` an empty page.
public final class FacebookAdapter: PlatformAdapter {
    public let platform = Platform.facebook
    public private(set) var session: SessionTokens
    public var lastRateLimit: RateLimitInfo? { transport.lastRateLimit }
    public let credentials: FacebookCredentials
    /// The Graph version every path starts with: the base URL's own (`…/v22.0`), else
    /// `FacebookPlatform.graphVersion`.
    public let graphVersion: String
    let transport: AdapterTransport

    static let postFields = "id,message,created_time"

    public init(baseURL: String, credentials: FacebookCredentials, session: SessionTokens? = nil, client: HTTPClient,
                now: @escaping @Sendable () -> Int64 = { SteadyClock.wallMillis() }) {
        self.credentials = credentials
        var s = session ?? SessionTokens()
        s.accessToken = credentials.accessToken  // Page tokens are not rotated by us
        s.userId = credentials.pageId
        self.session = s
        let (root, version) = Self.splitVersion(baseURL)
        graphVersion = version ?? FacebookPlatform.graphVersion
        transport = AdapterTransport(platform: .facebook, baseURL: root, client: client, now: now)
        transport.redactor = Redactor(secrets: [credentials.accessToken])
    }

    /// Page tokens never rotate here: only the cached handle is taken.
    public func adopt(_ tokens: SessionTokens) {
        if let handle = tokens.handle { session.handle = handle }
    }

    /// `/v21.0/PATH`, with the Page token as a bearer; `form` becomes a urlencoded body.
    func authorized(_ method: HTTPMethod, _ path: String, query: [(String, String)] = [], form: [(String, String)]? = nil) -> HTTPRequest {
        var headers: HTTPHeaders = ["Authorization": "Bearer \(credentials.accessToken)", "Accept": "application/json"]
        if form != nil { headers.add("Content-Type", "application/x-www-form-urlencoded") }
        return HTTPRequest(method: method, url: transport.url("/\(graphVersion)\(path)", query), headers: headers,
                           body: form.map { Array(URLEncoding.query($0).utf8) })
    }

    public func validate(_ draft: PostDraft) throws(PlatformError) {
        try FacebookPlatform().validate(draft)
    }

    public func create(_ draft: PostDraft, attempt: AttemptKey) throws(PlatformError) -> RemotePost {
        try validate(draft)
        if draft.replyTo != nil {
            throw transport.local(.permanent(reason: "Facebook Pages have no replies to posts (no chains)"), operation: "create",
                                  "Facebook Pages cannot answer a post with a post: nothing was sent")
        }
        var form: [(String, String)] = [("message", draft.text)]
        for (index, handle) in draft.mediaHandles.enumerated() {
            form.append(("attached_media[\(index)]", JSON.obj([("media_fbid", JSON(handle))]).serialized))
        }
        let request = authorized(.post, "/\(credentials.pageId)/feed", form: form)
        let response = try transport.send(request, operation: "create", kind: .create)
        if let refused = mediaRefusal(response, request: request, draft: draft) { throw refused }
        guard response.isSuccess else { throw transport.failure(response, request: request, operation: "create", kind: .create) }
        let json = try transport.json(response, request: request, operation: "create", kind: .create)
        guard let id = json["id"]?.stringOrNumber, !id.isEmpty else {
            throw transport.malformed(response, request: request, operation: "create", kind: .create, what: "no id")
        }
        return RemotePost(id: id, text: draft.text, createdAtMs: transport.now())
    }

    public func lookup(id: String) throws(PlatformError) -> RemotePost? {
        guard Self.isGraphId(id) else { return nil }
        let request = authorized(.get, "/\(id)", query: [("fields", Self.postFields)])
        let response = try transport.send(request, operation: "lookup", kind: .read)
        if Self.isNotFound(response) { return nil }
        guard response.isSuccess else { throw transport.failure(response, request: request, operation: "lookup", kind: .read) }
        let json = try transport.json(response, request: request, operation: "lookup", kind: .read)
        guard let post = Self.post(from: json) else {
            throw transport.malformed(response, request: request, operation: "lookup", kind: .read, what: "no id")
        }
        return post
    }

    public func findByIdempotency(_ attempt: AttemptKey, draft: PostDraft) throws(PlatformError) -> IdempotencyFind {
        .notSupported("Facebook has no idempotency key: verify by the Page's published_posts since the attempt started")
    }

    /// `GET /{page-id}/published_posts?fields=…&since=UNIX&limit=…&after=CURSOR`, newest first.
    public func ownPosts(since sinceMs: Int64?, cursor: PageCursor?, limit: Int) throws(PlatformError) -> Page<RemotePost> {
        var query: [(String, String)] = [("fields", Self.postFields), ("limit", String(min(max(limit, 1), 100)))]
        if let sinceMs { query.append(("since", String(sinceMs / 1000))) }
        if let cursor { query.append(("after", cursor.value)) }
        let request = authorized(.get, "/\(credentials.pageId)/published_posts", query: query)
        let (response, json) = try transport.sendExpectingJSON(request, operation: "timeline", kind: .read)
        guard let items = json["data"]?.array else {
            throw transport.malformed(response, request: request, operation: "timeline", kind: .read, what: "no data array")
        }
        // Only a page with a `next` link has more; its `after` cursor is kept (never the URL).
        let paging = json["paging"]
        let next = (paging?["next"]?.string != nil && !items.isEmpty) ? paging?["cursors"]?["after"]?.string.map(PageCursor.init) : nil
        // created_time has whole seconds: a post of the `since` second is kept.
        return XAdapter.cut(items.compactMap(Self.post(from:)), next: next, since: sinceMs.map { $0 / 1000 * 1000 })
    }

    /// Not read yet (Page comments as mentions are issue 17's later part): an empty page.
    public func mentions(cursor: PageCursor?, limit: Int) throws(PlatformError) -> Page<Mention> {
        Page(items: [], next: nil)
    }

    /// Not read yet (post insights are issue 17's later part): no counts.
    public func metrics(ids: [String]) throws(PlatformError) -> [String: PostMetrics] { [:] }

    /// `GET /{page-id}?fields=id,name`: the Page, as its token sees it.
    public func identity() throws(PlatformError) -> Identity {
        let request = authorized(.get, "/\(credentials.pageId)", query: [("fields", "id,name")])
        let (response, json) = try transport.sendExpectingJSON(request, operation: "identity", kind: .read)
        guard let id = json["id"]?.stringOrNumber else {
            throw transport.malformed(response, request: request, operation: "identity", kind: .read, what: "no id")
        }
        session.userId = id
        session.handle = json["name"]?.string
        return Identity(userId: id, handle: session.handle)
    }

    public func refreshAuth() throws(PlatformError) -> RefreshOutcome {
        .notRefreshable("a Facebook Page token cannot be refreshed here: a refused one was revoked or expired (code 190); replace page_id's access_token")
    }

    // MARK: helpers

    /// A create naming photos Facebook no longer knows (code 100 about `attached_media`):
    /// nothing was published; they are uploaded again.
    func mediaRefusal(_ response: HTTPResponse, request: HTTPRequest, draft: PostDraft) -> PlatformError? {
        guard !draft.mediaHandles.isEmpty, response.status == 400, let json = try? JSON.parse(response.body),
              FacebookPlatform.code(json) == 100, (json["error"]?["message"]?.string ?? "").contains("attached_media") else { return nil }
        var error = PlatformError(platform: platform, errorClass: .noEffect,
                                  evidence: transport.evidence(response, request: request, operation: "create", platformError: nil),
                                  message: "Facebook no longer knows the photos the post names: nothing was published; they are uploaded again")
        error.mediaRefused = true
        return error
    }

    /// `https://graph.facebook.com/v21.0` → (`https://graph.facebook.com`, `v21.0`); a base
    /// without a version as it is.
    static func splitVersion(_ baseURL: String) -> (root: String, version: String?) {
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let slash = base.lastIndex(of: "/") else { return (base, nil) }
        let last = base[base.index(after: slash)...]
        let parts = last.dropFirst().split(separator: ".", omittingEmptySubsequences: false)
        guard last.hasPrefix("v"), parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isNumber) }) else { return (base, nil) }
        return (String(base[..<slash]), String(last))
    }

    /// 404, or code 100 subcode 33 ("Object with ID … does not exist").
    static func isNotFound(_ response: HTTPResponse) -> Bool {
        if response.status == 404 { return true }
        guard response.status == 400, let json = try? JSON.parse(response.body) else { return false }
        return FacebookPlatform.code(json) == 100 && json["error"]?["error_subcode"]?.int == 33
    }

    /// `{page-id}_{post-id}` or a bare numeric id.
    static func isGraphId(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 64 && id.utf8.allSatisfy { ($0 >= 48 && $0 <= 57) || $0 == UInt8(ascii: "_") }
    }

    static func post(from item: JSON) -> RemotePost? {
        guard let id = item["id"]?.stringOrNumber, !id.isEmpty else { return nil }
        return RemotePost(id: id, text: item["message"]?.string ?? "",
                          createdAtMs: item["created_time"]?.string.flatMap(HTTPTime.parseISO8601))
    }
}
