import Foundation
import SteadyCore

/// A tweet as X serves it: one of the accounts' posts or an injected mention.
struct XTweetView {
    let id: String
    let number: UInt64
    let text: String
    let authorID: String
    let createdAtMs: Int64
    let inReplyTo: String?
    let metrics: Metrics
    var media: [PostMedia] = []
}

/// Why X refuses a text.
enum XRejection {
    case empty, tooLong, duplicate

    func response(_ headers: [(String, String)]) -> SimResponse {
        switch self {
        case .empty:
            return ErrorBodies.xInvalidRequest(
                "Post text is required when no media, quote or poll is attached.", parameter: "text", value: "",
                headers: headers)
        case .tooLong:
            return ErrorBodies.xProblem(
                403, title: "Forbidden", detail: "You are not permitted to perform this action.", headers: headers)
        case .duplicate:
            return ErrorBodies.xDuplicate(headers)
        }
    }
}

extension Store {
    // MARK: Shared

    mutating func xAuthenticate(_ ex: inout Exchange) -> Result<Account, SimResponse> {
        switch validToken(ex.request.bearer, kinds: [.xAccess], now: ex.now) {
        case .success(let token):
            guard let account = accounts[token.account] else {
                return .failure(ErrorBodies.xUnauthorized(peekRateHeaders(ex)))
            }
            ex.account = account.name
            if let limited = consumeRate(&ex) { return .failure(limited) }
            return .success(account)
        case .failure:
            return .failure(ErrorBodies.xUnauthorized(peekRateHeaders(ex)))
        }
    }

    func xTweet(_ id: String) -> XTweetView? {
        if let index = findPost(id, platform: .x), !posts[index].deleted {
            let post = posts[index]
            return XTweetView(
                id: post.id, number: post.number, text: post.text,
                authorID: accounts[post.account]?.userID ?? "", createdAtMs: post.createdAtMs,
                inReplyTo: post.inReplyTo, metrics: post.metrics, media: post.media)
        }
        if let index = mentionIndex[id], mentions[index].platform == .x {
            let mention = mentions[index]
            return XTweetView(
                id: mention.id, number: mention.number, text: mention.text, authorID: mention.author.id,
                createdAtMs: mention.createdAtMs, inReplyTo: mention.inReplyTo, metrics: Metrics())
        }
        return nil
    }

    /// The user object of an X user id (an account or a foreign user).
    func xUser(_ id: String) -> JSON? {
        if let account = accounts.values.first(where: { $0.platform == .x && $0.userID == id }) {
            return ["id": .string(account.userID), "name": .string(account.displayName), "username": .string(account.handle)]
        }
        if let user = foreignUsers.values.first(where: { $0.platform == .x && $0.id == id }) {
            return ["id": .string(user.id), "name": .string(user.displayName), "username": .string(user.handle)]
        }
        return nil
    }

    /// The fields a request asks for: `tweet.fields` or, in the newer spelling, `post.fields`.
    static func xFields(_ request: SimRequest) -> (fields: Set<String>, newSpelling: Bool) {
        let tweetFields = request.queryValues("tweet.fields").flatMap { $0.split(separator: ",").map(String.init) }
        let postFields = request.queryValues("post.fields").flatMap { $0.split(separator: ",").map(String.init) }
        return (Set(tweetFields + postFields), !postFields.isEmpty)
    }

