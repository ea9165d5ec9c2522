import SteadyCore
import SteadyHTTP

/// Bluesky over XRPC with an app password (PLATFORMS.md, "Bluesky"). Every create carries the
/// attempt's TID as its record key, so a retry of the same attempt can never make a second
/// record, and `getRecord` by that key decides an unknown outcome.
///
/// Sessions: with no access token (a fresh account), every call fails with `auth` before
/// sending anything; `refreshAuth()` then creates a session (or renews one), and the caller
/// persists the returned tokens. That is the same path as an expired token.
public final class BlueskyAdapter: PlatformAdapter {
    public let platform = Platform.bluesky
    public private(set) var session: SessionTokens
    public var lastRateLimit: RateLimitInfo? { transport.lastRateLimit }
    public let credentials: BlueskyCredentials
    let transport: AdapterTransport

    public static let postCollection = "app.bsky.feed.post"
    /// Access JWTs live 120 minutes.
    static let accessLifetimeMs: Int64 = 120 * 60_000

    public init(baseURL: String, credentials: BlueskyCredentials, session: SessionTokens? = nil, client: HTTPClient,
                now: @escaping @Sendable () -> Int64 = { SteadyClock.wallMillis() }) {
        self.credentials = credentials
        self.session = session ?? SessionTokens()
        transport = AdapterTransport(platform: .bluesky, baseURL: baseURL, client: client, now: now)
        updateRedactor()
    }

    private func updateRedactor() {
        transport.redactor = Redactor(secrets: session.secrets + [credentials.password])
    }

    func xrpc(_ method: HTTPMethod, _ nsid: String, query: [(String, String)] = [], json: JSON? = nil, bearer: String) -> HTTPRequest {
        var headers: HTTPHeaders = ["Authorization": "Bearer \(bearer)", "Accept": "application/json"]
        if json != nil { headers.add("Content-Type", "application/json") }
        return HTTPRequest(method: method, url: transport.url("/xrpc/\(nsid)", query), headers: headers, body: json?.bytes)
    }

    /// The access token and DID, or `auth` (nothing sent) when there is no session yet.
    func requireSession(_ operation: String) throws(PlatformError) -> (token: String, did: String) {
        guard let token = session.accessToken, let did = session.userId else {
            throw transport.local(.auth, operation: operation, "no Bluesky session yet: refreshAuth() creates one (nothing was sent)")
        }
        return (token, did)
    }

    public func validate(_ draft: PostDraft) throws(PlatformError) {
        try BlueskyPlatform().validate(draft)
    }

    public func create(_ draft: PostDraft, attempt: AttemptKey) throws(PlatformError) -> RemotePost {
        try validate(draft)
        let (token, did) = try requireSession("create")
        let rkey = attempt.blueskyRecordKey
        // createdAt is the attempt's start, so a retried attempt sends the identical record.
        var record: [(String, JSON?)] = [
            ("$type", JSON(Self.postCollection)), ("text", JSON(draft.text)),
            ("createdAt", JSON(HTTPTime.formatISO8601(millis: attempt.startedAtMillis))),
        ]
        let facets = Self.linkFacets(draft.text)
        if !facets.isEmpty { record.append(("facets", .array(facets))) }
        if let parentURI = draft.replyTo {
            record.append(("reply", try replyReference(parentURI, knownCid: draft.replyParentCid, knownRoot: draft.replyRoot)))
        }
        if let embed = try Self.embed(draft) { record.append(("embed", embed)) }
        let body = JSON.obj([
            ("repo", JSON(did)), ("collection", JSON(Self.postCollection)), ("rkey", JSON(rkey)), ("record", JSON.obj(record)),
        ])
        let request = xrpc(.post, "com.atproto.repo.createRecord", json: body, bearer: token)
        let response = try transport.send(request, operation: "create", kind: .create)
        if let refused = transport.mediaRefusal(response, request: request, draft: draft) { throw refused }
        guard response.isSuccess else { throw transport.failure(response, request: request, operation: "create", kind: .create) }
        let json = try transport.json(response, request: request, operation: "create", kind: .create)
        guard let uri = json["uri"]?.string, uri.hasPrefix("at://") else {
            throw transport.malformed(response, request: request, operation: "create", kind: .create, what: "no uri")
        }
        return RemotePost(id: uri, text: draft.text, createdAtMs: attempt.startedAtMillis, inReplyTo: draft.replyTo,
                          recordKey: Self.parseURI(uri)?.rkey ?? rkey, cid: json["cid"]?.string, media: draft.media.map(\.type.kind))
    }

