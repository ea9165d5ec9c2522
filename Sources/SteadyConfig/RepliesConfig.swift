import SteadyCore

/// `[workers.replies]`'s own keys: which accounts answer mentions, which mentions are
/// answered, the hourly reply quota (fails closed), retries, and the reply generator.
public struct RepliesConfig: Sendable, Equatable {
    public enum Generator: String, Sendable, Equatable, CaseIterable {
        case template
        case openai
    }

    /// The accounts whose mentions are read; empty: every configured account.
    public var accounts: [String] = []
    /// How often mentions are read (also the job's lateness clock, F11).
    public var pollIntervalMs: Int64 = 120_000
    /// Handles (without `@`, case-insensitive) whose mentions are never answered.
    public var ignoreAccounts: [String] = []
    /// When not empty, only mentions containing one of these (case-insensitive) are answered.
    public var keywords: [String] = []
    /// Replies per account in any hour.
    public var hourlyQuota = 10
    /// Mentions older than this when first seen are recorded, not answered.
    public var maxAgeMs: Int64 = 86_400_000
    /// Pages of mentions read per account and run (newest first; reading stops at a page
    /// whose mentions were all seen before).
    public var maxPages = 5
    public var retryBaseDelayMs: Int64 = 60_000
    public var retryMaxDelayMs: Int64 = 3_600_000
    public var generator: Generator = .template
    public var template = "@{author} thank you for the mention!"
    public var openAI = OpenAIConfig()

    public init() {}

    /// What `template` may name, as `{name}`.
    public static let templateVariables = ["author", "account", "handle", "platform", "text"]

    static let keys = [
        "accounts", "poll_interval", "ignore_accounts", "keywords", "hourly_quota", "max_age", "max_pages",
        "retry_base_delay", "retry_max_delay", "generator", "template", "openai_base_url", "openai_model",
        "openai_key_file", "openai_timeout", "openai_max_tokens", "openai_system_prompt",
    ]

    /// The `{name}`s of `template` that are not variables.
    public static func unknownVariables(in template: String) -> [String] {
        var out: [String] = []
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else { break }
            let name = String(rest[rest.index(after: open)..<close])
            if !templateVariables.contains(name) { out.append(name) }
            rest = rest[rest.index(after: close)...]
        }
        return out
    }
}

/// An OpenAI-compatible chat-completions endpoint (`POST BASE/chat/completions`).
public struct OpenAIConfig: Sendable, Equatable {
    /// E.g. `https://api.openai.com/v1`.
    public var baseURL = ""
    public var model = ""
    /// A file name inside `credentials_dir` holding the API key (nothing else).
    public var keyFile = ""
    public var timeoutMs: Int64 = 20_000
    public var maxTokens = 120
    public var systemPrompt = "You write short, friendly replies to social media mentions. Answer in one or two sentences, without hashtags."

    public init() {}
}

extension Limits {
    static let hourlyReplies: ClosedRange<Int64> = 0...10_000
    static let pages: ClosedRange<Int64> = 1...100
    static let maxTokens: ClosedRange<Int64> = 1...32_000
    static let generatorTimeout: ClosedRange<Int64> = 100...600_000
}

extension ConfigDecoder {
    mutating func decodeReplies(_ s: Section, accounts configured: [AccountConfig]) -> RepliesConfig {
        var r = RepliesConfig()
        let strings: (TOMLValue) -> Conversion<[String]> = { Self.list($0, Self.string) }
        if let names = read(s, "accounts", strings) {
            let known = configured.map(\.name)
            if let unknown = names.first(where: { !known.contains($0) }) {
                report(s.table["accounts"]!.line, s.keyPath("accounts"), "unknown account \"\(unknown)\" (configured: \(known.joined(separator: ", ")))")
            } else {
                r.accounts = names
            }
        }
        if let v = read(s, "poll_interval", { Self.duration($0, Limits.periodic) }) { r.pollIntervalMs = v }
        if let v = read(s, "ignore_accounts", strings) {
            r.ignoreAccounts = v.map { ($0.hasPrefix("@") ? String($0.dropFirst()) : $0).lowercased() }
        }
        if let v = read(s, "keywords", strings) {
            if v.contains(where: \.isEmpty) {
                report(s.table["keywords"]!.line, s.keyPath("keywords"), "must not contain an empty keyword")
            } else {
                r.keywords = v
            }
        }
        if let v = read(s, "hourly_quota", { Self.integer($0, Limits.hourlyReplies) }) { r.hourlyQuota = Int(v) }
        if let v = read(s, "max_age", { Self.duration($0, Limits.periodic) }) { r.maxAgeMs = v }
        if let v = read(s, "max_pages", { Self.integer($0, Limits.pages) }) { r.maxPages = Int(v) }
        (r.retryBaseDelayMs, r.retryMaxDelayMs) = backoff(s, base: r.retryBaseDelayMs, max: r.retryMaxDelayMs)
        if let v = read(s, "generator", { (value: TOMLValue) -> Conversion<RepliesConfig.Generator> in
            guard case .string(let text) = value else { return .bad("expected a string, got \(value.typeName)") }
            guard let g = RepliesConfig.Generator(rawValue: text) else {
                return .bad("unknown generator \"\(text)\" (expected one of: \(RepliesConfig.Generator.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            return .ok(g)
        }) { r.generator = v }
        if let v = read(s, "template", Self.string) {
            let unknown = RepliesConfig.unknownVariables(in: v)
            if v.isEmpty {
                report(s.table["template"]!.line, s.keyPath("template"), "must not be empty")
            } else if !unknown.isEmpty {
                report(s.table["template"]!.line, s.keyPath("template"),
                       "unknown variable {\(unknown[0])} (variables: \(RepliesConfig.templateVariables.map { "{\($0)}" }.joined(separator: ", ")))")
            } else {
                r.template = v
            }
        }
        if let v = read(s, "openai_base_url", Self.baseURL) { r.openAI.baseURL = v }
        if let v = read(s, "openai_model", Self.string) { r.openAI.model = v }
        if let v = read(s, "openai_key_file", Self.credentialsFile) { r.openAI.keyFile = v }
        if let v = read(s, "openai_timeout", { Self.duration($0, Limits.generatorTimeout) }) { r.openAI.timeoutMs = v }
        if let v = read(s, "openai_max_tokens", { Self.integer($0, Limits.maxTokens) }) { r.openAI.maxTokens = Int(v) }
        if let v = read(s, "openai_system_prompt", Self.string) { r.openAI.systemPrompt = v }
        if r.generator == .openai, let node = s.table["generator"] {
            for (key, value) in [("openai_base_url", r.openAI.baseURL), ("openai_model", r.openAI.model), ("openai_key_file", r.openAI.keyFile)]
            where value.isEmpty && s.table[key] == nil {
                report(node.line, s.keyPath(key), "required when generator = \"openai\"")
            }
        }
        return r
    }
}