    func xTweetJSON(_ tweet: XTweetView, fields: Set<String>, newSpelling: Bool) -> JSON {
        var members: [JSON.Member] = [
            JSON.Member("edit_history_tweet_ids", [.string(tweet.id)]),
            JSON.Member("id", .string(tweet.id)),
            JSON.Member("text", .string(tweet.text)),
        ]
        if fields.contains("created_at") {
            members.append(JSON.Member("created_at", .string(Timestamps.iso(ms: tweet.createdAtMs))))
        }
        if fields.contains("author_id") {
            members.append(JSON.Member("author_id", .string(tweet.authorID)))
        }
        if (fields.contains("attachments") || fields.contains("media_keys")) && !tweet.media.isEmpty {
            let keys = tweet.media.map { JSON.string(MediaFormat.xKeyPrefix(kind: $0.format.kind) + $0.mediaID) }
            members.append(JSON.Member("attachments", ["media_keys": .array(keys)]))
        }
        if fields.contains("conversation_id") {
            var root = tweet
            var hops = 0
            while let parent = root.inReplyTo, let next = xTweet(parent), hops < 1000 {
                root = next
                hops += 1
            }
            members.append(JSON.Member("conversation_id", .string(root.id)))
        }
        if let parent = tweet.inReplyTo {
            if fields.contains("in_reply_to_user_id"), let parentTweet = xTweet(parent) {
                members.append(JSON.Member("in_reply_to_user_id", .string(parentTweet.authorID)))
            }
            if fields.contains("referenced_tweets") {
                members.append(JSON.Member("referenced_tweets", [["type": "replied_to", "id": .string(parent)]]))
            }
        }
        if fields.contains("public_metrics") {
            members.append(
                JSON.Member(
                    "public_metrics",
                    [
                        newSpelling ? "repost_count" : "retweet_count": .int(tweet.metrics.reposts),
                        "reply_count": .int(tweet.metrics.replies),
                        "like_count": .int(tweet.metrics.likes),
                        "quote_count": .int(tweet.metrics.quotes),
                        "bookmark_count": 0,
                        "impression_count": .int(tweet.metrics.impressions),
                    ]))
        }
        return .object(members)
    }

    /// Checks a text as X would before creating it.
    func xValidate(account: String, normalizedText: String, now: Int64) -> XRejection? {
        if normalizedText.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty { return .empty }
        if TextRules.xWeightedLength(normalizedText) > TextRules.xLimit { return .tooLong }
        let dayAgo = now - 86_400_000
        let duplicate = posts.contains {
            $0.account == account && $0.platform == .x && !$0.deleted && $0.createdAtMs > dayAgo
                && $0.submittedText == normalizedText
        }
        return duplicate ? .duplicate : nil
    }

    /// Creates an X post (checks done); returns its index.
    mutating func xCreatePost(account: String, text: String, inReplyTo: String?, via: String, rewrite: Bool, now: Int64)
        -> Int
    {
        let number = takeXTweetID()
        let stored = rewrite ? rewriteLinks(text) : text
        let post = Post(
            seq: takeSeq(), id: String(number), number: number, account: account, platform: .x, text: stored,
            submittedText: text, createdAtMs: now, inReplyTo: inReplyTo, idempotencyKey: nil, rkey: nil, uri: nil,
            cid: nil, via: via)
        return addPost(post)
    }

    // MARK: Endpoints

    /// `POST /2/tweets`
    mutating func xCreate(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch xAuthenticate(&ex) {
        case .success(let a): account = a
        case .failure(let response): return response
        }
        guard let body = JSON.parse(ex.request.body), body.isObject else {
            return ErrorBodies.xInvalidRequest("Request body is not valid JSON.", headers: ex.rateHeaders)
        }
        var attached: [PostMedia] = []
        if let mediaField = body["media"], mediaField != .null {
            guard case .array(let items)? = mediaField["media_ids"], !items.isEmpty,
                case let ids = items.compactMap(\.stringValue), ids.count == items.count
            else {
                return ErrorBodies.xInvalidRequest(
                    "media.media_ids must be a non-empty array of strings", parameter: "media.media_ids",
                    headers: ex.rateHeaders)
            }
            switch xPostMedia(ids, account: account.name, now: ex.now, headers: ex.rateHeaders) {
            case .success(let items): attached = items
            case .failure(let response): return response
            }
        }
        guard let rawText = body["text"]?.stringValue ?? (attached.isEmpty ? nil : "") else {
            return XRejection.empty.response(ex.rateHeaders)
        }
        var inReplyTo: String?
        if let reply = body["reply"], reply != .null {
            guard let target = reply["in_reply_to_tweet_id"]?.stringValue else {
                return ErrorBodies.xInvalidRequest(
                    "reply.in_reply_to_tweet_id is required", parameter: "reply.in_reply_to_tweet_id",
                    headers: ex.rateHeaders)
            }
            guard xTweet(target) != nil else {
                return ErrorBodies.xProblem(
                    403, title: "Forbidden",
                    detail: "You attempted to reply to a Tweet that is deleted or not visible to you.",
                    headers: ex.rateHeaders)
            }
            inReplyTo = target
        }
        let text = rawText.precomposedStringWithCanonicalMapping
        if let rejection = xValidate(account: account.name, normalizedText: text, now: ex.now),
            !(rejection == .empty && !attached.isEmpty)
        {
            return rejection.response(ex.rateHeaders)
        }
        let index = xCreatePost(
            account: account.name, text: text, inReplyTo: inReplyTo, via: "api", rewrite: ex.rewriteURLs, now: ex.now)
        posts[index].media = attached
        let post = posts[index]
        return .json(
            201,
            ["data": ["edit_history_tweet_ids": [.string(post.id)], "id": .string(post.id), "text": .string(post.text)]],
            headers: ex.rateHeaders)
    }

