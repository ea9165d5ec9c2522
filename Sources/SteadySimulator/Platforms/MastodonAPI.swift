import Foundation
import SteadyCore

extension Store {
    // MARK: Shared

    /// Authenticates when a token is given (or `required`), then counts the request.
    mutating func mastodonAuthenticate(_ ex: inout Exchange, required: Bool) -> Result<Account?, SimResponse> {
        if ex.request.bearer == nil, !ex.request.hasAuthorization, !required {
            ex.account = nil
            if let limited = consumeRate(&ex) { return .failure(limited) }
            return .success(nil)
        }
        switch validToken(ex.request.bearer, kinds: [.mastodon], now: ex.now) {
        case .success(let token):
            guard let account = accounts[token.account] else {
                return .failure(ErrorBodies.mastodonUnauthorized(peekRateHeaders(ex)))
            }
            ex.account = account.name
            if let limited = consumeRate(&ex) { return .failure(limited) }
            return .success(account)
        case .failure:
            return .failure(ErrorBodies.mastodonUnauthorized(peekRateHeaders(ex)))
        }
    }

    /// Mastodon's length check; the error text when refused.
    static func mastodonRejection(_ text: String) -> String? {
        if text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return "Validation failed: Text can't be blank" }
        if TextRules.mastodonLength(text) > TextRules.mastodonLimit {
            return "Validation failed: Text character limit of \(TextRules.mastodonLimit) exceeded"
        }
        return nil
    }

    mutating func mastodonCreatePost(
        account: String, text: String, inReplyTo: String?, idempotencyKey: String?, via: String, rewrite: Bool,
        now: Int64, visibility: String = "public", spoilerText: String = "", language: String? = nil,
        sensitive: Bool = false
    ) -> Int {
        let number = takeMastodonStatusID()
        var post = Post(
            seq: takeSeq(), id: String(number), number: number, account: account, platform: .mastodon,
            text: rewrite ? rewriteLinks(text) : text, submittedText: text, createdAtMs: now, inReplyTo: inReplyTo,
            idempotencyKey: idempotencyKey, rkey: nil, uri: nil, cid: nil, via: via)
        post.visibility = visibility
        post.spoilerText = spoilerText
        post.language = language
        post.sensitive = sensitive
        let index = addPost(post)
        if let idempotencyKey {
            idempotency[account, default: [:]][idempotencyKey] = (index, now)
        }
        return index
    }

    /// The Account entity of one of the simulator's accounts.
    func mastodonAccountJSON(_ account: Account, origin: String, withSource: Bool = false) -> JSON {
        let statuses = posts.filter { $0.account == account.name && !$0.deleted }
        var json: JSON = [
            "id": .string(account.userID),
            "username": .string(account.handle),
            "acct": .string(account.handle),
            "display_name": .string(account.displayName),
            "locked": false,
            "bot": false,
            "discoverable": true,
            "group": false,
            "created_at": .string(Timestamps.iso(ms: account.createdAtMs - account.createdAtMs % 86_400_000)),
            "note": "",
            "url": .string("\(origin)/@\(account.handle)"),
            "uri": .string("\(origin)/users/\(account.handle)"),
            "avatar": .string("\(origin)/avatars/original/missing.png"),
            "avatar_static": .string("\(origin)/avatars/original/missing.png"),
            "header": .string("\(origin)/headers/original/missing.png"),
            "header_static": .string("\(origin)/headers/original/missing.png"),
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": .int(statuses.count),
            "last_status_at": .optional(statuses.last.map { String(Timestamps.iso(ms: $0.createdAtMs).prefix(10)) }),
            "emojis": [],
            "fields": [],
        ]
        if withSource {
            json = json.setting(
                "source",
                [
                    "privacy": "public", "sensitive": false, "language": "", "note": "", "fields": [],
                    "follow_requests_count": 0,
                ])
        }
        return json
    }

    func mastodonForeignAccountJSON(_ user: ForeignUser, origin: String) -> JSON {
        let username = user.handle.split(separator: "@").first.map(String.init) ?? user.handle
        let domain = user.handle.contains("@") ? String(user.handle.split(separator: "@").last ?? "") : nil
        let profile = domain.map { "https://\($0)/@\(username)" } ?? "\(origin)/@\(username)"
        return [
            "id": .string(user.id),
            "username": .string(username),
            "acct": .string(user.handle),
            "display_name": .string(user.displayName),
            "locked": false,
            "bot": false,
            "created_at": "2024-01-01T00:00:00.000Z",
            "note": "",
            "url": .string(profile),
            "avatar": .string("\(origin)/avatars/original/missing.png"),
            "followers_count": 0,
            "following_count": 0,
            "statuses_count": 1,
            "emojis": [],
            "fields": [],
        ]
    }

    /// Mastodon's HTML for a text: escaped, links as anchors, paragraphs and line breaks.
    static func mastodonHTML(_ text: String) -> String {
        var html = ""
        var cursor = text.startIndex
        for range in TextRules.urlRanges(in: text) {
            html += escapeHTML(String(text[cursor..<range.lowerBound]))
            let url = String(text[range])
            let schemeEnd = url.range(of: "://").map { url[..<$0.upperBound] } ?? ""
            let rest = url.dropFirst(schemeEnd.count)
            html += "<a href=\"\(escapeHTML(url))\" target=\"_blank\" rel=\"nofollow noopener\" translate=\"no\">"
            html += "<span class=\"invisible\">\(escapeHTML(String(schemeEnd)))</span>"
            html += "<span class=\"\">\(escapeHTML(String(rest)))</span><span class=\"invisible\"></span></a>"
            cursor = range.upperBound
        }
        html += escapeHTML(String(text[cursor...]))
        let paragraphs = html.components(separatedBy: "\n\n").map { $0.replacingOccurrences(of: "\n", with: "<br />") }
        return paragraphs.map { "<p>\($0)</p>" }.joined()
    }

    /// The Status entity of a post or an injected mention status.
    func mastodonStatusJSON(postIndex index: Int, origin: String) -> JSON {
        let post = posts[index]
        let account = accounts[post.account]!
        let parent = post.inReplyTo.flatMap { mastodonStatusAuthorID($0) }
        return mastodonStatus(
            id: post.id, createdAtMs: post.createdAtMs, text: post.text, inReplyTo: post.inReplyTo,
            inReplyToAccountID: parent, visibility: post.visibility, spoiler: post.spoilerText,
            language: post.language, sensitive: post.sensitive, metrics: post.metrics,
            url: "\(origin)/@\(account.handle)/\(post.id)", uri: "\(origin)/users/\(account.handle)/statuses/\(post.id)",
            account: mastodonAccountJSON(account, origin: origin)
        ).setting("media_attachments", mastodonAttachmentsJSON(post, origin: origin))
    }

    func mastodonMentionStatusJSON(_ mention: Mention, origin: String) -> JSON {
        let mentioned = accounts[mention.account]
        let statusID = mention.statusID ?? mention.id
        let domain = mention.author.handle.contains("@") ? String(mention.author.handle.split(separator: "@").last ?? "") : nil
        let username = mention.author.handle.split(separator: "@").first.map(String.init) ?? mention.author.handle
        let base = domain.map { "https://\($0)" } ?? origin
        var json = mastodonStatus(
            id: statusID, createdAtMs: mention.createdAtMs, text: mention.text, inReplyTo: mention.inReplyTo,
            inReplyToAccountID: mention.inReplyTo.flatMap { mastodonStatusAuthorID($0) }, visibility: "public",
            spoiler: "", language: "en", sensitive: false, metrics: Metrics(),
            url: "\(base)/@\(username)/\(statusID)", uri: "\(base)/users/\(username)/statuses/\(statusID)",
            account: mastodonForeignAccountJSON(mention.author, origin: origin))
        if let mentioned {
            json = json.setting(
                "mentions",
                [
                    [
                        "id": .string(mentioned.userID), "username": .string(mentioned.handle),
                        "url": .string("\(origin)/@\(mentioned.handle)"), "acct": .string(mentioned.handle),
                    ]
                ])
        }
        return json
    }

    private func mastodonStatusAuthorID(_ statusID: String) -> String? {
        if let index = findPost(statusID, platform: .mastodon) { return accounts[posts[index].account]?.userID }
        if let mention = mastodonMentionByStatus(statusID) { return mention.author.id }
        return nil
    }

    func mastodonMentionByStatus(_ statusID: String) -> Mention? {
        mentions.first { $0.platform == .mastodon && $0.statusID == statusID }
    }

    private func mastodonStatus(
        id: String, createdAtMs: Int64, text: String, inReplyTo: String?, inReplyToAccountID: String?,
        visibility: String, spoiler: String, language: String?, sensitive: Bool, metrics: Metrics, url: String,
        uri: String, account: JSON
    ) -> JSON {
        [
            "id": .string(id),
            "created_at": .string(Timestamps.iso(ms: createdAtMs)),
            "in_reply_to_id": .optional(inReplyTo),
            "in_reply_to_account_id": .optional(inReplyToAccountID),
            "sensitive": .bool(sensitive),
            "spoiler_text": .string(spoiler),
            "visibility": .string(visibility),
            "language": .optional(language),
            "uri": .string(uri),
            "url": .string(url),
            "replies_count": .int(metrics.replies),
            "reblogs_count": .int(metrics.reposts),
            "favourites_count": .int(metrics.likes),
            "quotes_count": .int(metrics.quotes),
            "edited_at": nil,
            "favourited": false,
            "reblogged": false,
            "muted": false,
            "bookmarked": false,
            "pinned": false,
            "content": .string(Store.mastodonHTML(text)),
            "filtered": [],
            "reblog": nil,
            "application": ["name": "steadypost", "website": nil],
            "account": account,
            "media_attachments": [],
            "mentions": [],
            "tags": [],
            "emojis": [],
            "card": nil,
            "poll": nil,
        ]
    }

    /// A status (own post or mention status) by id, as JSON.
    func mastodonStatusByID(_ id: String, origin: String) -> JSON? {
        if let index = findPost(id, platform: .mastodon), !posts[index].deleted {
            return mastodonStatusJSON(postIndex: index, origin: origin)
        }
        if let mention = mastodonMentionByStatus(id) {
            return mastodonMentionStatusJSON(mention, origin: origin)
        }
        return nil
    }

    // MARK: Endpoints

    /// `GET /api/v1/accounts/verify_credentials`
    mutating func mastodonCredentials(_ ex: inout Exchange) -> SimResponse {
        switch mastodonAuthenticate(&ex, required: true) {
        case .failure(let response): return response
        case .success(let account):
            return .json(200, mastodonAccountJSON(account!, origin: ex.request.origin, withSource: true), headers: ex.rateHeaders)
        }
    }

    /// `POST /api/v1/statuses` (form or JSON), honouring `Idempotency-Key` for an hour.
    mutating func mastodonCreate(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch mastodonAuthenticate(&ex, required: true) {
        case .failure(let response): return response
        case .success(let a): account = a!
        }
        let headers = ex.rateHeaders
        let key = ex.request.header("idempotency-key").flatMap { $0.isEmpty ? nil : $0 }
        ex.idempotencyKey = key
        if let key, let (index, storedMs) = idempotency[account.name]?[key] {
            if ex.now - storedMs < 3_600_000 {
                return .json(200, mastodonStatusJSON(postIndex: index, origin: ex.request.origin), headers: headers)
            }
            idempotency[account.name]?[key] = nil
        }
        let params = ex.request.params
        func param(_ name: String) -> String? { params.last { $0.0 == name }?.1 }
        let text = param("status") ?? ""
        let mediaIDs = params.filter { $0.0 == "media_ids[]" || $0.0 == "media_ids" }.map(\.1)
        var attached: [PostMedia] = []
        switch mastodonPostMedia(mediaIDs, account: account.name, headers: headers) {
        case .success(let items): attached = items
        case .failure(let response): return response
        }
        if let message = Store.mastodonRejection(text), !(attached.count > 0 && text.isEmpty) {
            return ErrorBodies.mastodon(422, message, headers: headers)
        }
        let visibility = param("visibility").flatMap { $0.isEmpty ? nil : $0 } ?? "public"
        guard ["public", "unlisted", "private", "direct"].contains(visibility) else {
            return ErrorBodies.mastodon(422, "Validation failed: Visibility is not included in the list", headers: headers)
        }
        var inReplyTo: String?
        if let target = param("in_reply_to_id"), !target.isEmpty {
            guard mastodonStatusByID(target, origin: ex.request.origin) != nil else {
                return ErrorBodies.mastodon(404, "Record not found", headers: headers)
            }
            inReplyTo = target
        }
        let sensitive = ["true", "1", "on"].contains((param("sensitive") ?? "").lowercased())
        let language = param("language").flatMap { $0.isEmpty ? nil : $0 }
        let index = mastodonCreatePost(
            account: account.name, text: text, inReplyTo: inReplyTo, idempotencyKey: key, via: "api",
            rewrite: ex.rewriteURLs, now: ex.now, visibility: visibility, spoilerText: param("spoiler_text") ?? "",
            language: language, sensitive: sensitive)
        posts[index].media = attached
        for item in attached { media[item.mediaID]?.attachedTo = posts[index].id }
        return .json(200, mastodonStatusJSON(postIndex: index, origin: ex.request.origin), headers: headers)
    }

    /// `GET /api/v1/statuses/:id`
    mutating func mastodonRead(_ ex: inout Exchange) -> SimResponse {
        if case .failure(let response) = mastodonAuthenticate(&ex, required: false) { return response }
        let id = ex.request.parameters["id"] ?? ""
        guard let status = mastodonStatusByID(id, origin: ex.request.origin) else {
            return ErrorBodies.mastodon(404, "Record not found", headers: ex.rateHeaders)
        }
        return .json(200, status, headers: ex.rateHeaders)
    }

    /// `GET /api/v1/statuses?id[]=…`: the statuses found, in the order asked.
    mutating func mastodonLookup(_ ex: inout Exchange) -> SimResponse {
        if case .failure(let response) = mastodonAuthenticate(&ex, required: false) { return response }
        let ids = ex.request.queryValues("id[]") + ex.request.queryValues("id")
        let statuses = ids.prefix(20).compactMap { mastodonStatusByID($0, origin: ex.request.origin) }
        return .json(200, .array(statuses), headers: ex.rateHeaders)
    }

    /// `GET /api/v1/accounts/:id/statuses`
    mutating func mastodonTimeline(_ ex: inout Exchange) -> SimResponse {
        if case .failure(let response) = mastodonAuthenticate(&ex, required: false) { return response }
        let id = ex.request.parameters["id"] ?? ""
        guard let account = accounts.values.first(where: { $0.platform == .mastodon && $0.userID == id }) else {
            return ErrorBodies.mastodon(404, "Record not found", headers: ex.rateHeaders)
        }
        let request = ex.request
        let excludeReplies = ["true", "1"].contains((request.queryValue("exclude_replies") ?? "").lowercased())
        let onlyOther = ["true", "1"].contains((request.queryValue("only_media") ?? "").lowercased())
            || ["true", "1"].contains((request.queryValue("pinned") ?? "").lowercased())
        var items = posts.filter { $0.platform == .mastodon && $0.account == account.name && !$0.deleted }
        if excludeReplies { items = items.filter { $0.inReplyTo == nil } }
        if onlyOther { items = [] }
        let numbers = items.map(\.number)
        let limit = Store.mastodonLimit(request.queryValue("limit"), defaultValue: 20, max: 40)
        let page = Store.mastodonPage(numbers, request: request, limit: min(limit, ex.pageCap ?? Int.max))
        let byNumber = Dictionary(uniqueKeysWithValues: items.map { ($0.number, $0) })
        let statuses = page.compactMap { byNumber[$0].flatMap { postIndex[$0.id] } }
            .map { mastodonStatusJSON(postIndex: $0, origin: request.origin) }
        var extra: [(String, String)] = [("limit", String(limit))]
        if excludeReplies { extra.append(("exclude_replies", "true")) }
        var headers = ex.rateHeaders
        if let link = Store.mastodonLink(
            base: "\(request.origin)/api/v1/accounts/\(id)/statuses", page: page, limit: min(limit, ex.pageCap ?? Int.max),
            extra: extra)
        {
            headers.append(("link", link))
        }
        return .json(200, .array(statuses), headers: headers)
    }

    /// `GET /api/v1/notifications` (mentions only exist here)
    mutating func mastodonNotifications(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch mastodonAuthenticate(&ex, required: true) {
        case .failure(let response): return response
        case .success(let a): account = a!
        }
        let request = ex.request
        let types = request.queryValues("types[]") + request.queryValues("types")
        let excluded = request.queryValues("exclude_types[]") + request.queryValues("exclude_types")
        var items = mentions.filter { $0.platform == .mastodon && $0.account == account.name }
        if (!types.isEmpty && !types.contains("mention")) || excluded.contains("mention") { items = [] }
        let limit = Store.mastodonLimit(request.queryValue("limit"), defaultValue: 40, max: 80)
        let page = Store.mastodonPage(items.map(\.number), request: request, limit: min(limit, ex.pageCap ?? Int.max))
        let byNumber = Dictionary(uniqueKeysWithValues: items.map { ($0.number, $0) })
        let notifications: [JSON] = page.compactMap { byNumber[$0] }.map { mention in
            [
                "id": .string(mention.id),
                "type": "mention",
                "created_at": .string(Timestamps.iso(ms: mention.createdAtMs)),
                "group_key": .string("ungrouped-\(mention.id)"),
                "account": mastodonForeignAccountJSON(mention.author, origin: request.origin),
                "status": mastodonMentionStatusJSON(mention, origin: request.origin),
            ]
        }
        var extra: [(String, String)] = [("limit", String(limit))]
        for type in types { extra.append(("types[]", type)) }
        var headers = ex.rateHeaders
        if let link = Store.mastodonLink(
            base: "\(request.origin)/api/v1/notifications", page: page, limit: min(limit, ex.pageCap ?? Int.max),
            extra: extra)
        {
            headers.append(("link", link))
        }
        return .json(200, .array(notifications), headers: headers)
    }

    /// `GET /api/v2/instance`
    mutating func mastodonInstance(_ ex: inout Exchange) -> SimResponse {
        if case .failure(let response) = mastodonAuthenticate(&ex, required: false) { return response }
        let origin = ex.request.origin
        let domain = String(origin.dropFirst("http://".count))
        let body: JSON = [
            "domain": .string(domain),
            "title": "steadypost-sim",
            "version": "4.3.0",
            "source_url": "https://github.com/mastodon/mastodon",
            "description": "The steadypost platform simulator playing a Mastodon instance.",
            "usage": ["users": ["active_month": .int(accountOrder.count)]],
            "thumbnail": ["url": .string("\(origin)/packs/media/images/preview.png")],
            "languages": ["en"],
            "configuration": [
                "urls": ["streaming": .string("ws://\(domain)")],
                "accounts": ["max_featured_tags": 10, "max_pinned_statuses": 5],
                "statuses": [
                    "max_characters": .int(TextRules.mastodonLimit),
                    "max_media_attachments": 4,
                    "characters_reserved_per_url": .int(TextRules.urlWeight),
                ],
                "media_attachments": ["image_size_limit": 16_777_216, "video_size_limit": 103_809_024],
                "polls": ["max_options": 4, "max_characters_per_option": 50],
                "translation": ["enabled": false],
            ],
            "registrations": ["enabled": false, "approval_required": false, "message": nil],
            "contact": ["email": "admin@steadypost-sim.test", "account": nil],
            "rules": [],
        ]
        return .json(200, body, headers: ex.rateHeaders)
    }

    // MARK: Paging

    static func mastodonLimit(_ text: String?, defaultValue: Int, max maximum: Int) -> Int {
        guard let text, let value = Int(text) else { return defaultValue }
        return Swift.min(Swift.max(value, 1), maximum)
    }

    /// One page of ids (newest first) under `max_id`, `since_id` and `min_id`.
    static func mastodonPage(_ numbers: [UInt64], request: SimRequest, limit: Int) -> [UInt64] {
        var candidates = numbers.sorted(by: >)
        if let text = request.queryValue("max_id"), let maxID = UInt64(text) {
            candidates = candidates.filter { $0 < maxID }
        }
        if let text = request.queryValue("since_id"), let sinceID = UInt64(text) {
            candidates = candidates.filter { $0 > sinceID }
        }
        if let text = request.queryValue("min_id"), let minID = UInt64(text) {
            // The page right after min_id: the oldest ones above it, served newest first.
            return Array(candidates.filter { $0 > minID }.sorted().prefix(limit).reversed())
        }
        return Array(candidates.prefix(limit))
    }

    /// The `Link` header: `next` (max_id) when the page is full, `prev` (min_id) when not empty.
    static func mastodonLink(base: String, page: [UInt64], limit: Int, extra: [(String, String)]) -> String? {
        guard let newest = page.first, let oldest = page.last else { return nil }
        func url(_ pair: (String, String)) -> String {
            let query = (extra + [pair]).map { "\($0.0.percentEncodedComponent)=\($0.1.percentEncodedComponent)" }
            return base + "?" + query.joined(separator: "&")
        }
        var parts: [String] = []
        if page.count >= limit {
            parts.append("<\(url(("max_id", String(oldest))))>; rel=\"next\"")
        }
        parts.append("<\(url(("min_id", String(newest))))>; rel=\"prev\"")
        return parts.joined(separator: ", ")
    }
}

/// Escapes `& < > " '` for HTML text and attributes.
func escapeHTML(_ text: String) -> String {
    var out = ""
    out.reserveCapacity(text.utf8.count)
    for c in text {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}
