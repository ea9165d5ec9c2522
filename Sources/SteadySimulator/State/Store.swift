import Foundation
import SteadyCore

/// The whole simulated world: accounts, tokens, posts (the ground truth), mentions,
/// idempotency keys, rate windows, fault rules and the request log. A value type guarded by one
/// lock in `Simulator`; every method runs with that lock held and never waits.
struct Store {
    var rng: SplitMix64
    /// The 10-bit clock id of the TIDs the simulator makes.
    let tidClockID: UInt64
    var clockOffsetMs: Int64 = 0

    var accounts: [String: Account] = [:]
    var accountOrder: [String] = []
    var tokens: [String: Token] = [:]
    var posts: [Post] = []
    var postIndex: [String: Int] = [:]
    var mentions: [Mention] = []
    var mentionIndex: [String: Int] = [:]
    var foreignUsers: [String: ForeignUser] = [:]
    /// account → key → (post index, stored at).
    var idempotency: [String: [String: (Int, Int64)]] = [:]
    /// account → rkey → post index.
    var rkeys: [String: [String: Int]] = [:]
    var rateWindows: [String: RateWindow] = [:]
    var faults: [FaultRule] = []
    var nextFaultID = 1
    var requests: [RequestRecord] = []
    var nextRequestSeq = 1
    var webSessions: [String: String] = [:]
    /// Uploaded media by id (X and Mastodon share one counter).
    var media: [String: MediaObject] = [:]
    var nextMedia: UInt64 = 1_880_000_000_000_000_000

    var nextXTweet: UInt64 = 1_850_000_000_000_000_000
    var nextXUser: UInt64 = 1_700_000_000_000_000_000
    var nextMastodonStatus: UInt64 = 113_000_000_000_000_000
    var nextMastodonAccount: UInt64 = 109_000_000_000_000_000
    var nextMastodonNotification: UInt64 = 1_000
    var nextFacebookPage: UInt64 = 100_000_000_000_000
    var nextFacebookPost: UInt64 = 120_000_000_000_000
    var lastTIDMicros: Int64 = 0
    var nextSeq = 1

    static let requestLogCapacity = 2_000
    static let twoHoursMs: Int64 = 2 * 3_600_000
    static let ninetyDaysMs: Int64 = 90 * 86_400_000

    /// Multiplies every rate-limit window's limit (`--rate-limit-scale`; 1 is faithful).
    var rateLimitScale = 1
    /// How long X and Bluesky access tokens issued from now on live (`POST
    /// /_sim/tokens/lifetime`; 2 hours is faithful, tests shorten it to see tokens expire).
    var accessLifetimeMs: Int64 = Store.twoHoursMs

    init(seed: UInt64) {
        rng = SplitMix64(seed: seed)
        tidClockID = rng.next() & 0x3FF
    }

    // MARK: Clock and ids

    func now() -> Int64 { SteadyClock.wallMillis() + clockOffsetMs }

    mutating func takeMediaID() -> UInt64 {
        defer { nextMedia += 1 }
        return nextMedia
    }

    mutating func takeSeq() -> Int {
        defer { nextSeq += 1 }
        return nextSeq
    }

    mutating func takeXTweetID() -> UInt64 {
        nextXTweet += 1 << 22
        return nextXTweet
    }

    mutating func takeMastodonStatusID() -> UInt64 {
        nextMastodonStatus += 1 << 16
        return nextMastodonStatus
    }

    /// A fresh TID, strictly after every TID made before, no earlier than `atMs`.
    mutating func takeTID(atMs: Int64) -> String {
        var micros = atMs * 1000
        if micros <= lastTIDMicros { micros = lastTIDMicros + 1 }
        lastTIDMicros = micros
        return Identifiers.tid(micros: micros, clockID: tidClockID)
    }

    /// A TID for an injected post at `atMs` that no account has used yet.
    mutating func takeInjectedTID(atMs: Int64, account: String) -> String {
        var micros = atMs * 1000
        while true {
            let tid = Identifiers.tid(micros: micros, clockID: tidClockID)
            if rkeys[account]?[tid] == nil { return tid }
            micros += 1
        }
    }

