import Testing
import SteadyCore
@testable import SteadySupervisor

/// Table tests for the supervisor's decisions: each row is a sequence of (time, event) and the
/// state and actions expected after the last one. No processes, no clock.
struct ChildMachineTests {
    static let policy = ChildPolicy(
        heartbeatIntervalMs: 100, hangTimeoutMs: 1000, termGraceMs: 300, drainTimeoutMs: 500,
        restartBaseDelayMs: 100, restartMaxDelayMs: 1600, restartIntensity: 3, restartWindowMs: 10_000,
        stableAfterMs: 5000, pressureThreshold: 40)

    struct Row: CustomTestStringConvertible, Sendable {
        let name: String
        let steps: [(Int64, ChildEvent)]
        let state: ChildState
        let actions: [ChildAction]
        var testDescription: String { name }
    }

    /// Machine started and running as pid 10 at t=0.
    static func running() -> [(Int64, ChildEvent)] {
        [(0, .start), (0, .spawned(pid: 10)), (0, .ready)]
    }

    static let rows: [Row] = [
        Row(name: "start spawns", steps: [(0, .start)], state: .starting(pid: nil, since: 0), actions: [.spawn]),
        Row(name: "ready makes running", steps: running(), state: .running(pid: 10, since: 0), actions: [.log(.info, "ready pid 10")]),
        Row(name: "first crash restarts now", steps: running() + [(50, .exited("killed"))],
            state: .starting(pid: nil, since: 50), actions: [.log(.error, "killed; restarting now"), .spawn]),
        Row(name: "second crash in a row backs off base/2..base",
            steps: running() + [(50, .exited("k")), (50, .spawned(pid: 11)), (60, .ready), (70, .exited("k"))],
            state: .backoff(until: 70 + 75), actions: [.log(.error, "k; restarting in 75 ms (failure 2 in a row)")]),
        Row(name: "backoff expiry spawns",
            steps: running() + [(50, .exited("k")), (50, .spawned(pid: 11)), (60, .ready), (70, .exited("k")), (145, .tick(pressure: nil))],
            state: .starting(pid: nil, since: 145), actions: [.spawn]),
        Row(name: "over intensity parks failed",
            steps: running() + [(1, .exited("k")), (1, .spawned(pid: 11)), (2, .exited("k")), (200, .tick(pressure: nil)),
                                (200, .spawned(pid: 12)), (210, .exited("k")), (400, .tick(pressure: nil)), (400, .spawned(pid: 13)), (410, .exited("k"))],
            state: .failed(reason: "4 failures within 10 s (intensity 3); last: k"),
            actions: [.log(.critical, "parked as failed: 4 failures within 10 s (intensity 3); last: k; the other workers keep running; `steadypost start posting` revives it")]),
        Row(name: "heartbeat in time: nothing", steps: running() + [(900, .heartbeat), (1800, .tick(pressure: nil))],
            state: .running(pid: 10, since: 0), actions: []),
        Row(name: "missed heartbeat: SIGTERM", steps: running() + [(1000, .tick(pressure: nil))],
            state: .stopping(pid: 10, reason: .hung, killAt: 1300, killed: false),
            actions: [.log(.error, "hung: no heartbeat for 1000 ms (timeout 1000 ms); sending SIGTERM, SIGKILL in 300 ms"), .signal(15)]),
        Row(name: "missed heartbeat under CPU pressure: one extension",
            steps: running() + [(1000, .tick(pressure: PressureReading(cpu: 80, memory: 0)))],
            state: .running(pid: 10, since: 0),
            actions: [.log(.warning, "no heartbeat for 1000 ms (timeout 1000 ms), but the host is under pressure (cpu some avg10=80.0%): extending the deadline once by 1000 ms")]),
        Row(name: "extension used: the second miss kills",
            steps: running() + [(1000, .tick(pressure: PressureReading(cpu: 80, memory: 0))), (2000, .tick(pressure: PressureReading(cpu: 80, memory: 0)))],
            state: .stopping(pid: 10, reason: .hung, killAt: 2300, killed: false),
            actions: [.log(.error, "hung: no heartbeat for 2000 ms (timeout 1000 ms); sending SIGTERM, SIGKILL in 300 ms"), .signal(15)]),
        Row(name: "low pressure: no extension",
            steps: running() + [(1000, .tick(pressure: PressureReading(cpu: 5, memory: 1)))],
            state: .stopping(pid: 10, reason: .hung, killAt: 1300, killed: false),
            actions: [.log(.error, "hung: no heartbeat for 1000 ms (timeout 1000 ms); sending SIGTERM, SIGKILL in 300 ms"), .signal(15)]),
        Row(name: "hung past grace: SIGKILL",
            steps: running() + [(1000, .tick(pressure: nil)), (1300, .tick(pressure: nil))],
            state: .stopping(pid: 10, reason: .hung, killAt: 1300, killed: true),
            actions: [.log(.warning, "still running at its grace deadline: SIGKILL"), .signal(9)]),
        Row(name: "hung child's exit restarts it",
            steps: running() + [(1000, .tick(pressure: nil)), (1300, .tick(pressure: nil)), (1310, .exited("SIGKILL"))],
            state: .starting(pid: nil, since: 1310), actions: [.log(.error, "hung, SIGKILL; restarting now"), .spawn]),
        Row(name: "no ready within the hang timeout",
            steps: [(0, .start), (0, .spawned(pid: 10)), (1000, .tick(pressure: nil))],
            state: .stopping(pid: 10, reason: .hung, killAt: 1300, killed: false),
            actions: [.log(.error, "hung: no ready within 1000 ms; sending SIGTERM, SIGKILL in 300 ms"), .signal(15)]),
        Row(name: "stop drains", steps: running() + [(10, .stop)],
            state: .stopping(pid: 10, reason: .requested, killAt: 510, killed: false), actions: [.drain(deadline: 510)]),
        Row(name: "stopped child stays stopped", steps: running() + [(10, .stop), (20, .exited("0"))],
            state: .stopped, actions: [.log(.info, "stopped (0)")]),
        Row(name: "drain past its deadline: SIGKILL", steps: running() + [(10, .stop), (510, .tick(pressure: nil))],
            state: .stopping(pid: 10, reason: .requested, killAt: 510, killed: true),
            actions: [.log(.warning, "still running at its drain deadline: SIGKILL"), .signal(9)]),
        Row(name: "restart: no failure counted, spawn at exit", steps: running() + [(10, .restart), (20, .exited("0"))],
            state: .starting(pid: nil, since: 20), actions: [.log(.info, "exited for restart (0)"), .spawn]),
        Row(name: "spawn failure backs off like a crash",
            steps: [(0, .start), (0, .spawnFailed("ENOENT")), (0, .spawnFailed("ENOENT"))],
            state: .backoff(until: 75), actions: [.log(.error, "could not start: ENOENT; restarting in 75 ms (failure 2 in a row)")]),
        Row(name: "start revives a parked child",
            steps: running() + [(1, .exited("k")), (1, .spawned(pid: 11)), (2, .exited("k")), (200, .tick(pressure: nil)),
                                (200, .spawned(pid: 12)), (210, .exited("k")), (400, .tick(pressure: nil)), (400, .spawned(pid: 13)), (410, .exited("k")), (500, .start)],
            state: .starting(pid: nil, since: 500), actions: [.spawn]),
        Row(name: "shutdown of a backing-off child stops it", steps: running() + [(1, .exited("k")), (1, .spawned(pid: 11)), (2, .exited("k")), (3, .shutdown)],
            state: .stopped, actions: []),
        Row(name: "a stale exit after stop is ignored", steps: running() + [(10, .stop), (20, .exited("0")), (30, .exited("again"))],
            state: .stopped, actions: []),
    ]