    /// `GET /2/tweets/:id`
    mutating func xRead(_ ex: inout Exchange) -> SimResponse {
        if case .failure(let response) = xAuthenticate(&ex) { return response }
        let id = ex.request.parameters["id"] ?? ""
        guard Store.isXID(id) else {
            return ErrorBodies.xInvalidRequest(
                "The `id` query parameter value [\(id)] does not match ^[0-9]{1,19}$", parameter: "id", value: id,
                headers: ex.rateHeaders)
        }
        let (fields, newSpelling) = Store.xFields(ex.request)
        guard let tweet = xTweet(id) else {
            return .json(200, ["errors": [ErrorBodies.xNotFoundError(id: id, resource: "tweet", parameter: "id")]], headers: ex.rateHeaders)
        }
        var body: JSON = ["data": xTweetJSON(tweet, fields: fields, newSpelling: newSpelling)]
        if let includes = xIncludes([tweet], ex.request) { body = body.setting("includes", includes) }
        return .json(200, body, headers: ex.rateHeaders)
    }

    /// `GET /2/tweets?ids=…` (up to 100)
    mutating func xLookup(_ ex: inout Exchange) -> SimResponse {
        if case .failure(let response) = xAuthenticate(&ex) { return response }
        let ids = ex.request.queryValues("ids").flatMap { $0.split(separator: ",").map(String.init) }
        guard !ids.isEmpty, ids.count <= 100 else {
            return ErrorBodies.xInvalidRequest(
                "The `ids` query parameter must name 1 to 100 ids", parameter: "ids",
                value: ids.joined(separator: ","), headers: ex.rateHeaders)
        }
        if let bad = ids.first(where: { !Store.isXID($0) }) {
            return ErrorBodies.xInvalidRequest(
                "The `ids` query parameter value [\(bad)] does not match ^[0-9]{1,19}$", parameter: "ids", value: bad,
                headers: ex.rateHeaders)
        }
        let (fields, newSpelling) = Store.xFields(ex.request)
        var found: [XTweetView] = []
        var errors: [JSON] = []
        for id in ids {
            if let tweet = xTweet(id) {
                found.append(tweet)
            } else {
                errors.append(ErrorBodies.xNotFoundError(id: id, resource: "tweet", parameter: "ids"))
            }
        }
        var members: [JSON.Member] = []
        if !found.isEmpty {
            members.append(JSON.Member("data", .array(found.map { xTweetJSON($0, fields: fields, newSpelling: newSpelling) })))
        }
        if let includes = xIncludes(found, ex.request) { members.append(JSON.Member("includes", includes)) }
        if !errors.isEmpty { members.append(JSON.Member("errors", .array(errors))) }
        return .json(200, .object(members), headers: ex.rateHeaders)
    }

    /// `GET /2/users/me`
    mutating func xMe(_ ex: inout Exchange) -> SimResponse {
        switch xAuthenticate(&ex) {
        case .failure(let response): return response
        case .success(let account):
            return .json(
                200,
                ["data": ["id": .string(account.userID), "name": .string(account.displayName), "username": .string(account.handle)]],
                headers: ex.rateHeaders)
        }
    }

    /// `GET /2/users/:id/tweets`
    mutating func xTimeline(_ ex: inout Exchange) -> SimResponse {
        xUserTweets(&ex, mentions: false)
    }

    /// `GET /2/users/:id/mentions`
    mutating func xMentions(_ ex: inout Exchange) -> SimResponse {
        xUserTweets(&ex, mentions: true)
    }

