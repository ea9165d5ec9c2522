/// When the posting worker must next look at the store (DESIGN.md 3.9: it sleeps until the
/// next due time or a new-post notification; it never polls on a fixed interval). Pure.
///
/// An account contributes the earliest of its next due post and next verification, each
/// pushed past whatever holds it back: a pause (both), the quota window and an open breaker
/// (posting only). A busy account contributes nothing (its job's completion wakes the loop),
/// and neither does any account while every job slot is taken. A lease running out always
/// counts: a worker that died holding a post is noticed then.
public enum WakePlanner {
    public struct Account: Equatable, Sendable {
        public var busy = false
        public var usable = true
        public var pausedUntil: Int64?
        public var quotaBlockedUntil: Int64?
        public var breakerBlockedUntil: Int64?
        public var nextDue: Int64?
        public var nextVerification: Int64?

        public init(busy: Bool = false, usable: Bool = true, pausedUntil: Int64? = nil, quotaBlockedUntil: Int64? = nil,
                    breakerBlockedUntil: Int64? = nil, nextDue: Int64? = nil, nextVerification: Int64? = nil) {
            self.busy = busy
            self.usable = usable
            self.pausedUntil = pausedUntil
            self.quotaBlockedUntil = quotaBlockedUntil
            self.breakerBlockedUntil = breakerBlockedUntil
            self.nextDue = nextDue
            self.nextVerification = nextVerification
        }

        /// When this account has work it may start.
        public var readyAt: Int64? {
            guard usable, !busy else { return nil }
            let pause = pausedUntil ?? Int64.min
            let post = nextDue.map { max($0, pause, quotaBlockedUntil ?? Int64.min, breakerBlockedUntil ?? Int64.min) }
            let verify = nextVerification.map { max($0, pause) }
            return [post, verify].compactMap { $0 }.min()
        }
    }

    /// The wall time (ms) to wake at, nil for "only on events". Never earlier than `now`
    /// plus `floorMillis`, so a post that is due but cannot be claimed for a reason this
    /// table does not know cannot make the loop spin.
    public static func next(now: Int64, accounts: [Account], capacityFull: Bool, nextLeaseExpiry: Int64?,
                            floorMillis: Int64 = 20) -> Int64? {
        var candidates: [Int64] = []
        if !capacityFull { candidates += accounts.compactMap(\.readyAt) }
        // expireLeases takes leases with `lease_expires_at <= now`.
        if let lease = nextLeaseExpiry { candidates.append(lease) }
        guard let earliest = candidates.min() else { return nil }
        return max(earliest, now + floorMillis)
    }
}