    @Test("state machine table", arguments: rows)
    func table(_ row: Row) {
        var machine = ChildMachine(role: .posting, policy: Self.policy)
        var actions: [ChildAction] = []
        for (now, event) in row.steps {
            actions = machine.handle(event, now: now, jitter: 0.5)
        }
        #expect(machine.state == row.state)
        #expect(actions == row.actions)
    }

    @Test("stable child resets its backoff")
    func stableReset() {
        var m = ChildMachine(role: .posting, policy: Self.policy)
        for (t, e) in Self.running() { _ = m.handle(e, now: t) }
        _ = m.handle(.exited("k"), now: 10)
        _ = m.handle(.spawned(pid: 11), now: 10)
        _ = m.handle(.ready, now: 20)
        #expect(m.consecutiveFailures == 1)
        _ = m.handle(.heartbeat, now: 20 + Self.policy.stableAfterMs)
        #expect(m.consecutiveFailures == 0)
        // The next crash is a first crash again: restart at once.
        #expect(m.handle(.exited("k"), now: 6000).last == .spawn)
    }

    @Test("backoff delays grow, are capped, and jitter stays within the upper half",
          arguments: [(1, 0.0, 0), (2, 0.0, 50), (2, 0.999_999, 99), (3, 0.5, 150), (4, 0.5, 300), (6, 0.5, 1200), (7, 0.5, 1200), (50, 1.0, 1599)])
    func backoff(failures: Int, jitter: Double, expected: Int64) {
        #expect(Self.policy.backoffDelay(consecutiveFailures: failures, jitter: jitter) == expected)
    }

    @Test("next deadline follows the state")
    func deadlines() {
        var m = ChildMachine(role: .posting, policy: Self.policy)
        #expect(m.nextDeadline() == nil)
        for (t, e) in Self.running() { _ = m.handle(e, now: t) }
        #expect(m.nextDeadline() == 1000)
        _ = m.handle(.heartbeat, now: 400)
        #expect(m.nextDeadline() == 1400)
        #expect(!m.heartbeatOverdue(now: 1399))
        #expect(m.heartbeatOverdue(now: 1400))
    }
}

extension ChildEvent: CustomTestStringConvertible {
    public var testDescription: String { "\(self)" }
}

extension ChildMachineTests {
    @Test("a child that ran stably before it died is restarted at once, even after earlier failures")
    func stableThenCrash() {
        var m = ChildMachine(role: .posting, policy: Self.policy)
        for (t, e) in Self.running() { _ = m.handle(e, now: t) }
        _ = m.handle(.exited("k"), now: 10)
        _ = m.handle(.spawned(pid: 11), now: 10)
        _ = m.handle(.ready, now: 20)
        // No heartbeat since (long interval), but up for longer than stableAfter.
        #expect(m.handle(.exited("k"), now: 20 + Self.policy.stableAfterMs).last == .spawn)
        #expect(m.consecutiveFailures == 1)
    }
}
