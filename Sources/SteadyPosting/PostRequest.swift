import SteadyConfig
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyStore

/// The body of `posting.create`: one post `{"account","text","at"?,"reply_to"?,"media"?}`, one
/// thread `{"account","thread": [{"text","media"?}, ...],"at"?,"gap"?}`, or a batch
/// `{"account"?, "posts": [{"text","at"?,"reply_to"?,"media"?,"account"?,"line"?} or a thread, ...]}`,
/// all or nothing; `media` names stored attachments `[{"sha256","alt"?,"name"?}]`. `at` is ISO 8601 (a time without a zone is UTC) or integer ms since the epoch;
/// absent means now. Every post is validated by its platform's own rules before anything is
/// stored; an error names the item (`line N` when the item carries `line`, as the CLI's
/// `--file` does, else `posts[i]`, counted from the batch's `first` when it is a chunk).
public enum PostRequest {
    public struct Invalid: Error, Equatable, Sendable, CustomStringConvertible {
        public var message: String
        public var description: String { message }
    }

    /// What the parser needs to know about an account.
    public struct AccountRules {
        public var platform: Platform
        public var validate: (PostDraft) throws(PlatformError) -> Void
        /// What the platform takes as attachments (its definition's, unless given).
        public var mediaRules: MediaRules
        /// Whether the platform chains posts, so threads can be scheduled for it.
        public var threadChains: Bool

        public init(platform: Platform, mediaRules: MediaRules? = nil, threadChains: Bool? = nil,
                    validate: @escaping (PostDraft) throws(PlatformError) -> Void) {
            self.platform = platform
            self.validate = validate
            self.mediaRules = mediaRules ?? PlatformRegistry.rules(for: platform).mediaRules
            self.threadChains = threadChains ?? PlatformRegistry.rules(for: platform).threadChains
        }
    }

    /// Looks a hash up in the posting worker's media store: the stored item's type (by its
    /// content) and size, alt text unset; nil when no such media is stored.
    public typealias MediaLookup = (String) -> MediaAttachment?
    /// Attachments one post may name before the platform's own count rule speaks.
    public static let maxMediaItems = 16
    /// Longest alt text accepted at the entry (the platforms' own limits are lower).
    public static let maxAltBytes = 8_000
    static let mediaMembers: Set<String> = ["sha256", "alt", "name"]

    public static let maxBatch = 10_000
    /// A platform post id (X's 19 digits, a Bluesky at:// URI) is far shorter.
    public static let maxReplyToBytes = 512
    /// The members each object may have. Strict: an unknown member (a typo such as `"txt"`)
    /// or one given twice is refused, never ignored or first-wins.
    static let singleMembers: Set<String> = ["account", "text", "at", "reply_to", "media"]
    static let batchMembers: Set<String> = ["account", "posts", "stage", "final", "first"]
    static let itemMembers: Set<String> = ["account", "text", "at", "reply_to", "line", "media"]
    static let threadMembers: Set<String> = ["account", "thread", "at", "gap", "line"]
    static let partMembers: Set<String> = ["text", "media"]
    /// Parts one thread may have (X's composer stops at 25; a chain longer than this is a
    /// mistake more often than a plan).
    public static let maxThreadParts = 100

    /// A chunk of a staged batch: the stage's id, and whether it is the last chunk.
    public struct Staging: Equatable, Sendable {
        public var id: String
        public var final: Bool
    }

    /// The posts to insert, and whether the request was a batch.
    public static func parse(_ body: [UInt8], now: Int64, accounts: [String: AccountRules],
                             media: MediaLookup = { _ in nil }) throws(Invalid) -> (posts: [NewPost], batch: Bool) {
        let parsed = try parseStaged(body, now: now, accounts: accounts, media: media)
        return (parsed.posts, parsed.batch)
    }

