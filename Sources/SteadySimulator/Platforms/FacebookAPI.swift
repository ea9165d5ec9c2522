import Foundation
import SteadyCore

/// Facebook's photo limits (PLATFORMS.md, "Facebook Pages"): images and GIFs, 4 MB each.
enum FacebookMediaLimits {
    static let photoBytes = 4 << 20
}

extension Store {
    static let facebookVersion = "v21.0"
    static let facebookMessageLimit = 63_206

    // MARK: Shared

    /// The Page token of a request: the bearer, else `access_token` in the query or form.
    static func facebookToken(_ request: SimRequest) -> String? {
        request.bearer ?? request.queryValue("access_token")
            ?? parseForm(request.contentType == "application/x-www-form-urlencoded" ? request.bodyText : "")
            .last { $0.0 == "access_token" }?.1
    }

    /// Checks the Page token and counts the request: code 190 with subcode 463 (expired) or 460
    /// (invalidated: revoked), no subcode for a token nobody issued.
    mutating func facebookAuthenticate(_ ex: inout Exchange) -> Result<Account, SimResponse> {
        let refusal: (code: Int, subcode: Int?, message: String)
        switch validToken(Store.facebookToken(ex.request), kinds: [.facebookPage], now: ex.now) {
        case .success(let t):
            if let account = accounts[t.account] {
                ex.account = account.name
                if let limited = consumeRate(&ex) { return .failure(limited) }
                return .success(account)
            }
            refusal = (190, nil, "Invalid OAuth access token - Cannot parse access token")
        case .failure(.missing):
            refusal = (2500, nil, "An active access token must be used to query information about the current user.")
        case .failure(.expired):
            refusal = (190, 463, "Error validating access token: Session has expired on \(Timestamps.isoSeconds(ms: ex.now)).")
        case .failure(.revoked):
            refusal = (
                190, 460,
                "Error validating access token: The session has been invalidated because the user changed their password or Facebook has changed the session for security reasons."
            )
        case .failure(.unknown), .failure(.wrongKind):
            refusal = (190, nil, "Invalid OAuth access token - Cannot parse access token")
        }
        return .failure(
            ErrorBodies.facebook(400, code: refusal.code, subcode: refusal.subcode, refusal.message, headers: peekRateHeaders(ex)))
    }

    /// Authenticates a request on a Page's edge (`/{page-id}/feed`, …): the `:node` must be
    /// the token's own Page, else the permission error.
    mutating func facebookPageRequest(_ ex: inout Exchange) -> Result<Account, SimResponse> {
        facebookAuthenticate(&ex).flatMap { account in
            let node = ex.request.parameters["node"] ?? ""
            guard node == account.userID || node == "me" else {
                return .failure(
                    ErrorBodies.facebook(403, code: 200, "(#200) The Page token cannot act for node \(node)", headers: ex.rateHeaders))
            }
            return .success(account)
        }
    }

    /// `2026-01-02T03:04:05+0000`, Graph's `created_time`.
    static func facebookTime(ms: Int64) -> String {
        String(Timestamps.isoSeconds(ms: ms).dropLast()) + "+0000"
    }

    mutating func facebookCreatePost(account: Account, text: String, media attached: [PostMedia], via: String, rewrite: Bool, now: Int64)
        -> Int
    {
        nextFacebookPost += 1 + (rng.next() & 0xFF)
        let number = nextFacebookPost
        var post = Post(
            seq: takeSeq(), id: "\(account.userID)_\(number)", number: number, account: account.name, platform: .facebook,
            text: rewrite ? rewriteLinks(text) : text, submittedText: text, createdAtMs: now, inReplyTo: nil,
            idempotencyKey: nil, rkey: nil, uri: nil, cid: nil, via: via)
        post.media = attached
        let index = addPost(post)
        for item in attached { media[item.mediaID]?.attachedTo = posts[index].id }
        return index
    }

    /// Graph's refusal of a message, or nil.
    static func facebookRejection(_ text: String, hasMedia: Bool) -> String? {
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, !hasMedia {
            return "(#100) Missing message or attachment"
        }
        if text.count > facebookMessageLimit { return "(#100) The message is too long (at most \(facebookMessageLimit) characters)" }
        return nil
    }