    private mutating func xUserTweets(_ ex: inout Exchange, mentions wantMentions: Bool) -> SimResponse {
        if case .failure(let response) = xAuthenticate(&ex) { return response }
        let userID = ex.request.parameters["id"] ?? ""
        guard Store.isXID(userID) else {
            return ErrorBodies.xInvalidRequest(
                "The `id` query parameter value [\(userID)] does not match ^[0-9]{1,19}$", parameter: "id",
                value: userID, headers: ex.rateHeaders)
        }
        guard xUser(userID) != nil else {
            return .json(200, ["errors": [ErrorBodies.xNotFoundError(id: userID, resource: "user", parameter: "id")]], headers: ex.rateHeaders)
        }
        let request = ex.request
        var maxResults = 10
        if let text = request.queryValue("max_results") {
            guard let value = Int(text), (5...100).contains(value) else {
                return ErrorBodies.xInvalidRequest(
                    "The `max_results` query parameter value [\(text)] is not between 5 and 100",
                    parameter: "max_results", value: text, headers: ex.rateHeaders)
            }
            maxResults = value
        }
        var idFilters: [String: UInt64] = [:]
        for name in ["since_id", "until_id"] {
            if let text = request.queryValue(name) {
                guard Store.isXID(text), let value = UInt64(text) else {
                    return ErrorBodies.xInvalidRequest(
                        "The `\(name)` query parameter value [\(text)] does not match ^[0-9]{1,19}$", parameter: name,
                        value: text, headers: ex.rateHeaders)
                }
                idFilters[name] = value
            }
        }
        var timeFilters: [String: Int64] = [:]
        for name in ["start_time", "end_time"] {
            if let text = request.queryValue(name) {
                guard let value = Timestamps.parse(text) else {
                    return ErrorBodies.xInvalidRequest(
                        "The `\(name)` query parameter value [\(text)] is not a valid RFC 3339 date-time",
                        parameter: name, value: text, headers: ex.rateHeaders)
                }
                timeFilters[name] = value
            }
        }
        var after: UInt64?
        if let token = request.queryValue("pagination_token") {
            guard let value = Store.decodeXPaginationToken(token) else {
                return ErrorBodies.xInvalidRequest(
                    "The `pagination_token` query parameter value [\(token)] is not valid", parameter: "pagination_token",
                    value: token, headers: ex.rateHeaders)
            }
            after = value
        }
        let excluded = Set(request.queryValues("exclude").flatMap { $0.split(separator: ",").map(String.init) })

        var items: [XTweetView]
        if wantMentions {
            let account = accounts.values.first { $0.platform == .x && $0.userID == userID }
            items = mentions.filter { $0.platform == .x && $0.account == account?.name }
                .compactMap { xTweet($0.id) }
            items.sort { $0.number > $1.number }
            items = Array(items.prefix(800))
        } else {
            let account = accounts.values.first { $0.platform == .x && $0.userID == userID }
            items = posts.filter { $0.platform == .x && $0.account == account?.name && !$0.deleted }
                .compactMap { xTweet($0.id) }
            items.sort { $0.number > $1.number }
            items = Array(items.prefix(3200))
        }
        items = items.filter { tweet in
            if let since = idFilters["since_id"], tweet.number <= since { return false }
            if let until = idFilters["until_id"], tweet.number >= until { return false }
            if let start = timeFilters["start_time"], tweet.createdAtMs < start { return false }
            if let end = timeFilters["end_time"], tweet.createdAtMs >= end { return false }
            if excluded.contains("replies"), tweet.inReplyTo != nil { return false }
            if let after, tweet.number > after { return false }
            return true
        }
        let pageSize = min(maxResults, ex.pageCap ?? Int.max)
        let page = Array(items.prefix(pageSize))
        let (fields, newSpelling) = Store.xFields(request)
        var meta: [JSON.Member] = [JSON.Member("result_count", .int(page.count))]
        if let first = page.first, let last = page.last {
            meta.append(JSON.Member("newest_id", .string(first.id)))
            meta.append(JSON.Member("oldest_id", .string(last.id)))
        }
        if items.count > page.count {
            meta.append(JSON.Member("next_token", .string(Store.encodeXPaginationToken(items[page.count].number))))
        }
        var members: [JSON.Member] = []
        if !page.isEmpty {
            members.append(JSON.Member("data", .array(page.map { xTweetJSON($0, fields: fields, newSpelling: newSpelling) })))
            if let includes = xIncludes(page, request) { members.append(JSON.Member("includes", includes)) }
        }
        members.append(JSON.Member("meta", .object(meta)))
        return .json(200, .object(members), headers: ex.rateHeaders)
    }