    /// As `parse`, with the batch's `stage` and `final` members when it is one chunk of many.
    public static func parseStaged(_ body: [UInt8], now: Int64, accounts: [String: AccountRules],
                                   media: MediaLookup = { _ in nil }) throws(Invalid)
        -> (posts: [NewPost], batch: Bool, staging: Staging?) {
        let json: JSON
        do { json = try JSON.parseStrict(body) } catch { throw Invalid(message: "the request is not JSON: \(error.description)") }
        guard json.isObject else { throw Invalid(message: "the request must be a JSON object") }
        let defaultAccount = json["account"]?.string
        if let items = json["posts"] {
            try onlyKnown(json, batchMembers, label: nil)
            guard let array = items.array else { throw Invalid(message: "posts: expected an array") }
            guard !array.isEmpty else { throw Invalid(message: "posts: the batch is empty") }
            guard array.count <= maxBatch else { throw Invalid(message: "posts: at most \(maxBatch) posts a batch, got \(array.count)") }
            var staging: Staging?
            switch (json["stage"], json["final"]) {
            case (nil, nil):
                staging = nil
            case (.string(let id)?, .bool(let final)?):
                guard BatchStaging.isValidId(id) else { throw Invalid(message: "stage: 8 to 64 letters, digits or '-'") }
                staging = Staging(id: id, final: final)
            default:
                throw Invalid(message: "stage and final go together: {\"stage\": ID, \"final\": true|false}")
            }
            // A chunk of a larger batch says where it starts, so errors name the whole batch's index.
            var first = 0
            if let f = json["first"] {
                guard let n = f.int, n >= 0, n <= BatchStaging.maxPosts else {
                    throw Invalid(message: "first: the index of the chunk's first post in its batch, 0 to \(BatchStaging.maxPosts)")
                }
                first = n
            }
            var out: [NewPost] = []
            for (i, item) in array.enumerated() {
                let label = item["line"]?.int.map { "line \($0)" } ?? "posts[\(first + i)]"
                if item["thread"] != nil {
                    out += try thread(item, label: label, defaultAccount: defaultAccount, now: now, accounts: accounts, media: media)
                } else {
                    out.append(try one(item, label: label, defaultAccount: defaultAccount, now: now, accounts: accounts, media: media))
                }
            }
            return (out, true, staging)
        }
        if json["thread"] != nil {
            return (try thread(json, label: nil, defaultAccount: nil, now: now, accounts: accounts, media: media), false, nil)
        }
        return ([try one(json, label: nil, defaultAccount: nil, now: now, accounts: accounts, media: media)], false, nil)
    }

    /// A thread `{"account","thread": [{"text","media"?}, ...],"at"?,"gap"?}`: every part checked
    /// by the platform's rules (errors name `part N`) before anything is stored; part 1 due at
    /// `at`, each later one `gap` (a duration such as "30s", or integer ms; default 0) after
    /// the part before it is posted.
    static func thread(_ item: JSON, label: String?, defaultAccount: String?, now: Int64, accounts: [String: AccountRules],
                       media: MediaLookup) throws(Invalid) -> [NewPost] {
        func invalid(_ message: String) -> Invalid { Invalid(message: label.map { "\($0): \(message)" } ?? message) }
        try onlyKnown(item, label == nil ? threadMembers.subtracting(["line"]) : threadMembers, label: label)
        let (account, rules) = try accountRules(item, defaultAccount: defaultAccount, accounts: accounts, invalid: invalid)
        guard rules.threadChains else {
            throw invalid("thread: \(rules.platform.rawValue) does not chain posts, so account '\(account)' cannot post a thread (part 2 could not answer part 1)")
        }
        guard let parts = item["thread"]?.array else { throw invalid("thread: expected an array of parts [{\"text\", \"media\"?}, ...]") }
        guard !parts.isEmpty else { throw invalid("thread: no parts") }
        guard parts.count <= maxThreadParts else { throw invalid("thread: at most \(maxThreadParts) parts, got \(parts.count)") }
        let dueAt = try self.dueAt(item["at"], now: now, invalid: invalid)
        var gap: Int64 = 0
        switch item["gap"] {
        case nil, .null?: break
        case .string(let text)?:
            guard let ms = DurationText.parseMillis(text), ms >= 0, ms <= maxThreadGapMillis else {
                throw invalid("gap: '\(shown(text))' is not a duration up to 7 days (e.g. 30s, 5m, 2h)")
            }
            gap = ms
        case .number(_, let raw)?:
            guard let ms = Int64(raw), ms >= 0, ms <= maxThreadGapMillis else { throw invalid("gap: expected milliseconds, 0 to 7 days") }
            gap = ms
        default:
            throw invalid("gap: expected a duration such as \"30s\" or integer milliseconds")
        }
        let threadId = ThreadPlacement.newId()
        var out: [NewPost] = []
        for (index, part) in parts.enumerated() {
            let place = "part \(index + 1)"
            func partInvalid(_ message: String) -> Invalid { invalid("\(place): \(message)") }
            guard part.isObject else { throw partInvalid("expected a JSON object {\"text\", \"media\"?}") }
            do { try onlyKnown(part, partMembers, label: nil) } catch { throw partInvalid(error.message) }
            guard let textValue = part["text"] else { throw partInvalid("text: missing") }
            guard let text = textValue.string else { throw partInvalid("text: expected a string") }
            if let why = controlCharacter(in: text) { throw partInvalid("text: \(why)") }
            let attachments = try self.media(part["media"], rules: rules.mediaRules, lookup: media, invalid: partInvalid)
            guard !text.allSatisfy(\.isWhitespace) || !attachments.isEmpty else { throw partInvalid("empty: a part needs text or media") }
            do {
                try rules.validate(PostDraft(text: text, media: attachments))
            } catch {
                throw partInvalid("\(rules.platform.rawValue) would refuse it: \(error.message)")
            }
            out.append(NewPost(account: account, platform: rules.platform.rawValue, text: text, dueAt: dueAt, contentHash: ContentNormalizer.hash(text),
                               media: attachments, thread: ThreadPlacement(id: threadId, position: index + 1, gapMillis: gap)))
        }
        return out
    }

