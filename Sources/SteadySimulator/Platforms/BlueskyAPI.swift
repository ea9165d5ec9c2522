import Foundation
import SteadyCore

extension Store {
    static let postCollection = "app.bsky.feed.post"

    // MARK: Shared

    /// Checks the bearer token as a PDS does; with `required` false a request without one passes.
    mutating func blueskyAuthenticate(_ ex: inout Exchange, kind: TokenKind, required: Bool) -> Result<Account?, SimResponse> {
        if !ex.request.hasAuthorization, !required {
            ex.account = nil
            if let limited = consumeRate(&ex) { return .failure(limited) }
            return .success(nil)
        }
        let headers = peekRateHeaders(ex)
        guard let bearer = ex.request.bearer else {
            return .failure(ErrorBodies.bluesky(401, "AuthenticationRequired", "Authentication Required", headers: headers))
        }
        let allowed: Set<TokenKind> = [kind]
        switch validToken(bearer, kinds: allowed, now: ex.now) {
        case .success(let token):
            if kind == .blueskyRefresh, let used = token.usedMs, ex.now >= used + Store.twoHoursMs {
                return .failure(ErrorBodies.bluesky(400, "ExpiredToken", "Token has been revoked", headers: headers))
            }
            guard let account = accounts[token.account] else {
                return .failure(ErrorBodies.bluesky(400, "InvalidToken", "Token could not be verified", headers: headers))
            }
            ex.account = account.name
            if let limited = consumeRate(&ex) { return .failure(limited) }
            return .success(account)
        case .failure(.expired):
            return .failure(ErrorBodies.bluesky(400, "ExpiredToken", "Token has expired", headers: headers))
        case .failure(.revoked):
            return .failure(ErrorBodies.bluesky(400, "ExpiredToken", "Token has been revoked", headers: headers))
        case .failure(.wrongKind):
            let message = kind == .blueskyRefresh ? "Invalid token type" : "Bad token scope"
            return .failure(ErrorBodies.bluesky(400, "InvalidToken", message, headers: headers))
        case .failure(.missing), .failure(.unknown):
            return .failure(ErrorBodies.bluesky(400, "InvalidToken", "Token could not be verified", headers: headers))
        }
    }

    /// The account a repo parameter (DID or handle) names.
    func blueskyRepo(_ repo: String) -> Account? {
        let wanted = repo.hasPrefix("@") ? String(repo.dropFirst()).lowercased() : repo.lowercased()
        return accounts.values.first {
            $0.platform == .bluesky && ($0.userID.lowercased() == wanted || $0.handle.lowercased() == wanted)
        }
    }

    /// Bluesky's length check; the InvalidRequest message when refused.
    static func blueskyRejection(_ text: String) -> String? {
        if TextRules.blueskyGraphemes(text) > TextRules.blueskyGraphemeLimit {
            return "Invalid app.bsky.feed.post record: Record/text must not be longer than \(TextRules.blueskyGraphemeLimit) graphemes"
        }
        if TextRules.blueskyBytes(text) > TextRules.blueskyByteLimit {
            return "Invalid app.bsky.feed.post record: Record/text must not be longer than \(TextRules.blueskyByteLimit) characters"
        }
        return nil
    }

    /// Creates a Bluesky post (checks done); returns its index.
    mutating func blueskyCreatePost(
        account: Account, record: JSON, text: String, rkey: String?, inReplyTo: String?, via: String, rewrite: Bool,
        now: Int64
    ) -> Int {
        let key = rkey ?? takeTID(atMs: now)
        let stored = rewrite ? rewriteLinks(text) : text
        let uri = "at://\(account.userID)/\(Store.postCollection)/\(key)"
        let cid = Identifiers.cid(using: &rng)
        var post = Post(
            seq: takeSeq(), id: uri, number: 0, account: account.name, platform: .bluesky, text: stored,
            submittedText: text, createdAtMs: now, inReplyTo: inReplyTo, idempotencyKey: nil, rkey: key, uri: uri,
            cid: cid, via: via)
        post.record = record.setting("$type", .string(Store.postCollection)).setting("text", .string(stored))
        return addPost(post)
    }

    func blueskyAuthorJSON(did: String, handle: String, displayName: String) -> JSON {
        [
            "did": .string(did), "handle": .string(handle), "displayName": .string(displayName), "labels": [],
            "createdAt": "2024-01-01T00:00:00.000Z",
        ]
    }

