import SteadyConfig
import SteadyCore
import SteadyProtocol
import SteadySystem

/// Everything the supervisor holds for one role: the pure machine plus the live process,
/// its socket and what it last reported.
final class ChildSlot {
    var machine: ChildMachine
    let settings: WorkerConfig
    var process: SpawnedProcess?
    var socket: Descriptor?
    var decoder = FrameDecoder()
    /// Bumped on every spawn, so events from a previous process are recognised and ignored.
    var generation: UInt32 = 0
    var helloSeen = false
    var lastHeartbeat: Heartbeat?
    var summary: String?
    var bounds: BoundsKind = .rlimit
    /// The group's OOM-kill count when this process started, to tell an OOM kill apart.
    var oomKillsAtStart: Int?

    init(settings: WorkerConfig, policy: ChildPolicy) {
        self.settings = settings
        self.machine = ChildMachine(role: settings.role, policy: policy)
    }

    var role: Role { settings.role }

    func status(now: Int64) -> WorkerStatus {
        let live: Bool
        switch machine.state {
        case .starting(let pid, _): live = pid != nil
        case .running, .stopping: live = true
        default: live = false
        }
        var reason: String?
        if case .failed(let why) = machine.state { reason = why }
        return WorkerStatus(
            role: role, state: machine.state.name, pid: machine.state.pid, restarts: machine.restarts,
            heartbeat_age_ms: live ? max(0, now - machine.lastHeartbeat) : nil,
            rss_bytes: live ? lastHeartbeat?.rssBytes : nil, open_fds: live ? lastHeartbeat?.openFds : nil,
            in_flight: live ? lastHeartbeat?.inFlight : nil, bounds: bounds.rawValue,
            memory_max: settings.memoryMax, summary: summary, last_exit: machine.lastExit, reason: reason,
            counters: lastHeartbeat?.counters)
    }
}

extension ChildPolicy {
    /// The policy a `[workers.ROLE]` table asks for.
    init(_ w: WorkerConfig) {
        self.init(
            heartbeatIntervalMs: w.heartbeatIntervalMs, hangTimeoutMs: w.hangTimeoutMs, termGraceMs: w.termGraceMs,
            drainTimeoutMs: w.drainTimeoutMs, restartBaseDelayMs: w.restart.baseDelayMs,
            restartMaxDelayMs: w.restart.maxDelayMs, restartIntensity: w.restart.intensity,
            restartWindowMs: w.restart.windowMs, stableAfterMs: w.restart.stableAfterMs)
    }
}