    /// The item's account (its own, else the batch's) and that account's rules.
    static func accountRules(_ item: JSON, defaultAccount: String?, accounts: [String: AccountRules],
                             invalid: (String) -> Invalid) throws(Invalid) -> (String, AccountRules) {
        guard let account = item["account"]?.string ?? defaultAccount, !account.isEmpty else { throw invalid("account: missing") }
        guard let rules = accounts[account] else {
            throw invalid("unknown account '\(account)'; configured: \(accounts.keys.sorted().joined(separator: ", "))")
        }
        return (account, rules)
    }

    /// The longest wait a thread may put between two parts.
    public static let maxThreadGapMillis: Int64 = 7 * 86_400_000

    /// `at`: absent (now), ISO 8601, or integer milliseconds, within the scheduling window.
    static func dueAt(_ value: JSON?, now: Int64, invalid: (String) -> Invalid) throws(Invalid) -> Int64 {
        let dueAt: Int64
        switch value {
        case nil, .null?:
            dueAt = now
        case .string(let s)?:
            guard let ms = HTTPTime.parseISO8601(s) else {
                throw invalid("at: '\(shown(s))' is not an ISO 8601 date-time on the calendar (e.g. 2026-05-01T09:30:00Z)")
            }
            dueAt = ms
        case .number(_, let raw)?:
            guard let ms = Int64(raw) else { throw invalid("at: expected integer milliseconds since the epoch, got \(shown(raw))") }
            dueAt = ms
        default:
            throw invalid("at: expected an ISO 8601 string or integer milliseconds")
        }
        guard SchedulingWindow.contains(dueAt) else {
            throw invalid("at: \(dueAt) ms is outside the times a post may be scheduled for (\(SchedulingWindow.text))")
        }
        return dueAt
    }

    static func one(_ item: JSON, label: String?, defaultAccount: String?, now: Int64, accounts: [String: AccountRules],
                    media: MediaLookup) throws(Invalid) -> NewPost {
        func invalid(_ message: String) -> Invalid { Invalid(message: label.map { "\($0): \(message)" } ?? message) }
        guard item.isObject else { throw invalid("expected a JSON object") }
        try onlyKnown(item, label == nil ? singleMembers : itemMembers, label: label)
        let (account, rules) = try accountRules(item, defaultAccount: defaultAccount, accounts: accounts, invalid: invalid)
        guard let textValue = item["text"] else { throw invalid("text: missing") }
        guard let text = textValue.string else { throw invalid("text: expected a string") }
        if let why = controlCharacter(in: text) { throw invalid("text: \(why)") }
        let dueAt = try self.dueAt(item["at"], now: now, invalid: invalid)
        var replyTo: String?
        switch item["reply_to"] {
        case nil, .null?: replyTo = nil
        case .string(let s)? where !s.isEmpty: replyTo = s
        case .number(_, let raw)?: replyTo = raw
        default: throw invalid("reply_to: expected a platform id string")
        }
        if let replyTo {
            guard replyTo.utf8.count <= maxReplyToBytes else {
                throw invalid("reply_to: \(replyTo.utf8.count) bytes; a platform post id is at most \(maxReplyToBytes)")
            }
            guard replyTo.unicodeScalars.allSatisfy({ $0.value > 0x20 && $0.value < 0x7F }) else {
                throw invalid("reply_to: a platform post id is printable ASCII without spaces, got '\(shown(replyTo))'")
            }
        }
        do {
            try rules.validate(PostDraft(text: text, replyTo: replyTo))
        } catch {
            throw invalid("\(rules.platform.rawValue) would refuse it: \(error.message)")
        }
        let attachments = try self.media(item["media"], rules: rules.mediaRules, lookup: media, invalid: invalid)
        return NewPost(account: account, platform: rules.platform.rawValue, text: text, dueAt: dueAt, inReplyTo: replyTo,
                       contentHash: ContentNormalizer.hash(text), media: attachments)
    }

