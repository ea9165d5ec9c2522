/// `[workers.posting]`'s own keys (beside the worker keys every role has).
public struct PostingConfig: Sendable, Equatable {
    /// The claim lease: an attempt must finish within it (each platform request gets a
    /// quarter of it, at most 30 s), and a post whose worker died mid-attempt waits for it to
    /// run out before it is verified (unless the supervisor saw that worker die).
    public var leaseMs: Int64 = PostingConfig.defaultLeaseMs

    public static let defaultLeaseMs: Int64 = 120_000

    public init(leaseMs: Int64 = PostingConfig.defaultLeaseMs) {
        self.leaseMs = leaseMs
    }

    /// The keys, as `[workers.posting]` accepts them.
    static let keys = ["lease"]
    /// 5 s leaves each of an attempt's three platform requests 1.25 s; past 1 h a crashed
    /// worker's posts wait too long for their verification.
    static let leaseRange: ClosedRange<Int64> = 5_000...3_600_000
}

extension ConfigDecoder {
    /// `[workers.posting]`'s own keys (the worker keys are checked by `decodeWorker`).
    mutating func decodePosting(_ s: Section) -> PostingConfig {
        var p = PostingConfig()
        if let v = read(s, "lease", { Self.duration($0, PostingConfig.leaseRange) }) { p.leaseMs = v }
        return p
    }
}
