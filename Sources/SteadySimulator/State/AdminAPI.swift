import SteadyCore

/// The `/_sim/` admin API: ground truth, accounts, injections, clock and fault rules.
extension Store {
    static func adminError(_ status: Int, _ message: String) -> SimResponse {
        .json(status, ["error": .string(message)])
    }

    private static func adminBody(_ request: SimRequest) -> Result<JSON, SimResponse> {
        guard let body = JSON.parse(request.body), body.isObject else {
            return .failure(adminError(400, "the body must be a JSON object"))
        }
        return .success(body)
    }

    private func adminAccount(_ body: JSON) -> Result<Account, SimResponse> {
        guard let name = body["account"]?.stringValue else {
            return .failure(Store.adminError(400, "account is required"))
        }
        guard let account = accounts[name] else { return .failure(Store.adminError(404, "no account named \(name)")) }
        return .success(account)
    }

    /// `POST /_sim/accounts` `{"platform", "name"}`
    mutating func adminCreateAccount(_ request: SimRequest) -> SimResponse {
        let body: JSON
        switch Store.adminBody(request) {
        case .failure(let response): return response
        case .success(let b): body = b
        }
        guard let platformText = body["platform"]?.stringValue, let platform = Platform(rawValue: platformText) else {
            return Store.adminError(400, "platform must be x, mastodon, bluesky or facebook")
        }
        guard let name = body["name"]?.stringValue else { return Store.adminError(400, "name is required") }
        switch createAccount(platform: platform, name: name) {
        case .failure(let error):
            return Store.adminError(accounts[name] == nil ? 400 : 409, error.message)
        case .success(let account):
            return .json(201, accountCreatedJSON(account))
        }
    }

    func accountCreatedJSON(_ account: Account) -> JSON {
        [
            "name": .string(account.name),
            "platform": .string(account.platform.rawValue),
            "user_id": .string(account.userID),
            "handle": .string(account.handle),
            "credentials": credentials(of: account),
        ]
    }

    /// `GET /_sim/accounts`
    func adminAccounts() -> SimResponse {
        .json(200, ["accounts": .array(accountOrder.compactMap { accounts[$0] }.map(accountJSON))])
    }

    /// `GET /_sim/accounts/NAME/credentials` (an addition: the credentials of an account made
    /// with `--account` and no credentials directory)
    func adminCredentials(_ name: String) -> SimResponse {
        guard let account = accounts[name] else { return Store.adminError(404, "no account named \(name)") }
        return .json(200, accountCreatedJSON(account))
    }

    /// `GET /_sim/posts[?account=NAME]`
    func adminPosts(_ request: SimRequest) -> SimResponse {
        let name = request.queryValue("account")
        let selected = posts.filter { name == nil || $0.account == name }
        return .json(200, ["posts": .array(selected.map(postJSON))])
    }

    /// `POST /_sim/posts` `{"account", "text", "created_at_ms"?, "in_reply_to"?, "rkey"?, "idempotency_key"?}`
    mutating func adminInjectPost(_ request: SimRequest) -> SimResponse {
        let body: JSON
        let account: Account
        switch Store.adminBody(request).flatMap({ b in adminAccount(b).map { (b, $0) } }) {
        case .failure(let response): return response
        case .success(let pair): (body, account) = pair
        }
        guard let text = body["text"]?.stringValue else { return Store.adminError(400, "text is required") }
        let now = now()
        let at = body["created_at_ms"]?.intValue ?? now
        let inReplyTo = body["in_reply_to"]?.stringValue
        let index: Int
        switch account.platform {
        case .x:
            let number = takeXTweetID()
            let normalized = text.precomposedStringWithCanonicalMapping
            index = addPost(
                Post(
                    seq: takeSeq(), id: String(number), number: number, account: account.name, platform: .x,
                    text: normalized, submittedText: normalized, createdAtMs: at, inReplyTo: inReplyTo,
                    idempotencyKey: nil, rkey: nil, uri: nil, cid: nil, via: "injected"))
        case .mastodon:
            let number = takeMastodonStatusID()
            let key = body["idempotency_key"]?.stringValue
            index = addPost(
                Post(
                    seq: takeSeq(), id: String(number), number: number, account: account.name, platform: .mastodon,
                    text: text, submittedText: text, createdAtMs: at, inReplyTo: inReplyTo, idempotencyKey: key,
                    rkey: nil, uri: nil, cid: nil, via: "injected"))
            if let key { idempotency[account.name, default: [:]][key] = (index, at) }
        case .bluesky:
            var rkey: String
            if let given = body["rkey"]?.stringValue {
                guard Identifiers.isTID(given) else { return Store.adminError(400, "rkey must be a TID") }
                guard rkeys[account.name]?[given] == nil else {
                    return Store.adminError(409, "rkey \(given) is already used by \(account.name)")
                }
                rkey = given
            } else {
                rkey = takeInjectedTID(atMs: at, account: account.name)
            }
            let uri = "at://\(account.userID)/\(Store.postCollection)/\(rkey)"
            var post = Post(
                seq: takeSeq(), id: uri, number: 0, account: account.name, platform: .bluesky, text: text,
                submittedText: text, createdAtMs: at, inReplyTo: inReplyTo, idempotencyKey: nil, rkey: rkey, uri: uri,
                cid: Identifiers.cid(using: &rng), via: "injected")
            post.record = [
                "$type": .string(Store.postCollection), "text": .string(text), "createdAt": .string(Timestamps.iso(ms: at)),
            ]
            if let parent = inReplyTo, blueskyCID(parent) != nil {
                post.record = post.record?.setting("reply", blueskyReplyRefs(parent: parent))
            }
            index = addPost(post)
        case .facebook:
            index = facebookCreatePost(account: account, text: text, media: [], via: "injected", rewrite: false, now: at)
        }
        return .json(201, postJSON(posts[index]))
    }