    /// `"media": [{"sha256", "alt"?, "name"?}, ...]`: each hash resolved in the media store
    /// (present; type by its content; size), then the platform's rules over all of them in
    /// order. Refusals name the file (`name`, the operator's path, else the hash) and the rule.
    static func media(_ value: JSON?, rules: MediaRules, lookup: MediaLookup, invalid: (String) -> Invalid) throws(Invalid) -> [MediaAttachment] {
        guard let value, value != .null else { return [] }
        guard let array = value.array else { throw invalid("media: expected an array of {\"sha256\", \"alt\"?, \"name\"?}") }
        guard array.count <= maxMediaItems else { throw invalid("media: at most \(maxMediaItems) attachments, got \(array.count)") }
        var out: [MediaAttachment] = []
        var candidates: [MediaCandidate] = []
        for (i, entry) in array.enumerated() {
            let place = "media[\(i)]"
            guard entry.isObject else { throw invalid("\(place): expected an object {\"sha256\", \"alt\"?, \"name\"?}") }
            do { try onlyKnown(entry, mediaMembers, label: nil) } catch { throw invalid("\(place): \(error.message)") }
            guard let sha = entry["sha256"]?.string else { throw invalid("\(place).sha256: missing (64 hex digits)") }
            var name = sha
            switch entry["name"] {
            case nil, .null?: break
            case .string(let n)? where !n.isEmpty && n.utf8.count <= 4096 && controlCharacter(in: n) == nil: name = n
            default: throw invalid("\(place).name: expected the file's name, up to 4,096 bytes, no control characters")
            }
            var alt: String?
            switch entry["alt"] {
            case nil, .null?: alt = nil
            case .string(let a)?:
                if let why = controlCharacter(in: a) { throw invalid("\(shown(name)): alt: \(why)") }
                guard a.utf8.count <= maxAltBytes else { throw invalid("\(shown(name)): alt: \(a.utf8.count) bytes; at most \(maxAltBytes)") }
                alt = a.isEmpty ? nil : a
            default: throw invalid("\(shown(name)): alt: expected a string")
            }
            guard var attachment = lookup(sha) else {
                throw invalid("\(shown(name)): no media \(shown(sha)) in the daemon's media store: put the file first (steadypost post --media, or POST /api/media)")
            }
            attachment.alt = alt
            out.append(attachment)
            candidates.append(MediaCandidate(name: name, type: attachment.type, bytes: attachment.bytes, alt: alt))
        }
        if let refusal = rules.check(candidates) {
            throw invalid("\(shown(refusal.file)): \(refusal.rule)")
        }
        return out
    }
}

extension PostRequest {
    /// Refuses members outside `known`, naming them.
    static func onlyKnown(_ object: JSON, _ known: Set<String>, label: String?) throws(Invalid) {
        guard case .object(let members) = object else { return }
        let unknown = members.map(\.0).filter { !known.contains($0) }
        guard unknown.isEmpty else {
            let names = unknown.map { "\"\(shown($0))\"" }.joined(separator: ", ")
            let message = "unknown member \(names); known: \(known.sorted().joined(separator: ", "))"
            throw Invalid(message: label.map { "\($0): \(message)" } ?? message)
        }
    }

    /// Why `text` cannot be a post: a NUL or another C0 or C1 control character (tab, line
    /// feed and carriage return are text). A NUL would cut the text wherever C reads it; the
    /// others are invisible, drive terminals (ESC, CSI) and turn into different text, or
    /// none, on the platforms.
    public static func controlCharacter(in text: String) -> String? {
        for (offset, scalar) in text.unicodeScalars.enumerated() {
            let v = scalar.value
            if v == 0x09 || v == 0x0A || v == 0x0D { continue }
            if v < 0x20 || (0x7F...0x9F).contains(v) {
                return "control character U+\(hex4(v)) at character \(offset + 1); only tab and line breaks are allowed"
            }
        }
        return nil
    }

    /// `text` safe to echo in an error: controls escaped, at most 80 characters.
    static func shown(_ text: String) -> String {
        var out = ""
        for (i, scalar) in text.unicodeScalars.enumerated() {
            if i == 80 { out += "…"; break }
            let v = scalar.value
            if v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) || v == 0x2028 || v == 0x2029 {
                out += "\\u{\(hex4(v))}"
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    static func hex4(_ v: UInt32) -> String {
        let h = String(v, radix: 16, uppercase: true)
        return String(repeating: "0", count: max(0, 4 - h.count)) + h
    }
}