    func blueskyPostView(_ post: Post, origin: String = "https://cdn.bsky.app") -> JSON {
        let account = accounts[post.account]!
        let view: JSON = [
            "uri": .string(post.uri ?? post.id),
            "cid": .optional(post.cid),
            "author": blueskyAuthorJSON(did: account.userID, handle: account.handle, displayName: account.displayName),
            "record": post.record ?? [:],
            "replyCount": .int(post.metrics.replies),
            "repostCount": .int(post.metrics.reposts),
            "likeCount": .int(post.metrics.likes),
            "quoteCount": .int(post.metrics.quotes),
            "bookmarkCount": 0,
            "indexedAt": .string(Timestamps.iso(ms: post.createdAtMs)),
            "viewer": [:],
            "labels": [],
        ]
        return blueskyEmbedView(post, did: account.userID, origin: origin).map { view.setting("embed", $0) } ?? view
    }

    func blueskyMentionRecord(_ mention: Mention) -> JSON {
        var record: JSON = [
            "$type": .string(Store.postCollection),
            "text": .string(mention.text),
            "createdAt": .string(Timestamps.iso(ms: mention.createdAtMs)),
            "langs": ["en"],
        ]
        if let parent = mention.inReplyTo, findPost(parent, platform: .bluesky) != nil {
            record = record.setting("reply", blueskyReplyRefs(parent: parent))
        }
        return record
    }

    /// The cid of a Bluesky post the simulator knows (an account's, deleted or not, or a mention).
    func blueskyCID(_ uri: String) -> String? {
        if let index = findPost(uri, platform: .bluesky) { return posts[index].cid }
        return findMention(uri, platform: .bluesky)?.cid
    }

    /// A record's `reply` for a reply to `parent`: strongRefs of the thread's root and of the parent.
    func blueskyReplyRefs(parent: String) -> JSON {
        func ref(_ uri: String) -> JSON { ["uri": .string(uri), "cid": .optional(blueskyCID(uri))] }
        return ["root": ref(threadRoot(of: parent, platform: .bluesky) ?? parent), "parent": ref(parent)]
    }

    /// A record's `reply` checked as the AppView threads it: root and parent are strongRefs to
    /// posts it knows and has not seen deleted, each with that post's cid, and root is the
    /// parent's thread root. The InvalidRequest message when refused.
    func blueskyReplyRejection(_ reply: JSON) -> String? {
        let prefix = "Invalid app.bsky.feed.post record: Record/reply"
        var refs: [String: (uri: String, cid: String)] = [:]
        for part in ["root", "parent"] {
            guard let ref = reply[part], let uri = ref["uri"]?.stringValue, let cid = ref["cid"]?.stringValue else {
                return "\(prefix)/\(part) must be a strongRef (uri, cid)"
            }
            refs[part] = (uri, cid)
        }
        for part in ["parent", "root"] {
            let (uri, cid) = refs[part]!
            guard let known = blueskyCID(uri) else { return "\(prefix)/\(part) is an unknown record: \(uri)" }
            if let index = findPost(uri, platform: .bluesky), posts[index].deleted {
                return "\(prefix)/\(part) is a deleted record: \(uri)"
            }
            guard known == cid else { return "\(prefix)/\(part) cid mismatch: \(cid) is not the cid of \(uri)" }
        }
        let parent = refs["parent"]!.uri, root = refs["root"]!.uri
        let expected = threadRoot(of: parent, platform: .bluesky) ?? parent
        guard root == expected else {
            return "\(prefix)/root is not the thread's root: the thread of \(parent) starts at \(expected), not \(root)"
        }
        return nil
    }

    // MARK: Endpoints

    /// `POST com.atproto.server.createSession`
    mutating func blueskyCreateSession(_ ex: inout Exchange) -> SimResponse {
        let body = JSON.parse(ex.request.body)
        let identifier = body?["identifier"]?.stringValue
        let password = body?["password"]?.stringValue
        if let identifier, let account = blueskyRepo(identifier) { ex.account = account.name }
        if let limited = consumeRate(&ex) { return limited }
        let headers = ex.rateHeaders
        guard let body, body.isObject else {
            return ErrorBodies.blueskyInvalid("Input must be an object", headers: headers)
        }
        guard let identifier else {
            return ErrorBodies.blueskyInvalid("Input must have the property \"identifier\"", headers: headers)
        }
        guard let password else {
            return ErrorBodies.blueskyInvalid("Input must have the property \"password\"", headers: headers)
        }
        guard let account = blueskyRepo(identifier), !account.revoked, account.appPassword == password else {
            return ErrorBodies.bluesky(401, "AuthenticationRequired", "Invalid identifier or password", headers: headers)
        }
        let access = issueToken(account: account.name, kind: .blueskyAccess, now: ex.now)
        let refresh = issueToken(account: account.name, kind: .blueskyRefresh, now: ex.now)
        return .json(
            200,
            [
                "did": .string(account.userID),
                "handle": .string(account.handle),
                "email": .string("\(account.name)@steadypost-sim.test"),
                "emailConfirmed": true,
                "emailAuthFactor": false,
                "accessJwt": .string(access),
                "refreshJwt": .string(refresh),
                "active": true,
            ], headers: headers)
    }