    /// `{root, parent}` for a reply to `parentURI`: the parent's own root if it is a reply.
    /// A thread part names both from what the store kept (`knownCid`, `knownRoot`: no read).
    /// Otherwise the parent is read through `app.bsky.feed.getPosts` (the AppView knows every
    /// repo; a PDS's getRecord only its own), falling back to getRecord for the own repo.
    private func replyReference(_ parentURI: String, knownCid: String?, knownRoot: StrongRef?) throws(PlatformError) -> JSON {
        guard let parsed = Self.parseURI(parentURI) else {
            throw transport.local(.permanent(reason: "reply target \(parentURI) is not an at:// URI"), operation: "create",
                                  "the post to reply to is not an at:// URI (nothing was sent)")
        }
        if let knownCid, let knownRoot {
            return JSON.obj([("root", JSON.obj([("uri", JSON(knownRoot.uri)), ("cid", JSON(knownRoot.cid))])),
                             ("parent", JSON.obj([("uri", JSON(parentURI)), ("cid", JSON(knownCid))]))])
        }
        var parentCid: String?
        var root: (uri: String, cid: String)?
        let (token, did) = try requireSession("create")
        let request = xrpc(.get, "app.bsky.feed.getPosts", query: [("uris", parentURI)], bearer: token)
        let view = try read(request, operation: "create")["posts"]?.array?.first { $0["uri"]?.string == parentURI }
        if let view, let cid = view["cid"]?.string {
            parentCid = cid
            if let r = view["record"]?["reply"]?["root"], let ru = r["uri"]?.string, let rc = r["cid"]?.string { root = (ru, rc) }
        } else if parsed.repo == did, let own = try record(uri: parentURI, operation: "create"), let cid = own.cid {
            parentCid = cid
            root = own.replyRoot
        }
        guard let parentCid else {
            throw transport.local(.permanent(reason: "reply target \(parentURI) does not exist"), operation: "create",
                                  "the post to reply to was not found (nothing was sent)")
        }
        let parentRef = JSON.obj([("uri", JSON(parentURI)), ("cid", JSON(parentCid))])
        let rootRef = root.map { JSON.obj([("uri", JSON($0.uri)), ("cid", JSON($0.cid))]) } ?? parentRef
        return JSON.obj([("root", rootRef), ("parent", parentRef)])
    }

    public func lookup(id: String) throws(PlatformError) -> RemotePost? {
        try record(uri: id, operation: "lookup")?.post
    }

    public func findByIdempotency(_ attempt: AttemptKey, draft: PostDraft) throws(PlatformError) -> IdempotencyFind {
        let (_, did) = try requireSession("find")
        let uri = "at://\(did)/\(Self.postCollection)/\(attempt.blueskyRecordKey)"
        guard let found = try record(uri: uri, operation: "find") else { return .absent }
        return found.post.contentHash == ContentNormalizer.hash(draft.text) ? .found(found.post) : .keyHeldByOtherContent(found.post)
    }