    // MARK: Accounts and tokens

    static func isValidAccountName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64
            && name.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }
    }

    mutating func createAccount(platform: Platform, name: String) -> Result<Account, RuleError> {
        guard Store.isValidAccountName(name) else {
            return .failure(RuleError("name must match [a-z0-9-]+ (at most 64 characters)"))
        }
        guard accounts[name] == nil else { return .failure(RuleError("account \(name) already exists")) }
        let now = now()
        let webPassword = Identifiers.alphanumeric(20, using: &rng)
        var account: Account
        switch platform {
        case .x:
            nextXUser += 1 << 20
            let username = name.replacingOccurrences(of: "-", with: "_")
            account = Account(
                name: name, platform: .x, userID: String(nextXUser), handle: username,
                displayName: name, createdAtMs: now, webPassword: webPassword)
            account.clientID = Identifiers.base64URL(34, using: &rng)
            let access = issueToken(account: name, kind: .xAccess, now: now)
            let refresh = issueToken(account: name, kind: .xRefresh, now: now)
            account.initialAccessToken = access
            account.initialRefreshToken = refresh
        case .mastodon:
            nextMastodonAccount += 1 << 16
            account = Account(
                name: name, platform: .mastodon, userID: String(nextMastodonAccount), handle: name,
                displayName: name, createdAtMs: now, webPassword: webPassword)
            account.initialAccessToken = issueToken(account: name, kind: .mastodon, now: now)
        case .bluesky:
            let did = "did:plc:" + Identifiers.base32Lower(24, using: &rng)
            account = Account(
                name: name, platform: .bluesky, userID: did, handle: name + ".bsky.social",
                displayName: name, createdAtMs: now, webPassword: webPassword)
            let groups = (0..<4).map { _ in Identifiers.random(4, from: Array("abcdefghijklmnopqrstuvwxyz234567"), using: &rng) }
            account.appPassword = groups.joined(separator: "-")
        case .facebook:
            nextFacebookPage += 1 + (rng.next() & 0xFFFF)
            account = Account(
                name: name, platform: .facebook, userID: String(nextFacebookPage), handle: name,
                displayName: name, createdAtMs: now, webPassword: webPassword)
            account.initialAccessToken = issueToken(account: name, kind: .facebookPage, now: now)
        }
        accounts[name] = account
        accountOrder.append(name)
        return .success(account)
    }

    /// Issues a token of `kind` for `account` and returns it.
    mutating func issueToken(account: String, kind: TokenKind, now: Int64) -> String {
        let value: String
        var expires: Int64?
        switch kind {
        case .xAccess:
            value = Identifiers.base64URL(86, using: &rng)
            expires = now + accessLifetimeMs
        case .xRefresh:
            value = Identifiers.base64URL(86, using: &rng)
        case .mastodon:
            value = Identifiers.base64URL(43, using: &rng)
        case .facebookPage:
            // A Page token: `EAA` and a long random tail; it does not expire on its own.
            value = "EAA" + Identifiers.alphanumeric(180, using: &rng)
        case .blueskyAccess, .blueskyRefresh:
            let did = accounts[account]?.userID ?? ""
            let isAccess = kind == .blueskyAccess
            let lifetime = isAccess ? accessLifetimeMs : Store.ninetyDaysMs
            expires = now + lifetime
            let header: JSON = ["typ": .string(isAccess ? "at+jwt" : "refresh+jwt"), "alg": "HS256"]
            let payload: JSON = [
                "scope": .string(isAccess ? "com.atproto.access" : "com.atproto.refresh"),
                "sub": .string(did),
                "aud": "did:web:pds.steadypost-sim.test",
                "jti": .string(Identifiers.base64URL(22, using: &rng)),
                "iat": .int(now / 1000),
                "exp": .int((now + lifetime) / 1000),
            ]
            value =
                Identifiers.base64URLEncode(header.serialized) + "." + Identifiers.base64URLEncode(payload.serialized)
                + "." + Identifiers.base64URL(43, using: &rng)
        }
        tokens[value] = Token(account: account, kind: kind, issuedMs: now, expiresMs: expires)
        return value
    }

    /// The credentials file of INTERFACE.md for `account`, plus `web_password`.
    func credentials(of account: Account) -> JSON {
        switch account.platform {
        case .x:
            return [
                "access_token": .optional(account.initialAccessToken),
                "refresh_token": .optional(account.initialRefreshToken),
                "client_id": .optional(account.clientID),
                "web_password": .string(account.webPassword),
            ]
        case .mastodon:
            return [
                "access_token": .optional(account.initialAccessToken),
                "web_password": .string(account.webPassword),
            ]
        case .facebook:
            return [
                "page_id": .string(account.userID),
                "access_token": .optional(account.initialAccessToken),
                "web_password": .string(account.webPassword),
            ]
        case .bluesky:
            return [
                "identifier": .string(account.handle),
                "password": .optional(account.appPassword),
                "web_password": .string(account.webPassword),
            ]
        }
    }

    func accountJSON(_ account: Account) -> JSON {
        [
            "name": .string(account.name),
            "platform": .string(account.platform.rawValue),
            "user_id": .string(account.userID),
            "handle": .string(account.handle),
            "revoked": .bool(account.revoked),
            "created_at_ms": .int(account.createdAtMs),
        ]
    }

    /// Every access token of `account` expires now (Mastodon tokens never expire; a Facebook
    /// Page token does when its admin's session ends: code 190 subcode 463).
    mutating func expireAccessTokens(of account: String, now: Int64) -> Int {
        var count = 0
        for (value, token) in tokens where token.account == account {
            if token.kind == .xAccess || token.kind == .blueskyAccess || token.kind == .facebookPage {
                tokens[value]?.expiresMs = min(token.expiresMs ?? now, now)
                count += 1
            }
        }
        return count
    }

    /// Every token of `account` revoked, and no new one to be had.
    mutating func revoke(account: String) {
        accounts[account]?.revoked = true
        for (value, token) in tokens where token.account == account {
            tokens[value]?.revoked = true
        }
        for (cookie, name) in webSessions where name == account {
            webSessions[cookie] = nil
        }
    }

    enum AuthFailure: Error {
        case missing, unknown, wrongKind, expired, revoked
    }

    /// The token `value` of one of `kinds`, still valid at `now`.
    func validToken(_ value: String?, kinds: Set<TokenKind>, now: Int64) -> Result<Token, AuthFailure> {
        guard let value else { return .failure(.missing) }
        guard let token = tokens[value] else { return .failure(.unknown) }
        guard kinds.contains(token.kind) else { return .failure(.wrongKind) }
        if token.revoked || accounts[token.account]?.revoked == true { return .failure(.revoked) }
        if let expires = token.expiresMs, now >= expires { return .failure(.expired) }
        return .success(token)
    }

    // MARK: Posts

    mutating func addPost(_ post: Post) -> Int {
        var post = post
        if let parent = post.inReplyTo {
            post.replyRoot = threadRoot(of: parent, platform: post.platform) ?? parent
        }
        posts.append(post)
        let index = posts.count - 1
        postIndex[post.id] = index
        if let rkey = post.rkey {
            rkeys[post.account, default: [:]][rkey] = index
        }
        return index
    }

    /// A post of `platform` by its platform id (Bluesky: URI or rkey of `account`).
    func findPost(_ id: String, platform: Platform? = nil) -> Int? {
        if let index = postIndex[id], platform == nil || posts[index].platform == platform {
            return index
        }
        return nil
    }

    /// A mention by the id a reply names: the status id on Mastodon, the tweet id or URI elsewhere.
    func findMention(_ id: String, platform: Platform) -> Mention? {
        if platform == .mastodon { return mastodonMentionByStatus(id) }
        guard let index = mentionIndex[id], mentions[index].platform == platform else { return nil }
        return mentions[index]
    }

    /// The first post of the thread a reply to `parent` joins: the parent's own root when the
    /// parent is itself a reply, else the parent. Known through the stored posts (deleted ones
    /// too: a root stays a root) and the mentions; nil when the simulator knows no such post.
    func threadRoot(of parent: String, platform: Platform) -> String? {
        if let index = findPost(parent, platform: platform) { return posts[index].replyRoot ?? posts[index].id }
        guard let mention = findMention(parent, platform: platform) else { return nil }
        return mention.inReplyTo.flatMap { threadRoot(of: $0, platform: platform) } ?? parent
    }

    func postJSON(_ post: Post) -> JSON {
        [
            "id": .string(post.id),
            "account": .string(post.account),
            "platform": .string(post.platform.rawValue),
            "text": .string(post.text),
            "created_at_ms": .int(post.createdAtMs),
            "in_reply_to": .optional(post.inReplyTo),
            "reply_root": .optional(post.replyRoot),
            "idempotency_key": .optional(post.idempotencyKey),
            "rkey": .optional(post.rkey),
            "uri": .optional(post.uri),
            "via": .string(post.via),
            "deleted": .bool(post.deleted),
            "media": .array(post.media.map(\.json)),
            "metrics": [
                "likes": .int(post.metrics.likes),
                "reposts": .int(post.metrics.reposts),
                "replies": .int(post.metrics.replies),
                "quotes": .int(post.metrics.quotes),
                "impressions": .int(post.metrics.impressions),
            ],
        ]
    }

    /// Links replaced by `https://t.co/` plus ten random characters.
    mutating func rewriteLinks(_ text: String) -> String {
        TextRules.rewritingURLs(text) { "https://t.co/" + Identifiers.alphanumeric(10, using: &rng) }
    }

    // MARK: Foreign users

    mutating func foreignUser(platform: Platform, handle rawHandle: String) -> ForeignUser {
        var handle = rawHandle.hasPrefix("@") ? String(rawHandle.dropFirst()) : rawHandle
        if platform == .bluesky, !handle.contains(".") { handle += ".bsky.social" }
        if platform == .x { handle = handle.replacingOccurrences(of: "-", with: "_") }
        let key = platform.rawValue + "|" + handle.lowercased()
        if let user = foreignUsers[key] { return user }
        let id: String
        switch platform {
        case .x:
            nextXUser += 1 << 20
            id = String(nextXUser)
        case .mastodon:
            nextMastodonAccount += 1 << 16
            id = String(nextMastodonAccount)
        case .bluesky:
            id = "did:plc:" + Identifiers.base32Lower(24, using: &rng)
        case .facebook:
            nextFacebookPage += 1 + (rng.next() & 0xFFFF)
            id = String(nextFacebookPage)
        }
        let display = handle.split(separator: "@").first.map(String.init) ?? handle
        let user = ForeignUser(platform: platform, id: id, handle: handle, displayName: display)
        foreignUsers[key] = user
        return user
    }

    // MARK: Fault rules

    /// Picks the fault for a request: the first active rule that matches and fires. A rule with
    /// a probability below 1 draws once from the seeded generator per matching request.
    mutating func chooseFault(
        category: EndpointCategory, platform: Platform?, account: String?, method: String,
        startsProcessing: Bool = false
    ) -> FiredFault? {
        for index in faults.indices where faults[index].active {
            let rule = faults[index]
            if let endpoint = rule.endpoint, endpoint != category { continue }
            if let p = rule.platform, p != platform { continue }
            if let a = rule.account, a != account { continue }
            guard rule.kind.applies(to: category, platform: platform, method: method, startsProcessing: startsProcessing)
            else { continue }
            faults[index].matched += 1
            if rule.probability < 1 {
                let draw = Double(rng.next() >> 11) / Double(UInt64(1) << 53)
                if draw >= rule.probability { continue }
            }
            faults[index].fired += 1
            if let remaining = faults[index].remaining { faults[index].remaining = remaining - 1 }
            return FiredFault(
                ruleID: rule.id, kind: rule.kind, delayMs: rule.delayMs, status: rule.status,
                retryAfterS: rule.retryAfterS, polls: rule.polls)
        }
        return nil
    }

    // MARK: Request log

    mutating func log(_ record: RequestRecord) {
        requests.append(record)
        if requests.count > Store.requestLogCapacity {
            requests.removeFirst(requests.count - Store.requestLogCapacity)
        }
    }

    mutating func takeRequestSeq() -> Int {
        defer { nextRequestSeq += 1 }
        return nextRequestSeq
    }
}
