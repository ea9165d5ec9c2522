import SteadyCore

/// `[workers.metrics]`'s own keys. Every posted item is sampled at each `scheduleMs` offset
/// after it was posted; a failed sample is retried after `retryBaseDelayMs`, doubling up to
/// `retryMaxDelayMs`, at most `maxTries` times per step, after which the item is marked
/// failed with the reason.
public struct MetricsConfig: Sendable, Equatable {
    /// Offsets after posting, strictly increasing. Default 1 h, 6 h, 24 h, 72 h.
    public var scheduleMs: [Int64] = [3_600_000, 21_600_000, 86_400_000, 259_200_000]
    /// How often the scrape job looks for due items (also its lateness clock, F11).
    public var scanIntervalMs: Int64 = 60_000
    public var maxTries = 5
    public var retryBaseDelayMs: Int64 = 60_000
    public var retryMaxDelayMs: Int64 = 3_600_000
    /// Ask the browser pool (`browser.scrape`) when the API gives no figures.
    public var browserFallback = true

    public init() {}

    static let keys = ["schedule", "scan_interval", "max_tries", "retry_base_delay", "retry_max_delay", "browser_fallback"]
}

extension Limits {
    /// Schedule offsets and metrics/replies intervals: 100 ms (tests) to 30 days.
    static let periodic: ClosedRange<Int64> = 100...2_592_000_000
    static let tries: ClosedRange<Int64> = 1...100
}

extension ConfigDecoder {
    /// The keys a role's table has beyond the common worker keys.
    static func roleKeys(_ role: Role) -> [String] {
        switch role {
        case .posting: PostingConfig.keys
        case .metrics: MetricsConfig.keys
        case .replies: RepliesConfig.keys
        case .reconciler: ReconcilerConfig.keys
        default: []
        }
    }

    mutating func decodeRoleKeys(_ role: Role, _ s: Section, into config: inout Config) {
        switch role {
        case .posting: config.posting = decodePosting(s)
        case .metrics: config.metrics = decodeMetrics(s)
        case .replies: config.replies = decodeReplies(s, accounts: config.accounts)
        case .reconciler: config.reconciler = decodeReconciler(s)
        default: break
        }
    }

    mutating func decodeMetrics(_ s: Section) -> MetricsConfig {
        var m = MetricsConfig()
        if let node = s.table["schedule"] {
            switch Self.list(node.value, { Self.duration($0, Limits.periodic) }) {
            case .bad(let message): report(node.line, s.keyPath("schedule"), message)
            case .ok(let offsets):
                if offsets.isEmpty {
                    report(node.line, s.keyPath("schedule"), "must list at least one duration")
                } else if zip(offsets, offsets.dropFirst()).contains(where: { $0 >= $1 }) {
                    report(node.line, s.keyPath("schedule"), "must be strictly increasing, got \(offsets.map { DurationText.format(millis: $0) })")
                } else {
                    m.scheduleMs = offsets
                }
            }
        }
        if let v = read(s, "scan_interval", { Self.duration($0, Limits.periodic) }) { m.scanIntervalMs = v }
        if let v = read(s, "max_tries", { Self.integer($0, Limits.tries) }) { m.maxTries = Int(v) }
        (m.retryBaseDelayMs, m.retryMaxDelayMs) = backoff(s, base: m.retryBaseDelayMs, max: m.retryMaxDelayMs)
        if let v = read(s, "browser_fallback", Self.bool) { m.browserFallback = v }
        return m
    }

    /// `retry_base_delay` and `retry_max_delay` (defaults `base`, `max`); the first must not
    /// exceed the second, reported on the key that was given.
    mutating func backoff(_ s: Section, base defaultBase: Int64, max defaultMax: Int64) -> (Int64, Int64) {
        let base = read(s, "retry_base_delay", { Self.duration($0, Limits.periodic) })
        let max = read(s, "retry_max_delay", { Self.duration($0, Limits.periodic) })
        let baseMs = base ?? defaultBase
        let maxMs = max ?? defaultMax
        let valid = (base != nil || s.table["retry_base_delay"] == nil) && (max != nil || s.table["retry_max_delay"] == nil)
        guard valid, baseMs > maxMs else { return (baseMs, maxMs) }
        if let node = s.table["retry_max_delay"] {
            report(node.line, s.keyPath("retry_max_delay"), "must be at least retry_base_delay (\(DurationText.format(millis: baseMs))), got \(DurationText.format(millis: maxMs))")
        } else if let node = s.table["retry_base_delay"] {
            report(node.line, s.keyPath("retry_base_delay"), "must not exceed retry_max_delay (\(DurationText.format(millis: maxMs))), got \(DurationText.format(millis: baseMs))")
        }
        return (baseMs, maxMs)
    }

    /// An array whose every element converts; the first bad one is named by its index.
    static func list<T>(_ value: TOMLValue, _ convert: (TOMLValue) -> Conversion<T>) -> Conversion<[T]> {
        guard case .array(let nodes) = value else { return .bad("expected an array, got \(value.typeName)") }
        var out: [T] = []
        for (i, node) in nodes.enumerated() {
            switch convert(node.value) {
            case .ok(let v): out.append(v)
            case .bad(let message): return .bad("[\(i)]: \(message)")
            }
        }
        return .ok(out)
    }
}