    /// `POST com.atproto.server.refreshSession`: a new pair; the old refresh token keeps working
    /// for two hours after its first use.
    mutating func blueskyRefreshSession(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch blueskyAuthenticate(&ex, kind: .blueskyRefresh, required: true) {
        case .failure(let response): return response
        case .success(let a): account = a!
        }
        if let bearer = ex.request.bearer, tokens[bearer]?.usedMs == nil {
            tokens[bearer]?.usedMs = ex.now
        }
        let access = issueToken(account: account.name, kind: .blueskyAccess, now: ex.now)
        let refresh = issueToken(account: account.name, kind: .blueskyRefresh, now: ex.now)
        return .json(
            200,
            [
                "did": .string(account.userID),
                "handle": .string(account.handle),
                "accessJwt": .string(access),
                "refreshJwt": .string(refresh),
                "active": true,
            ], headers: ex.rateHeaders)
    }

    /// `GET com.atproto.server.getSession`
    mutating func blueskyGetSession(_ ex: inout Exchange) -> SimResponse {
        switch blueskyAuthenticate(&ex, kind: .blueskyAccess, required: true) {
        case .failure(let response): return response
        case .success(let a):
            let account = a!
            return .json(
                200,
                [
                    "did": .string(account.userID), "handle": .string(account.handle),
                    "email": .string("\(account.name)@steadypost-sim.test"), "emailConfirmed": true, "active": true,
                ], headers: ex.rateHeaders)
        }
    }

    /// `POST com.atproto.repo.createRecord`
    mutating func blueskyCreateRecord(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch blueskyAuthenticate(&ex, kind: .blueskyAccess, required: true) {
        case .failure(let response): return response
        case .success(let a): account = a!
        }
        let headers = ex.rateHeaders
        guard let body = JSON.parse(ex.request.body), body.isObject else {
            return ErrorBodies.blueskyInvalid("Input must be an object", headers: headers)
        }
        if let rkey = body["rkey"]?.stringValue { ex.rkey = rkey }
        guard let repo = body["repo"]?.stringValue else {
            return ErrorBodies.blueskyInvalid("Input must have the property \"repo\"", headers: headers)
        }
        guard let owner = blueskyRepo(repo) else {
            return ErrorBodies.blueskyInvalid("Could not find repo: \(repo)", headers: headers)
        }
        guard owner.name == account.name else {
            return ErrorBodies.bluesky(401, "AuthenticationRequired", "Authentication Required", headers: headers)
        }
        guard let collection = body["collection"]?.stringValue else {
            return ErrorBodies.blueskyInvalid("Input must have the property \"collection\"", headers: headers)
        }
        guard collection == Store.postCollection else {
            return ErrorBodies.blueskyInvalid(
                "Invalid collection: the simulator only stores \(Store.postCollection)", headers: headers)
        }
        var rkey: String?
        if let value = body["rkey"], value != .null {
            guard let text = value.stringValue, Identifiers.isTID(text) else {
                return ErrorBodies.blueskyInvalid("Input/rkey must be a valid TID", headers: headers)
            }
            rkey = text
        }
        guard let record = body["record"], record.isObject else {
            return ErrorBodies.blueskyInvalid("Input must have the property \"record\"", headers: headers)
        }
        if let type = record["$type"], type != .string(Store.postCollection) {
            return ErrorBodies.blueskyInvalid("Invalid $type: must be \(Store.postCollection)", headers: headers)
        }
        guard let text = record["text"]?.stringValue else {
            return ErrorBodies.blueskyInvalid(
                "Invalid app.bsky.feed.post record: Record must have the property \"text\"", headers: headers)
        }
        guard let createdAt = record["createdAt"]?.stringValue, Timestamps.parse(createdAt) != nil else {
            return ErrorBodies.blueskyInvalid(
                "Invalid app.bsky.feed.post record: Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)",
                headers: headers)
        }
        if let message = Store.blueskyRejection(text) {
            return ErrorBodies.blueskyInvalid(message, headers: headers)
        }
        var inReplyTo: String?
        if let reply = record["reply"], reply != .null {
            if let message = blueskyReplyRejection(reply) {
                return ErrorBodies.blueskyInvalid(message, headers: headers)
            }
            inReplyTo = reply["parent"]?["uri"]?.stringValue
        }
        let attached: [PostMedia]
        switch blueskyEmbedMedia(record["embed"], account: account.name) {
        case .success(let items): attached = items
        case .failure(let error): return ErrorBodies.blueskyInvalid(error.message, headers: headers)
        }
        if let rkey, rkeys[account.name]?[rkey] != nil {
            return ErrorBodies.bluesky(500, "InternalServerError", "Internal Server Error", headers: headers)
        }
        let index = blueskyCreatePost(
            account: account, record: record, text: text, rkey: rkey, inReplyTo: inReplyTo, via: "api",
            rewrite: ex.rewriteURLs, now: ex.now)
        posts[index].media = attached
        let post = posts[index]
        ex.rkey = post.rkey
        return .json(
            200,
            [
                "uri": .optional(post.uri),
                "cid": .optional(post.cid),
                "commit": ["cid": .string(Identifiers.cid(using: &rng)), "rev": .string(takeTID(atMs: ex.now))],
                "validationStatus": "valid",
            ], headers: headers)
    }

