import SteadyConfig
import SteadyCore
import SteadyPlatforms

/// Which mentions are answered (pure: no store, no clock of its own). The hourly quota is
/// not here: it needs the store and fails closed (`MentionsStore.reserveReply`).
public struct ReplyRules: Sendable, Equatable {
    /// Handles without `@`, lowercased.
    public var ignoreAccounts: Set<String>
    /// Lowercased; empty: every mention qualifies.
    public var keywords: [String]
    public var maxAgeMillis: Int64

    public init(ignoreAccounts: [String] = [], keywords: [String] = [], maxAgeMillis: Int64 = 86_400_000) {
        self.ignoreAccounts = Set(ignoreAccounts.map { ($0.hasPrefix("@") ? String($0.dropFirst()) : $0).lowercased() })
        self.keywords = keywords.map { $0.lowercased() }
        self.maxAgeMillis = maxAgeMillis
    }

    public init(config: RepliesConfig) {
        self.init(ignoreAccounts: config.ignoreAccounts, keywords: config.keywords, maxAgeMillis: config.maxAgeMs)
    }

    public enum Decision: Sendable, Equatable {
        case answer
        case ignore(reason: String)
    }

    /// The account being mentioned, as the platform knows it.
    public struct Me: Sendable, Equatable {
        public var platform: Platform
        public var userId: String
        public var handle: String?

        public init(platform: Platform, userId: String, handle: String?) {
            self.platform = platform
            self.userId = userId
            self.handle = handle
        }
    }

    public func decide(_ mention: Mention, me: Me, now: Int64) -> Decision {
        if mention.authorId == me.userId || (me.handle != nil && mention.authorHandle?.lowercased() == me.handle?.lowercased()) {
            return .ignore(reason: "written by this account")
        }
        if let author = mention.authorHandle?.lowercased(), ignoreAccounts.contains(author) {
            return .ignore(reason: "author @\(author) is in ignore_accounts")
        }
        if let created = mention.createdAtMs, now - created > maxAgeMillis {
            return .ignore(reason: "older than max_age when first seen")
        }
        let text = mention.text.lowercased()
        if !keywords.isEmpty, !keywords.contains(where: { text.contains($0) }) {
            return .ignore(reason: "contains none of the keywords")
        }
        // X lets self-serve apps reply only when the author mentioned (or quoted) the account.
        let rules = PlatformRegistry.rules(for: me.platform)
        if rules.repliesRequireMention {
            guard let handle = me.handle?.lowercased(), Self.names(text, handle: handle) else {
                return .ignore(reason: "\(rules.displayName) reply rule: the author did not mention @\(me.handle ?? "this account")")
            }
        }
        return .answer
    }

    /// Whether lowercased `text` contains `@handle` as a whole mention (not `@handlexyz`).
    static func names(_ text: String, handle: String) -> Bool {
        let needle = "@" + handle
        var rest = Substring(text)
        while let range = rest.firstRange(of: needle) {
            let after = rest[range.upperBound...].first
            if after == nil || !(after!.isLetter || after!.isNumber || after! == "_") { return true }
            rest = rest[range.upperBound...]
        }
        return false
    }
}