    public func ownPosts(since sinceMs: Int64?, cursor: PageCursor?, limit: Int) throws(PlatformError) -> Page<RemotePost> {
        let (token, did) = try requireSession("timeline")
        var query: [(String, String)] = [("repo", did), ("collection", Self.postCollection), ("limit", String(min(max(limit, 1), 100)))]
        if let cursor { query.append(("cursor", cursor.value)) }
        let request = xrpc(.get, "com.atproto.repo.listRecords", query: query, bearer: token)
        let json = try read(request, operation: "timeline")
        guard let records = json["records"]?.array else {
            throw PlatformError(platform: .bluesky, errorClass: .noEffect, evidence: ErrorEvidence(operation: "timeline"),
                                message: "listRecords answered without records")
        }
        let posts = records.compactMap { Self.post(uri: $0["uri"]?.string, cid: $0["cid"]?.string, value: $0["value"]) }
        let next = records.isEmpty ? nil : json["cursor"]?.string.flatMap { $0.isEmpty ? nil : PageCursor($0) }
        return XAdapter.cut(posts, next: next, since: sinceMs)
    }

    public func mentions(cursor: PageCursor?, limit: Int) throws(PlatformError) -> Page<Mention> {
        let (token, _) = try requireSession("mentions")
        var query: [(String, String)] = [("reasons", "mention"), ("reasons", "reply"), ("limit", String(min(max(limit, 1), 100)))]
        if let cursor { query.append(("cursor", cursor.value)) }
        let request = xrpc(.get, "app.bsky.notification.listNotifications", query: query, bearer: token)
        let json = try read(request, operation: "mentions")
        let items = json["notifications"]?.array ?? []
        let mentions: [Mention] = items.compactMap { n in
            guard let uri = n["uri"]?.string else { return nil }
            let reason = n["reason"]?.string ?? "mention"
            guard reason == "mention" || reason == "reply" else { return nil }
            let record = n["record"]
            return Mention(id: uri, postId: uri, authorId: n["author"]?["did"]?.string, authorHandle: n["author"]?["handle"]?.string,
                           text: record?["text"]?.string ?? "",
                           createdAtMs: (record?["createdAt"]?.string ?? n["indexedAt"]?.string).flatMap(HTTPTime.parseISO8601),
                           inReplyTo: record?["reply"]?["parent"]?["uri"]?.string)
        }
        let next = items.isEmpty ? nil : json["cursor"]?.string.flatMap { $0.isEmpty ? nil : PageCursor($0) }
        return Page(items: mentions, next: next)
    }

    /// `app.bsky.feed.getPosts`, 25 URIs per request.
    public func metrics(ids: [String]) throws(PlatformError) -> [String: PostMetrics] {
        let (token, _) = try requireSession("metrics")
        var out: [String: PostMetrics] = [:]
        var start = 0
        while start < ids.count {
            let batch = ids[start..<min(start + 25, ids.count)]
            start += 25
            let request = xrpc(.get, "app.bsky.feed.getPosts", query: batch.map { ("uris", $0) }, bearer: token)
            let json = try read(request, operation: "metrics")
            for post in json["posts"]?.array ?? [] {
                guard let uri = post["uri"]?.string else { continue }
                out[uri] = PostMetrics(likes: post["likeCount"]?.int ?? 0, reposts: post["repostCount"]?.int ?? 0,
                                       replies: post["replyCount"]?.int ?? 0, quotes: post["quoteCount"]?.int ?? 0,
                                       bookmarks: post["bookmarkCount"]?.int)
            }
        }
        return out
    }

    public func identity() throws(PlatformError) -> Identity {
        let (_, did) = try requireSession("identity")
        return Identity(userId: did, handle: session.handle)
    }

    /// refreshSession with the refresh JWT; when that is refused (expired, revoked) or there
    /// is none, createSession with the app password. A refusal of both is `auth`.
    public func refreshAuth() throws(PlatformError) -> RefreshOutcome {
        if let refresh = session.refreshToken {
            let request = xrpc(.post, "com.atproto.server.refreshSession", bearer: refresh)
            do throws(PlatformError) {
                let json = try sessionCall(request, operation: "refresh")
                return .refreshed(take(json))
            } catch where error.errorClass != .auth {
                throw error
            } catch {
                // The refresh token is refused: fall through to a new session.
            }
        }
        let body = JSON.obj([("identifier", JSON(credentials.identifier)), ("password", JSON(credentials.password))])
        var request = HTTPRequest(method: .post, url: transport.url("/xrpc/com.atproto.server.createSession"),
                                  headers: ["Content-Type": "application/json", "Accept": "application/json"], body: body.bytes)
        request.allowsTransparentResend = false
        let json = try sessionCall(request, operation: "session")
        return .refreshed(take(json))
    }

