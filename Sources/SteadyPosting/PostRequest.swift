import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyStore

/// The body of `posting.create`: one post `{"account","text","at"?,"reply_to"?}`, or a batch
/// `{"account"?, "posts": [{"text","at"?,"reply_to"?,"account"?,"line"?}, ...]}`, all or
/// nothing. `at` is ISO 8601 (a time without a zone is UTC) or integer ms since the epoch;
/// absent means now. Every post is validated by its platform's own rules before anything is
/// stored; an error names the item (`line N` when the item carries `line`, as the CLI's
/// `--file` does, else `posts[i]`).
public enum PostRequest {
    public struct Invalid: Error, Equatable, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// What the parser needs to know about an account.
    public struct AccountRules {
        public var platform: Platform
        public var validate: (PostDraft) throws(PlatformError) -> Void

        public init(platform: Platform, validate: @escaping (PostDraft) throws(PlatformError) -> Void) {
            self.platform = platform
            self.validate = validate
        }
    }

    public static let maxBatch = 10_000

    /// The posts to insert, and whether the request was a batch.
    public static func parse(_ body: [UInt8], now: Int64, accounts: [String: AccountRules]) throws(Invalid) -> (posts: [NewPost], batch: Bool) {
        let json: JSON
        do { json = try JSON.parse(body) } catch { throw Invalid(message: "the request is not JSON: \(error.description)") }
        guard json.isObject else { throw Invalid(message: "the request must be a JSON object") }
        let defaultAccount = json["account"]?.string
        if let items = json["posts"] {
            guard let array = items.array else { throw Invalid(message: "posts: expected an array") }
            guard !array.isEmpty else { throw Invalid(message: "posts: the batch is empty") }
            guard array.count <= maxBatch else { throw Invalid(message: "posts: at most \(maxBatch) posts a batch, got \(array.count)") }
            var out: [NewPost] = []
            for (i, item) in array.enumerated() {
                let label = item["line"]?.int.map { "line \($0)" } ?? "posts[\(i)]"
                out.append(try one(item, label: label, defaultAccount: defaultAccount, now: now, accounts: accounts))
            }
            return (out, true)
        }
        return ([try one(json, label: nil, defaultAccount: nil, now: now, accounts: accounts)], false)
    }

    static func one(_ item: JSON, label: String?, defaultAccount: String?, now: Int64, accounts: [String: AccountRules]) throws(Invalid) -> NewPost {
        func invalid(_ message: String) -> Invalid { Invalid(message: label.map { "\($0): \(message)" } ?? message) }
        guard item.isObject else { throw invalid("expected a JSON object") }
        guard let account = item["account"]?.string ?? defaultAccount, !account.isEmpty else { throw invalid("account: missing") }
        guard let rules = accounts[account] else {
            throw invalid("unknown account '\(account)'; configured: \(accounts.keys.sorted().joined(separator: ", "))")
        }
        guard let textValue = item["text"] else { throw invalid("text: missing") }
        guard let text = textValue.string else { throw invalid("text: expected a string") }
        let dueAt: Int64
        switch item["at"] {
        case nil, .null?:
            dueAt = now
        case .string(let s)?:
            guard let ms = HTTPTime.parseISO8601(s) else { throw invalid("at: '\(s)' is not an ISO 8601 date-time (e.g. 2026-05-01T09:30:00Z)") }
            dueAt = ms
        case .number(_, let raw)?:
            guard let ms = Int64(raw) else { throw invalid("at: expected integer milliseconds since the epoch, got \(raw)") }
            dueAt = ms
        default:
            throw invalid("at: expected an ISO 8601 string or integer milliseconds")
        }
        var replyTo: String?
        switch item["reply_to"] {
        case nil, .null?: replyTo = nil
        case .string(let s)? where !s.isEmpty: replyTo = s
        case .number(_, let raw)?: replyTo = raw
        default: throw invalid("reply_to: expected a platform id string")
        }
        do {
            try rules.validate(PostDraft(text: text, replyTo: replyTo))
        } catch {
            throw invalid("\(rules.platform.rawValue) would refuse it: \(error.message)")
        }
        return NewPost(account: account, platform: rules.platform.rawValue, text: text, dueAt: dueAt, inReplyTo: replyTo,
                       contentHash: ContentNormalizer.hash(text))
    }
}