    /// `GET com.atproto.repo.getRecord`
    mutating func blueskyGetRecord(_ ex: inout Exchange) -> SimResponse {
        if case .failure(let response) = blueskyAuthenticate(&ex, kind: .blueskyAccess, required: false) {
            return response
        }
        let request = ex.request
        let headers = ex.rateHeaders
        for name in ["repo", "collection", "rkey"] where request.queryValue(name) == nil {
            return ErrorBodies.blueskyInvalid("Params must have the property \"\(name)\"", headers: headers)
        }
        let repo = request.queryValue("repo")!, collection = request.queryValue("collection")!
        let rkey = request.queryValue("rkey")!
        ex.rkey = rkey
        guard let owner = blueskyRepo(repo) else {
            return ErrorBodies.blueskyInvalid("Could not find repo: \(repo)", headers: headers)
        }
        let uri = "at://\(owner.userID)/\(collection)/\(rkey)"
        guard collection == Store.postCollection, let index = rkeys[owner.name]?[rkey], !posts[index].deleted,
            request.queryValue("cid").map({ $0 == posts[index].cid }) ?? true
        else {
            return ErrorBodies.bluesky(400, "RecordNotFound", "Could not locate record: \(uri)", headers: headers)
        }
        let post = posts[index]
        return .json(
            200, ["uri": .optional(post.uri), "cid": .optional(post.cid), "value": post.record ?? [:]], headers: headers)
    }

    /// `GET com.atproto.repo.listRecords`: newest first (by rkey), `cursor` absent at the end.
    mutating func blueskyListRecords(_ ex: inout Exchange) -> SimResponse {
        if case .failure(let response) = blueskyAuthenticate(&ex, kind: .blueskyAccess, required: false) {
            return response
        }
        let request = ex.request
        let headers = ex.rateHeaders
        guard let repo = request.queryValue("repo") else {
            return ErrorBodies.blueskyInvalid("Params must have the property \"repo\"", headers: headers)
        }
        guard let collection = request.queryValue("collection") else {
            return ErrorBodies.blueskyInvalid("Params must have the property \"collection\"", headers: headers)
        }
        var limit = 50
        if let text = request.queryValue("limit") {
            guard let value = Int(text), (1...100).contains(value) else {
                return ErrorBodies.blueskyInvalid("limit must be an integer from 1 to 100", headers: headers)
            }
            limit = value
        }
        guard let owner = blueskyRepo(repo) else {
            return ErrorBodies.blueskyInvalid("Could not find repo: \(repo)", headers: headers)
        }
        let reverse = (request.queryValue("reverse") ?? "") == "true"
        var items: [Post] = []
        if collection == Store.postCollection {
            items = posts.filter { $0.platform == .bluesky && $0.account == owner.name && !$0.deleted }
        }
        items.sort { reverse ? ($0.rkey ?? "") < ($1.rkey ?? "") : ($0.rkey ?? "") > ($1.rkey ?? "") }
        if let cursor = request.queryValue("cursor") {
            items = items.filter { reverse ? ($0.rkey ?? "") > cursor : ($0.rkey ?? "") < cursor }
        }
        let page = Array(items.prefix(min(limit, ex.pageCap ?? Int.max)))
        var members: [JSON.Member] = [
            JSON.Member(
                "records",
                .array(page.map { ["uri": .optional($0.uri), "cid": .optional($0.cid), "value": $0.record ?? [:]] }))
        ]
        if items.count > page.count, let last = page.last?.rkey {
            members.append(JSON.Member("cursor", .string(last)))
        }
        return .json(200, .object(members), headers: headers)
    }

