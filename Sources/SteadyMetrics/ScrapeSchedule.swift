import SteadyBackground

/// Where an item stands on its scrape schedule (pure: the caller passes the times). Offsets
/// are after posting; a step whose time has passed is due now; when several have passed (the
/// worker was down, or the item was posted long ago) only the latest is taken: a late sample
/// is still a sample, a burst of them at one instant is not growth.
public struct ScrapeSchedule: Sendable, Equatable {
    public var offsetsMs: [Int64]
    public var maxTries: Int
    public var backoff: Backoff

    public init(offsetsMs: [Int64], maxTries: Int, backoff: Backoff) {
        precondition(!offsetsMs.isEmpty, "a schedule has at least one step")
        self.offsetsMs = offsetsMs
        self.maxTries = maxTries
        self.backoff = backoff
    }

    public enum Next: Sendable, Equatable {
        case step(Int, at: Int64)
        case done
    }

    /// The first step of an item posted at `postedAt`.
    public func first(postedAt: Int64, now: Int64) -> Next {
        next(after: -1, postedAt: postedAt, now: now)
    }

    /// The step after `step` was sampled.
    public func next(after step: Int, postedAt: Int64, now: Int64) -> Next {
        let following = step + 1
        guard following < offsetsMs.count else { return .done }
        let passed = offsetsMs.indices.last { $0 >= following && postedAt + offsetsMs[$0] <= now }
        if let passed { return .step(passed, at: now) }
        return .step(following, at: postedAt + offsetsMs[following])
    }

    /// After the `tries`-th failure of the current step: when to try again, or nil when that
    /// was the last try (the item is then marked failed with the reason).
    public func retryAt(afterTries tries: Int, now: Int64) -> Int64? {
        tries >= maxTries ? nil : now + backoff.delay(afterTries: tries)
    }
}