    // MARK: helpers

    private func sessionCall(_ request: HTTPRequest, operation: String) throws(PlatformError) -> JSON {
        let (response, json) = try transport.sendExpectingJSON(request, operation: operation, kind: .session)
        guard json["accessJwt"]?.string != nil, json["refreshJwt"]?.string != nil else {
            throw transport.malformed(response, request: request, operation: operation, kind: .session, what: "no accessJwt/refreshJwt")
        }
        return json
    }

    private func take(_ json: JSON) -> SessionTokens {
        session.accessToken = json["accessJwt"]?.string
        session.refreshToken = json["refreshJwt"]?.string
        if let did = json["did"]?.string { session.userId = did }
        if let handle = json["handle"]?.string { session.handle = handle }
        let now = transport.now()
        // The JWT's own `exp` when it can be read (clamped to the documented 120 minutes).
        let exp = session.accessToken.flatMap(Self.jwtExpiryMs)
        session.accessExpiresAtMs = min(exp ?? Int64.max, now + Self.accessLifetimeMs)
        session.accessIssuedAtMs = now
        updateRedactor()
        return session
    }

    /// Takes a session another process renewed (and stored) in place of this adapter's.
    public func adopt(_ tokens: SessionTokens) {
        var s = tokens
        if s.userId == nil { s.userId = session.userId }
        if s.handle == nil { s.handle = session.handle }
        session = s
        updateRedactor()
    }

    /// A JWT's `exp` (seconds) in ms, from its unverified payload; nil if it cannot be read.
    static func jwtExpiryMs(_ jwt: String) -> Int64? {
        let parts = jwt.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let bytes = base64URLDecode(parts[1]), let json = try? JSON.parse(bytes),
              let exp = json["exp"]?.int, exp > 0 else { return nil }
        return Int64(exp) * 1000
    }

