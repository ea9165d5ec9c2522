import Glibc
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
    /// How the previous process of this role ended, as its successor learns it
    /// (`STEADYPOST_PREVIOUS_EXIT`): evidence for poison parking only when the death could
    /// have been caused by the work it held (crash, oom, hang), not an outside SIGKILL.
    var previousExit: PreviousExit = .none
    /// The previous process's pid, with `previousExit` (`STEADYPOST_PREVIOUS_PID`): reaped, so
    /// whatever it held (the posting worker's leases) can be taken back at once.
    var previousPid: Int32?

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

/// How a worker process ended, in the words its successor reads.
enum PreviousExit: String {
    /// First start of this role in this supervisor's life (or the supervisor itself died).
    case none
    /// A crash signal: SIGSEGV, SIGABRT, SIGILL, SIGTRAP, SIGBUS, SIGFPE.
    case crash
    /// Killed by the kernel's OOM killer at its memory bound.
    case oom
    /// Killed by the supervisor for missing its heartbeats.
    case hang
    /// SIGKILL or another signal from outside: no evidence against its work.
    case killed
    /// It exited on its own (any status).
    case exited

    init(_ status: ExitStatus, oom: Bool, hungKill: Bool) {
        switch status {
        case .exited: self = .exited
        case .signaled(let sig) where [SIGSEGV, SIGABRT, SIGILL, SIGTRAP, SIGBUS, SIGFPE].contains(sig): self = .crash
        case .signaled: self = oom ? .oom : hungKill ? .hang : .killed
        }
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