    /// `GET app.bsky.feed.getPosts?uris=…` (at most 25; missing posts are just absent)
    mutating func blueskyGetPosts(_ ex: inout Exchange) -> SimResponse {
        if case .failure(let response) = blueskyAuthenticate(&ex, kind: .blueskyAccess, required: false) {
            return response
        }
        let uris = ex.request.queryValues("uris") + ex.request.queryValues("uris[]")
        guard !uris.isEmpty else {
            return ErrorBodies.blueskyInvalid("Params must have the property \"uris\"", headers: ex.rateHeaders)
        }
        guard uris.count <= 25 else {
            return ErrorBodies.blueskyInvalid("uris must not have more than 25 elements", headers: ex.rateHeaders)
        }
        var views: [JSON] = []
        for uri in uris {
            if let index = findPost(uri, platform: .bluesky), !posts[index].deleted {
                views.append(blueskyPostView(posts[index]))
            } else if let index = mentionIndex[uri], mentions[index].platform == .bluesky {
                let mention = mentions[index]
                views.append([
                    "uri": .string(mention.id),
                    "cid": .optional(mention.cid),
                    "author": blueskyAuthorJSON(
                        did: mention.author.id, handle: mention.author.handle, displayName: mention.author.displayName),
                    "record": blueskyMentionRecord(mention),
                    "replyCount": 0, "repostCount": 0, "likeCount": 0, "quoteCount": 0, "bookmarkCount": 0,
                    "indexedAt": .string(Timestamps.iso(ms: mention.createdAtMs)),
                    "viewer": [:], "labels": [],
                ])
            }
        }
        return .json(200, ["posts": .array(views)], headers: ex.rateHeaders)
    }

    /// `GET app.bsky.notification.listNotifications`
    mutating func blueskyNotifications(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch blueskyAuthenticate(&ex, kind: .blueskyAccess, required: true) {
        case .failure(let response): return response
        case .success(let a): account = a!
        }
        let request = ex.request
        let headers = ex.rateHeaders
        var limit = 50
        if let text = request.queryValue("limit") {
            guard let value = Int(text), (1...100).contains(value) else {
                return ErrorBodies.blueskyInvalid("limit must be an integer from 1 to 100", headers: headers)
            }
            limit = value
        }
        let reasons = Set(request.queryValues("reasons") + request.queryValues("reasons[]"))
        var items = mentions.filter { $0.platform == .bluesky && $0.account == account.name }
        items.sort { $0.seq > $1.seq }
        items = items.filter { reasons.isEmpty || reasons.contains($0.inReplyTo == nil ? "mention" : "reply") }
        if let cursor = request.queryValue("cursor") {
            guard let seq = Int(cursor) else {
                return ErrorBodies.blueskyInvalid("Malformed cursor", headers: headers)
            }
            items = items.filter { $0.seq < seq }
        }
        let page = Array(items.prefix(min(limit, ex.pageCap ?? Int.max)))
        let notifications: [JSON] = page.map { mention in
            var item: JSON = [
                "uri": .string(mention.id),
                "cid": .optional(mention.cid),
                "author": blueskyAuthorJSON(
                    did: mention.author.id, handle: mention.author.handle, displayName: mention.author.displayName),
                "reason": .string(mention.inReplyTo == nil ? "mention" : "reply"),
                "record": blueskyMentionRecord(mention),
                "isRead": false,
                "indexedAt": .string(Timestamps.iso(ms: mention.createdAtMs)),
                "labels": [],
            ]
            if let parent = mention.inReplyTo { item = item.setting("reasonSubject", .string(parent)) }
            return item
        }
        var members: [JSON.Member] = [JSON.Member("notifications", .array(notifications))]
        if items.count > page.count, let last = page.last {
            members.append(JSON.Member("cursor", .string(String(last.seq))))
        }
        members.append(JSON.Member("priority", false))
        return .json(200, .object(members), headers: headers)
    }
}
