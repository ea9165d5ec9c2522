import SteadyCore

/// When to try again after a failure of one class. Pure: the caller passes the failure count
/// and a jitter draw in [0, 1).
///
///     delay(n) = min(cap, base × 2^(n-1)) × (1/2 + jitter/2)        (equal jitter)
///
/// Compared with the job queues operators know (both in seconds, n = retry count):
/// - Sidekiq: `n⁴ + 15 + rand(30)·(n+1)` — polynomial, 15 s floor, jitter growing with n;
///   retry 10 waits about 2.8 hours.
/// - Oban: `15 + 2^n` (exponent capped at 10), jittered — exponential with a 15 s floor.
/// Posting is time-sensitive and most failures here are brief (a 503, a reset connection),
/// so the floor is the class's base (seconds, not 15 s) and the cap is minutes, not hours;
/// equal jitter keeps at least half the delay so a fleet of retries cannot stampede at 0.
/// Rate limits are not retried by this policy at all: the platform's reset time decides.
public struct RetryPolicy: Equatable, Sendable {
    public var baseMillis: Int64
    public var capMillis: Int64

    public init(baseMillis: Int64, capMillis: Int64) {
        self.baseMillis = baseMillis
        self.capMillis = capMillis
    }

    /// After `failures` failures in a row (1 = the first).
    public func delay(failures: Int, jitter: Double) -> Int64 {
        let n = max(1, failures)
        let exponent = min(n - 1, 40)
        let raw = min(Double(capMillis), Double(baseMillis) * Double(UInt64(1) << UInt64(exponent)))
        let j = min(max(jitter, 0), 0.999_999)
        return Int64(raw / 2 + raw / 2 * j)
    }

    /// `noEffect` failures of a send: brief platform trouble, retried soon.
    public static let noEffect = RetryPolicy(baseMillis: 5_000, capMillis: 15 * 60_000)
    /// Re-checking an `unknown` post that verification could not decide yet.
    public static let verification = RetryPolicy(baseMillis: 10_000, capMillis: 30 * 60_000)

    /// The platform's policy for `noEffect` sends (its definition's `noEffectRetry`).
    public static func noEffect(for platform: Platform) -> RetryPolicy {
        PlatformRegistry.rules(for: platform).noEffectRetry
    }
}