    func facebookPostJSON(_ post: Post, fields: [String]) -> JSON {
        var members: [JSON.Member] = [JSON.Member("id", .string(post.id))]
        if fields.contains("message"), !post.text.isEmpty { members.append(JSON.Member("message", .string(post.text))) }
        if fields.contains("created_time") {
            members.append(JSON.Member("created_time", .string(Store.facebookTime(ms: post.createdAtMs))))
        }
        return .object(members)
    }

    static func facebookFields(_ request: SimRequest) -> [String] {
        (request.queryValue("fields") ?? "id,message,created_time").split(separator: ",").map {
            $0.trimmingCharacters(in: .whitespaces)
        }
    }

    // MARK: Endpoints

    /// `POST /v21.0/{page-id}/feed` (`message`, `attached_media[i]={"media_fbid":ID}`) → `{"id"}`.
    mutating func facebookFeed(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch facebookPageRequest(&ex) {
        case .failure(let response): return response
        case .success(let a): account = a
        }
        let headers = ex.rateHeaders
        let params = ex.request.params
        let text = params.last { $0.0 == "message" }?.1 ?? ""
        var attached: [PostMedia] = []
        let mediaParams = params.filter { $0.0.hasPrefix("attached_media") }
        for (index, param) in mediaParams.enumerated() {
            let id = JSON.parse(Array(param.1.utf8))?["media_fbid"]?.stringValue ?? ""
            guard let object = media[id], object.platform == .facebook, object.account == account.name,
                object.attachedTo == nil, let item = object.postMedia
            else {
                return ErrorBodies.facebook(400, code: 100, "(#100) param attached_media[\(index)] has invalid media_fbid \(id)", headers: headers)
            }
            attached.append(item)
        }
        if let message = Store.facebookRejection(text, hasMedia: !attached.isEmpty) {
            return ErrorBodies.facebook(400, code: 100, message, headers: headers)
        }
        let index = facebookCreatePost(account: account, text: text, media: attached, via: "api", rewrite: ex.rewriteURLs, now: ex.now)
        return .json(200, ["id": .string(posts[index].id)], headers: headers)
    }

    /// `POST /v21.0/{page-id}/photos` (multipart `source`, `caption`, `published`, `alt_text_custom`):
    /// unpublished → `{"id"}` (seen by nobody until a feed post names it); published (the
    /// default) → a post with the photo, `{"id", "post_id"}`.
    mutating func facebookPhotos(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch facebookPageRequest(&ex) {
        case .failure(let response): return response
        case .success(let a): account = a
        }
        let headers = ex.rateHeaders
        guard ex.request.contentType == "multipart/form-data",
            let boundary = Multipart.boundary(ex.request.header("content-type")),
            let parts = Multipart.parse(ex.request.body, boundary: boundary)
        else {
            return ErrorBodies.facebook(400, code: 324, "(#324) Requires upload file", headers: headers)
        }
        func field(_ name: String) -> String? {
            parts.last { $0.name == name }.map { String(decoding: $0.body, as: UTF8.self) }
        }
        guard let source = parts.last(where: { $0.name == "source" }) else {
            return ErrorBodies.facebook(400, code: 324, "(#324) Requires upload file", headers: headers)
        }
        guard let format = MediaFormat.detect(source.body.prefix(12)), format.kind == "image" || format.kind == "gif" else {
            return ErrorBodies.facebook(400, code: 324, "(#324) Missing or invalid image file", headers: headers)
        }
        guard source.body.count <= FacebookMediaLimits.photoBytes else {
            return ErrorBodies.facebook(400, code: 100, "(#100) The photo is larger than \(FacebookMediaLimits.photoBytes >> 20) MB", headers: headers)
        }
        let caption = field("caption") ?? field("message") ?? ""
        let published = !["false", "0"].contains((field("published") ?? "true").lowercased())
        if published, caption.count > Store.facebookMessageLimit {
            return ErrorBodies.facebook(400, code: 100, "(#100) The message is too long", headers: headers)
        }
        var object = MediaObject(id: String(takeMediaID()), platform: .facebook, account: account.name, createdMs: ex.now)
        object.feed(source.body)
        object.seal()
        object.state = .succeeded
        object.alt = field("alt_text_custom").flatMap { $0.isEmpty ? nil : $0 }
        media[object.id] = object
        guard published, let item = object.postMedia else {
            return .json(200, ["id": .string(object.id)], headers: headers)
        }
        let index = facebookCreatePost(account: account, text: caption, media: [item], via: "api", rewrite: ex.rewriteURLs, now: ex.now)
        return .json(200, ["id": .string(object.id), "post_id": .string(posts[index].id)], headers: headers)
    }