    /// `includes.users` when the request asks for `expansions=author_id`, `includes.media` for
    /// `expansions=attachments.media_keys`.
    private func xIncludes(_ tweets: [XTweetView], _ request: SimRequest) -> JSON? {
        let expansions = Set(request.queryValues("expansions").flatMap { $0.split(separator: ",").map(String.init) })
        guard !tweets.isEmpty else { return nil }
        var members: [JSON.Member] = []
        if expansions.contains("author_id") {
            var seen: Set<String> = []
            var users: [JSON] = []
            for tweet in tweets where !seen.contains(tweet.authorID) {
                seen.insert(tweet.authorID)
                if let user = xUser(tweet.authorID) { users.append(user) }
            }
            members.append(JSON.Member("users", .array(users)))
        }
        let media = tweets.flatMap(\.media)
        if expansions.contains("attachments.media_keys"), !media.isEmpty {
            members.append(JSON.Member("media", .array(media.map(Store.xIncludedMedia))))
        }
        return members.isEmpty ? nil : .object(members)
    }

    /// `POST /2/oauth2/token`: refresh-token grant only; refresh tokens are single-use.
    mutating func xToken(_ ex: inout Exchange) -> SimResponse {
        let form = parseForm(ex.request.bodyText)
        func field(_ name: String) -> String? { form.first { $0.0 == name }?.1 }
        var clientID = field("client_id")
        if clientID == nil, let auth = ex.request.header("authorization"), auth.lowercased().hasPrefix("basic "),
            let decoded = Data(base64Encoded: String(auth.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let text = String(data: decoded, encoding: .utf8)
        {
            clientID = text.split(separator: ":", maxSplits: 1).first.map(String.init)
        }
        let refresh = field("refresh_token")
        if let refresh, let token = tokens[refresh] { ex.account = token.account }
        if let limited = consumeRate(&ex) { return limited }
        let headers = ex.rateHeaders
        guard let grant = field("grant_type") else {
            return ErrorBodies.xOAuthInvalid("Missing required parameter [grant_type].", headers: headers)
        }
        guard grant == "refresh_token" else {
            return .json(
                400,
                ["error": "unsupported_grant_type", "error_description": .string("Grant type \(grant) is not supported.")],
                headers: headers)
        }
        guard let clientID, !clientID.isEmpty else {
            return ErrorBodies.xOAuthInvalid("Missing required parameter [client_id].", headers: headers)
        }
        guard let refresh, !refresh.isEmpty else {
            return ErrorBodies.xOAuthInvalid("Missing required parameter [refresh_token].", headers: headers)
        }
        let invalid = ErrorBodies.xOAuthInvalid("Value passed for the token was invalid.", headers: headers)
        guard case .success(let token) = validToken(refresh, kinds: [.xRefresh], now: ex.now), token.usedMs == nil,
            let account = accounts[token.account], account.clientID == clientID
        else { return invalid }
        tokens[refresh]?.usedMs = ex.now
        let access = issueToken(account: account.name, kind: .xAccess, now: ex.now)
        let newRefresh = issueToken(account: account.name, kind: .xRefresh, now: ex.now)
        return .json(
            200,
            [
                "token_type": "bearer",
                "expires_in": .int(accessLifetimeMs / 1000),
                "access_token": .string(access),
                "scope": "tweet.read tweet.write users.read offline.access",
                "refresh_token": .string(newRefresh),
            ], headers: headers)
    }

    // MARK: Helpers

    static func isXID(_ text: String) -> Bool {
        !text.isEmpty && text.count <= 19 && text.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }
    }

    private static let tokenMask: UInt64 = 0x2545_F491_4F6C_DD1D

    /// An opaque page token naming the first tweet (by number) of the next page.
    static func encodeXPaginationToken(_ number: UInt64) -> String {
        String(number ^ tokenMask, radix: 36)
    }

    static func decodeXPaginationToken(_ token: String) -> UInt64? {
        guard token.count <= 14, let value = UInt64(token, radix: 36) else { return nil }
        return value ^ tokenMask
    }
}