    /// `POST /_sim/mentions` `{"account", "from", "text", "in_reply_to"?}`
    mutating func adminMention(_ request: SimRequest) -> SimResponse {
        let body: JSON
        let account: Account
        switch Store.adminBody(request).flatMap({ b in adminAccount(b).map { (b, $0) } }) {
        case .failure(let response): return response
        case .success(let pair): (body, account) = pair
        }
        guard let from = body["from"]?.stringValue, !from.isEmpty else { return Store.adminError(400, "from is required") }
        guard var text = body["text"]?.stringValue else { return Store.adminError(400, "text is required") }
        var inReplyTo: String?
        if let target = body["in_reply_to"]?.stringValue {
            var index = findPost(target, platform: account.platform)
            if index == nil, account.platform == .bluesky { index = rkeys[account.name]?[target] }
            guard let found = index else { return Store.adminError(404, "no \(account.platform.rawValue) post \(target)") }
            inReplyTo = posts[found].id
        }
        let now = now()
        let author = foreignUser(platform: account.platform, handle: from)
        let mentionText = "@\(account.handle)"
        if !text.lowercased().contains(mentionText.lowercased()) { text = mentionText + " " + text }
        let mention: Mention
        switch account.platform {
        case .x:
            let number = takeXTweetID()
            mention = Mention(
                seq: takeSeq(), account: account.name, platform: .x, id: String(number), number: number, statusID: nil,
                statusNumber: 0, author: author, text: text, inReplyTo: inReplyTo, createdAtMs: now, cid: nil, rkey: nil)
        case .mastodon:
            nextMastodonNotification += 1
            let status = takeMastodonStatusID()
            mention = Mention(
                seq: takeSeq(), account: account.name, platform: .mastodon, id: String(nextMastodonNotification),
                number: nextMastodonNotification, statusID: String(status), statusNumber: status, author: author,
                text: text, inReplyTo: inReplyTo, createdAtMs: now, cid: nil, rkey: nil)
        case .bluesky:
            let rkey = takeTID(atMs: now)
            mention = Mention(
                seq: takeSeq(), account: account.name, platform: .bluesky,
                id: "at://\(author.id)/\(Store.postCollection)/\(rkey)", number: 0, statusID: nil, statusNumber: 0,
                author: author, text: text, inReplyTo: inReplyTo, createdAtMs: now, cid: Identifiers.cid(using: &rng),
                rkey: rkey)
        case .facebook:
            return Store.adminError(400, "facebook mentions (Page comments) are not simulated yet")
        }
        mentions.append(mention)
        mentionIndex[mention.id] = mentions.count - 1
        return .json(201, mentionJSON(mention))
    }

    func mentionJSON(_ mention: Mention) -> JSON {
        [
            "id": .string(mention.id),
            "account": .string(mention.account),
            "platform": .string(mention.platform.rawValue),
            "from": .string(mention.author.handle),
            "from_id": .string(mention.author.id),
            "text": .string(mention.text),
            "in_reply_to": .optional(mention.inReplyTo),
            "created_at_ms": .int(mention.createdAtMs),
            "status_id": .optional(mention.statusID),
            "uri": mention.platform == .bluesky ? .string(mention.id) : .null,
            "cid": .optional(mention.cid),
        ]
    }

    /// `POST /_sim/metrics` `{"account", "id", "likes"?, "reposts"?, "replies"?, "quotes"?, "impressions"?}`
    mutating func adminMetrics(_ request: SimRequest) -> SimResponse {
        let body: JSON
        let account: Account
        switch Store.adminBody(request).flatMap({ b in adminAccount(b).map { (b, $0) } }) {
        case .failure(let response): return response
        case .success(let pair): (body, account) = pair
        }
        guard let id = body["id"]?.stringValue else { return Store.adminError(400, "id is required") }
        var found = findPost(id, platform: account.platform)
        if found == nil, account.platform == .bluesky { found = rkeys[account.name]?[id] }
        guard let index = found, posts[index].account == account.name else {
            return Store.adminError(404, "\(account.name) has no post \(id)")
        }
        for name in ["likes", "reposts", "replies", "quotes", "impressions"] {
            guard let value = body[name], value != .null else { continue }
            guard let delta = value.intValue else { return Store.adminError(400, "\(name) must be an integer") }
            switch name {
            case "likes": posts[index].metrics.likes += delta
            case "reposts": posts[index].metrics.reposts += delta
            case "replies": posts[index].metrics.replies += delta
            case "quotes": posts[index].metrics.quotes += delta
            default: posts[index].metrics.impressions += delta
            }
        }
        let m = posts[index].metrics
        return .json(
            200,
            [
                "id": .string(posts[index].id), "likes": .int(m.likes), "reposts": .int(m.reposts),
                "replies": .int(m.replies), "quotes": .int(m.quotes), "impressions": .int(m.impressions),
            ])
    }