    static func base64URLDecode(_ text: Substring) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt32 = 0
        var bits = 0
        for c in text.utf8 {
            let v: UInt8
            switch c {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"): v = c - UInt8(ascii: "A")
            case UInt8(ascii: "a")...UInt8(ascii: "z"): v = c - UInt8(ascii: "a") + 26
            case UInt8(ascii: "0")...UInt8(ascii: "9"): v = c - UInt8(ascii: "0") + 52
            case UInt8(ascii: "-"), UInt8(ascii: "+"): v = 62
            case UInt8(ascii: "_"), UInt8(ascii: "/"): v = 63
            case UInt8(ascii: "="): continue
            default: return nil
            }
            buffer = buffer << 6 | UInt32(v)
            bits += 6
            if bits >= 8 {
                bits -= 8
                out.append(UInt8(truncatingIfNeeded: buffer >> UInt32(bits)))
            }
        }
        return out
    }

    private func read(_ request: HTTPRequest, operation: String) throws(PlatformError) -> JSON {
        let (response, json) = try transport.sendExpectingJSON(request, operation: operation, kind: .read)
        guard json.isObject else { throw transport.malformed(response, request: request, operation: operation, kind: .read, what: "not an object") }
        return json
    }

    struct FetchedRecord {
        var post: RemotePost
        var cid: String?
        var replyRoot: (uri: String, cid: String)?
    }

    /// getRecord for an at:// URI (or a bare record key of the own repo); nil when absent.
    private func record(uri: String, operation: String) throws(PlatformError) -> FetchedRecord? {
        let (token, did) = try requireSession(operation)
        let parts: (repo: String, collection: String, rkey: String)
        if let p = Self.parseURI(uri) {
            parts = p
        } else if TID.isValid(uri) || (!uri.isEmpty && !uri.contains("/")) {
            parts = (did, Self.postCollection, uri)
        } else {
            return nil
        }
        let request = xrpc(.get, "com.atproto.repo.getRecord",
                           query: [("repo", parts.repo), ("collection", parts.collection), ("rkey", parts.rkey)], bearer: token)
        let response = try transport.send(request, operation: operation, kind: .read)
        if Self.isRecordNotFound(response) { return nil }
        guard response.isSuccess else { throw transport.failure(response, request: request, operation: operation, kind: .read) }
        let json = try transport.json(response, request: request, operation: operation, kind: .read)
        let fullURI = json["uri"]?.string ?? "at://\(parts.repo)/\(parts.collection)/\(parts.rkey)"
        guard let post = Self.post(uri: fullURI, cid: json["cid"]?.string, value: json["value"]) else {
            throw transport.malformed(response, request: request, operation: operation, kind: .read, what: "no record value")
        }
        var root: (String, String)?
        if let r = json["value"]?["reply"]?["root"], let ru = r["uri"]?.string, let rc = r["cid"]?.string { root = (ru, rc) }
        return FetchedRecord(post: post, cid: json["cid"]?.string, replyRoot: root)
    }

    static func isRecordNotFound(_ response: HTTPResponse) -> Bool {
        guard response.status == 400 || response.status == 404 else { return false }
        let name = (try? JSON.parse(response.body))?["error"]?.string
        return name == "RecordNotFound" || (response.status == 404 && name == nil)
    }

    /// Rich-text link facets: without them a URL in a Bluesky post is plain text. Byte offsets
    /// are UTF-8, end exclusive (app.bsky.richtext.facet).
    static func linkFacets(_ text: String) -> [JSON] {
        let scalars = Array(text.unicodeScalars)
        var byteOffsets: [Int] = [0]
        byteOffsets.reserveCapacity(scalars.count + 1)
        for s in scalars { byteOffsets.append(byteOffsets.last! + String(s).utf8.count) }
        return TextTools.urlRanges(in: scalars).map { r in
            var uri = String.UnicodeScalarView()
            uri.append(contentsOf: scalars[r])
            return JSON.obj([
                ("index", JSON.obj([("byteStart", JSON(byteOffsets[r.lowerBound])), ("byteEnd", JSON(byteOffsets[r.upperBound]))])),
                ("features", .array([JSON.obj([("$type", JSON("app.bsky.richtext.facet#link")), ("uri", JSON(String(uri)))])])),
            ])
        }
    }

    /// `at://<repo>/<collection>/<rkey>`.
    public static func parseURI(_ uri: String) -> (repo: String, collection: String, rkey: String)? {
        guard uri.hasPrefix("at://") else { return nil }
        let parts = uri.dropFirst(5).split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 3, parts.allSatisfy({ !$0.isEmpty }) else { return nil }
        return (String(parts[0]), String(parts[1]), String(parts[2]))
    }

    static func post(uri: String?, cid: String?, value: JSON?) -> RemotePost? {
        guard let uri, let value, value.isObject else { return nil }
        return RemotePost(id: uri, text: value["text"]?.string ?? "", createdAtMs: value["createdAt"]?.string.flatMap(HTTPTime.parseISO8601),
                          inReplyTo: value["reply"]?["parent"]?["uri"]?.string, recordKey: parseURI(uri)?.rkey, cid: cid,
                          media: embedKinds(value["embed"]))
    }

    /// The record's embedded media kinds: images, one video, or none.
    static func embedKinds(_ embed: JSON?) -> [MediaType.Kind] {
        switch embed?["$type"]?.string {
        case "app.bsky.embed.images": (embed?["images"]?.array ?? []).map { _ in .image }
        case "app.bsky.embed.video": [.video]
        default: []
        }
    }
}