    /// `GET /v21.0/{page-id}/published_posts?fields&since&until&limit&after`: newest first, with
    /// `paging.cursors` and `paging.next` while more follow.
    mutating func facebookPublished(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch facebookPageRequest(&ex) {
        case .failure(let response): return response
        case .success(let a): account = a
        }
        let request = ex.request
        var items = posts.filter { $0.platform == .facebook && $0.account == account.name && !$0.deleted }
            .sorted { $0.number > $1.number }
        if let since = request.queryValue("since").flatMap(Int64.init) { items = items.filter { $0.createdAtMs >= since * 1000 } }
        if let until = request.queryValue("until").flatMap(Int64.init) { items = items.filter { $0.createdAtMs <= until * 1000 } }
        if let after = request.queryValue("after") {
            guard let number = Store.facebookCursorNumber(after) else {
                return ErrorBodies.facebook(400, code: 100, "(#100) Invalid cursor", headers: ex.rateHeaders)
            }
            items = items.filter { $0.number < number }
        }
        let asked = request.queryValue("limit").flatMap(Int.init) ?? 25
        let limit = min(max(asked, 1), 100, ex.pageCap ?? Int.max)
        let page = Array(items.prefix(limit))
        let fields = Store.facebookFields(request)
        var body: JSON = ["data": .array(page.map { facebookPostJSON($0, fields: fields) })]
        if let first = page.first, let last = page.last {
            var paging: JSON = [
                "cursors": ["before": .string(Store.facebookCursor(first.number)), "after": .string(Store.facebookCursor(last.number))]
            ]
            if items.count > page.count {
                let query = request.query.filter { $0.0 != "after" && $0.0 != "access_token" } + [("after", Store.facebookCursor(last.number))]
                let encoded = query.map { "\($0.0.percentEncodedComponent)=\($0.1.percentEncodedComponent)" }.joined(separator: "&")
                paging = paging.setting("next", .string("\(request.origin)\(request.path)?\(encoded)"))
            }
            body = body.setting("paging", paging)
        }
        return .json(200, body, headers: ex.rateHeaders)
    }

    /// `GET /v21.0/{node}?fields=…`: the Page (`id`, `name`), a post, or an uploaded photo;
    /// anything else is code 100 subcode 33.
    mutating func facebookNode(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch facebookAuthenticate(&ex) {
        case .failure(let response): return response
        case .success(let a): account = a
        }
        let node = ex.request.parameters["node"] ?? ""
        if node == account.userID || node == "me" {
            return .json(200, ["id": .string(account.userID), "name": .string(account.displayName)], headers: ex.rateHeaders)
        }
        if let index = findPost(node, platform: .facebook), !posts[index].deleted {
            return .json(200, facebookPostJSON(posts[index], fields: Store.facebookFields(ex.request)), headers: ex.rateHeaders)
        }
        if let object = media[node], object.platform == .facebook, object.account == account.name {
            return .json(200, ["id": .string(object.id), "created_time": .string(Store.facebookTime(ms: object.createdMs))], headers: ex.rateHeaders)
        }
        return ErrorBodies.facebook(
            400, code: 100, subcode: 33, type: "GraphMethodException",
            "Unsupported get request. Object with ID '\(node)' does not exist, cannot be loaded due to missing permissions, or does not support this operation.",
            headers: ex.rateHeaders)
    }

    // MARK: Paging

    /// An opaque-looking cursor for a post number.
    static func facebookCursor(_ number: UInt64) -> String { "QVFI" + String(number, radix: 36) }

    static func facebookCursorNumber(_ cursor: String) -> UInt64? {
        guard cursor.hasPrefix("QVFI") else { return nil }
        return UInt64(cursor.dropFirst(4), radix: 36)
    }
}
