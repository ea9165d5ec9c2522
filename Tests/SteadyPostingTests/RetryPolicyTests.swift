import Testing
import SteadyCore
import SteadyPlatforms
import SteadyStore
@testable import SteadyPosting

struct RetryPolicyTests {
    static let policy = RetryPolicy(baseMillis: 1000, capMillis: 60_000)

    @Test("F23: the delay sequence doubles, is capped, and jitter stays in the upper half",
          arguments: [
            (1, 0.0, 500), (1, 0.999_999, 999), (2, 0.5, 1500), (3, 0.5, 3000), (4, 0.0, 4000),
            (6, 0.5, 24_000), (7, 0.5, 45_000), (8, 0.5, 45_000), (60, 0.999_999, 59_999), (0, 0.5, 750),
          ] as [(Int, Double, Int64)])
    func f23_delaySequence(failures: Int, jitter: Double, expected: Int64) {
        #expect(Self.policy.delay(failures: failures, jitter: jitter) == expected)
    }

    @Test("F23: per error class and per platform")
    func f23_perClass() {
        #expect(RetryPolicy.noEffect(for: .x).baseMillis > RetryPolicy.noEffect(for: .mastodon).baseMillis)
        #expect(RetryPolicy.verification.capMillis > RetryPolicy.noEffect.capMillis)
        // Never zero, never over the cap, whatever the draw.
        for n in 1...50 {
            for j in [0.0, 0.3, 0.999] {
                let d = RetryPolicy.noEffect.delay(failures: n, jitter: j)
                #expect(d >= RetryPolicy.noEffect.baseMillis / 2 && d <= RetryPolicy.noEffect.capMillis)
            }
        }
    }
}

struct CircuitBreakerTests {
    @Test("F09: opens after the threshold of unhealthy failures, half-opens with one probe, closes on success")
    func f09_cycle() {
        var b = CircuitBreaker(threshold: 3, baseOpenMillis: 1000, maxOpenMillis: 8000)
        for t in 0..<2 { b.recordUnhealthy(now: Int64(t)) }
        let admitted = b.allow(now: 2)
        #expect(b.state == .closed && admitted)
        b.recordUnhealthy(now: 2)
        #expect(b.state == .open)
        let refused1001 = !b.allow(now: 1001)
        #expect(refused1001)
        let admitted1002 = b.allow(now: 1002)
        #expect(admitted1002, "the probe")
        #expect(b.state == .halfOpen)
        let refused1003 = !b.allow(now: 1003)
        #expect(refused1003, "only one probe at a time")
        b.recordSuccess()
        #expect(b.state == .closed && b.consecutiveFailures == 0 && b.openMillis == 1000)
    }

    @Test("seed 004: a lost answer whose post is verified live counts as a success, not a failure; absent or a failing read counts")
    func lostAnswersJudgedByVerification() {
        // What the attempt reports for a lost answer: nothing yet.
        var b = CircuitBreaker(threshold: 2, baseOpenMillis: 1000)
        for t in 0..<10 {
            b.record(.silent, now: Int64(t))  // the create's answer was lost
            b.record(Verifier.health(of: .published(platformId: "\(t)", evidence: "by id"), readFailure: .silent), now: Int64(t))
        }
        #expect(b.state == .closed && b.consecutiveFailures == 0, "ten lost answers, every post live: the platform is healthy")
        // Verified absent: the request did fail.
        #expect(Verifier.health(of: .absent(evidence: "scan"), readFailure: .silent) == .unhealthy)
        // Undecided: only a verification read that itself failed on the wire or with a 5xx speaks,
        // so an outage (every create lost, every read failing) still opens the breaker.
        #expect(Verifier.health(of: .undecided(reason: "x", nextAt: 0), readFailure: .unhealthy) == .unhealthy)
        #expect(Verifier.health(of: .undecided(reason: "x", nextAt: 0), readFailure: .silent) == .silent)
        for t in 0..<2 { b.record(Verifier.health(of: .undecided(reason: "timeout", nextAt: 0), readFailure: .unhealthy), now: Int64(t)) }
        #expect(b.state == .open)
    }

    @Test("the open time is capped at 5 minutes, also for a breaker stored with a longer one")
    func openTimeCapped() {
        var b = CircuitBreaker(threshold: 1, baseOpenMillis: 30_000)
        b.recordUnhealthy(now: 0)
        for _ in 0..<10 {
            let now = b.reopensAt!
            _ = b.allow(now: now)
            b.recordUnhealthy(now: now)
        }
        #expect(b.openMillis == CircuitBreaker.openCapMillis && CircuitBreaker.openCapMillis == 300_000)
        let restored = CircuitBreaker.restored(json: #"{"state":"open","consecutive_failures":9,"opened_at":5,"open_ms":1800000}"#,
                                               base: CircuitBreaker(baseOpenMillis: 30_000))
        #expect(restored.openMillis == 300_000)
    }

    @Test("F09: a failed probe reopens for twice as long, capped; success resets the open time")
    func f09_growingOpenTime() {
        var b = CircuitBreaker(threshold: 1, baseOpenMillis: 1000, maxOpenMillis: 3000)
        b.recordUnhealthy(now: 0)
        var now: Int64 = 0
        var opens: [Int64] = []
        for _ in 0..<4 {
            now = b.reopensAt!
            opens.append(b.openMillis)
            let probe = b.allow(now: now)
            #expect(probe)
            b.recordUnhealthy(now: now)
        }
        #expect(opens == [1000, 2000, 3000, 3000])
        now = b.reopensAt!
        let probe = b.allow(now: now)
        #expect(probe)
        b.recordSuccess()
        #expect(b.openMillis == 1000)
    }

    @Test("a success in between resets the count")
    func successResets() {
        var b = CircuitBreaker(threshold: 3)
        b.recordUnhealthy(now: 0)
        b.recordUnhealthy(now: 1)
        b.recordSuccess()
        b.recordUnhealthy(now: 2)
        b.recordUnhealthy(now: 3)
        #expect(b.state == .closed)
    }
}
