/// `[workers.reconciler]`'s own keys (beside the worker keys every role has): how often the
/// reconciler compares each account's timeline with the store, and how far back.
public struct ReconcilerConfig: Sendable, Equatable {
    /// The quick pass: every `quickIntervalMs` over the last `quickWindowMs`.
    public var quickIntervalMs: Int64
    public var quickWindowMs: Int64
    /// The deep pass: every `deepIntervalMs` over the last `deepWindowMs`.
    public var deepIntervalMs: Int64
    public var deepWindowMs: Int64
    /// Timeline pages (of up to 100 posts) read per account and pass.
    public var maxPages: Int
    /// A timeline post matches a post here by content only if it was created no earlier than
    /// this before the post's first attempt (clocks differ).
    public var matchSlackMs: Int64
    /// An `unknown` post found live is decided here only once its last attempt is this old:
    /// until then the posting worker's own verification is on it.
    public var unknownGraceMs: Int64
    /// Rate limits are waited out inside the pass while one account's waits add up to no
    /// more than this; past it the pass ends for that account as `partial`, resumed after
    /// the reset.
    public var rateLimitWaitMs: Int64

    public init(quickIntervalMs: Int64 = 3_600_000, quickWindowMs: Int64 = 86_400_000, deepIntervalMs: Int64 = 86_400_000,
                deepWindowMs: Int64 = 7 * 86_400_000, maxPages: Int = 50, matchSlackMs: Int64 = 60_000, unknownGraceMs: Int64 = 600_000,
                rateLimitWaitMs: Int64 = 15_000) {
        self.quickIntervalMs = quickIntervalMs
        self.quickWindowMs = quickWindowMs
        self.deepIntervalMs = deepIntervalMs
        self.deepWindowMs = deepWindowMs
        self.maxPages = maxPages
        self.matchSlackMs = matchSlackMs
        self.unknownGraceMs = unknownGraceMs
        self.rateLimitWaitMs = rateLimitWaitMs
    }

    /// The keys, as `[workers.reconciler]` accepts them.
    static let keys = ["quick_interval", "quick_window", "deep_interval", "deep_window", "max_pages", "match_slack", "unknown_grace", "rate_limit_wait"]
    static let intervalRange: ClosedRange<Int64> = 1_000...(7 * 86_400_000)
    static let windowRange: ClosedRange<Int64> = 1_000...(30 * 86_400_000)
    static let pagesRange: ClosedRange<Int64> = 1...1_000
    static let slackRange: ClosedRange<Int64> = 0...3_600_000
    static let graceRange: ClosedRange<Int64> = 0...86_400_000
    static let rateLimitWaitRange: ClosedRange<Int64> = 0...60_000
}

extension ConfigDecoder {
    /// `[workers.reconciler]`'s own keys (the worker keys are checked by `decodeWorker`).
    mutating func decodeReconciler(_ s: Section) -> ReconcilerConfig {
        var r = ReconcilerConfig()
        let interval = { (v: TOMLValue) in Self.duration(v, ReconcilerConfig.intervalRange) }
        let window = { (v: TOMLValue) in Self.duration(v, ReconcilerConfig.windowRange) }
        if let v = read(s, "quick_interval", interval) { r.quickIntervalMs = v }
        if let v = read(s, "quick_window", window) { r.quickWindowMs = v }
        if let v = read(s, "deep_interval", interval) { r.deepIntervalMs = v }
        if let v = read(s, "deep_window", window) { r.deepWindowMs = v }
        if let v = read(s, "max_pages", { Self.integer($0, ReconcilerConfig.pagesRange) }) { r.maxPages = Int(v) }
        if let v = read(s, "match_slack", { Self.duration($0, ReconcilerConfig.slackRange) }) { r.matchSlackMs = v }
        if let v = read(s, "unknown_grace", { Self.duration($0, ReconcilerConfig.graceRange) }) { r.unknownGraceMs = v }
        if let v = read(s, "rate_limit_wait", { Self.duration($0, ReconcilerConfig.rateLimitWaitRange) }) { r.rateLimitWaitMs = v }
        return r
    }
}