    /// `POST /_sim/tokens/expire` `{"account"}`
    mutating func adminExpire(_ request: SimRequest) -> SimResponse {
        switch Store.adminBody(request).flatMap({ adminAccount($0) }) {
        case .failure(let response): return response
        case .success(let account):
            let count = expireAccessTokens(of: account.name, now: now())
            return .json(
                200,
                ["account": .string(account.name), "platform": .string(account.platform.rawValue), "expired": .int(count)])
        }
    }

    /// `POST /_sim/tokens/lifetime` `{"access_s"}`: X and Bluesky access tokens issued from now
    /// on live this long (X's `expires_in` says so; Bluesky's JWT `exp`); tokens already
    /// issued keep their expiry.
    mutating func adminTokenLifetime(_ request: SimRequest) -> SimResponse {
        let body: JSON
        switch Store.adminBody(request) {
        case .failure(let response): return response
        case .success(let b): body = b
        }
        guard let seconds = body["access_s"]?.intValue, (1...(30 * 86_400)).contains(seconds) else {
            return Store.adminError(400, "access_s must be a whole number of seconds from 1 to 2592000")
        }
        accessLifetimeMs = seconds * 1000
        return .json(200, ["access_s": .int(seconds)])
    }

    /// `POST /_sim/tokens/revoke` `{"account"}`
    mutating func adminRevoke(_ request: SimRequest) -> SimResponse {
        switch Store.adminBody(request).flatMap({ adminAccount($0) }) {
        case .failure(let response): return response
        case .success(let account):
            revoke(account: account.name)
            return .json(200, ["account": .string(account.name), "revoked": true])
        }
    }

    /// `POST /_sim/clock` `{"advance_ms"}`; `GET /_sim/clock`
    mutating func adminClock(_ request: SimRequest) -> SimResponse {
        if request.method == "POST" {
            let body: JSON
            switch Store.adminBody(request) {
            case .failure(let response): return response
            case .success(let b): body = b
            }
            guard let advance = body["advance_ms"]?.intValue, advance >= 0 else {
                return Store.adminError(400, "advance_ms must be a non-negative integer")
            }
            clockOffsetMs += advance
        }
        return .json(200, ["now_ms": .int(now()), "offset_ms": .int(clockOffsetMs)])
    }

    /// `POST /_sim/faults`
    mutating func adminAddFault(_ request: SimRequest) -> SimResponse {
        let body: JSON
        switch Store.adminBody(request) {
        case .failure(let response): return response
        case .success(let b): body = b
        }
        switch FaultRule.parse(body, id: nextFaultID) {
        case .failure(let error): return Store.adminError(400, error.message)
        case .success(let rule):
            nextFaultID += 1
            faults.append(rule)
            return .json(201, ["id": .int(rule.id)])
        }
    }

    /// `GET /_sim/media[?account=NAME]`: every upload, oldest first (posted or not).
    func adminMedia(_ request: SimRequest) -> SimResponse {
        let name = request.queryValue("account")
        let selected = media.values.filter { name == nil || $0.account == name }.sorted { $0.id < $1.id }
        return .json(200, ["media": .array(selected.map(\.adminJSON))])
    }

    func adminFaults() -> SimResponse {
        .json(200, ["faults": .array(faults.map(\.json))])
    }

    mutating func adminDeleteFaults(_ id: String?) -> SimResponse {
        guard let id else {
            let count = faults.count
            faults.removeAll()
            return .json(200, ["removed": .int(count)])
        }
        guard let number = Int(id), let index = faults.firstIndex(where: { $0.id == number }) else {
            return Store.adminError(404, "no fault rule \(id)")
        }
        faults.remove(at: index)
        return .json(200, ["removed": 1])
    }

    /// `GET /_sim/requests[?limit=N]`, newest last.
    func adminRequests(_ request: SimRequest) -> SimResponse {
        let limit = request.queryValue("limit").flatMap(Int.init).map { max(0, min($0, Store.requestLogCapacity)) } ?? 100
        let selected = requests.suffix(limit).map { record -> JSON in
            [
                "seq": .int(record.seq),
                "at_ms": .int(record.atMs),
                "method": .string(record.method),
                "path": .string(record.path),
                "account": .optional(record.account),
                "status": .int(record.status),
                "fault": .optional(record.fault),
                "idempotency_key": .optional(record.idempotencyKey),
                "rkey": .optional(record.rkey),
                "duration_ms": .int(record.durationMs),
                "responded": .bool(record.responded),
            ]
        }
        return .json(200, ["requests": .array(selected)])
    }
}
