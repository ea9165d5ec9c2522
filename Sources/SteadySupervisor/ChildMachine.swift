import SteadyCore

/// Why a child is being stopped.
public enum StopReason: String, Equatable, Sendable {
    /// The operator asked (`steadypost stop`).
    case requested
    /// The operator asked for a restart: start again at once, no failure counted.
    case restart
    /// The daemon is shutting down.
    case shutdown
    /// No heartbeat (or no ready) within the hang timeout.
    case hung
}

/// The supervised state of one child.
public enum ChildState: Equatable, Sendable {
    /// Not running and not wanted (stopped by the operator, disabled, or after shutdown).
    case stopped
    /// Spawn requested or done; waiting for `ready`. `pid` is nil until the spawn succeeded.
    case starting(pid: Int32?, since: Int64)
    case running(pid: Int32, since: Int64)
    /// Asked to go (drain frame or SIGTERM); SIGKILL at `killAt` unless it exits first.
    case stopping(pid: Int32, reason: StopReason, killAt: Int64, killed: Bool)
    /// Waiting to restart after a failure.
    case backoff(until: Int64)
    /// Parked: over its restart intensity. Only an operator's `start` revives it.
    case failed(reason: String)

    /// The name `steadypost status` shows.
    public var name: String {
        switch self {
        case .stopped: return "stopped"
        case .starting: return "starting"
        case .running: return "running"
        case .stopping: return "stopping"
        case .backoff: return "backoff"
        case .failed: return "failed"
        }
    }

    public var pid: Int32? {
        switch self {
        case .starting(let pid, _): return pid
        case .running(let pid, _), .stopping(let pid, _, _, _): return pid
        default: return nil
        }
    }
}

/// What happened to a child, fed to `ChildMachine.handle`.
public enum ChildEvent: Equatable, Sendable {
    /// Operator `start`, or the daemon's first start.
    case start
    /// Operator `stop`.
    case stop
    /// Operator `restart`.
    case restart
    /// The daemon is shutting down: drain, then SIGKILL at the drain deadline.
    case shutdown
    case spawned(pid: Int32)
    case spawnFailed(String)
    case ready
    case heartbeat
    case exited(String)
    /// Time passed. `pressure` is read by the loop only when `heartbeatOverdue` says so.
    case tick(pressure: PressureReading?)
}

/// PSI figures as the machine sees them (percent, "some avg10").
public struct PressureReading: Equatable, Sendable {
    public var cpu: Double?
    public var memory: Double?
    public init(cpu: Double?, memory: Double?) {
        self.cpu = cpu
        self.memory = memory
    }
}

/// What the event loop must do for a child. The loop performs these and nothing else.
public enum ChildAction: Equatable, Sendable {
    case spawn
    /// Send a drain frame with this monotonic deadline.
    case drain(deadline: Int64)
    case signal(Int32)
    case log(LogLevel, String)
}

public enum LogLevel: String, Equatable, Sendable {
    case info, notice, warning, error, critical
}

/// The supervisor's decisions for one child, as a pure state machine: no clock, no I/O, no
/// randomness of its own (`now` and `jitter` come in with each event). Table-tested.
public struct ChildMachine: Equatable, Sendable {
    public let role: Role
    public var policy: ChildPolicy
    public private(set) var state: ChildState = .stopped
    /// Restarts after failures (crash, hang, spawn error), over the daemon's life.
    public private(set) var restarts = 0
    /// Failures in a row since the child was last stable; drives the backoff exponent.
    public private(set) var consecutiveFailures = 0
    /// Times of recent failures, for the restart intensity.
    public private(set) var recentFailures: [Int64] = []
    public private(set) var lastHeartbeat: Int64 = 0
    public private(set) var lastExit: String?
    /// Set while a hang deadline has been extended once for pressure.
    public private(set) var hangExtendedUntil: Int64?

    public init(role: Role, policy: ChildPolicy) {
        self.role = role
        self.policy = policy
    }

    /// The earliest monotonic time at which a `.tick` may change something.
    public func nextDeadline() -> Int64? {
        switch state {
        case .starting(_, let since):
            return hangExtendedUntil ?? (since + policy.hangTimeoutMs)
        case .running:
            return hangExtendedUntil ?? (lastHeartbeat + policy.hangTimeoutMs)
        case .stopping(_, _, let killAt, let killed):
            return killed ? nil : killAt
        case .backoff(let until):
            return until
        case .stopped, .failed:
            return nil
        }
    }

    /// True when a `.tick` at `now` would judge a hang; the loop then reads PSI for it.
    public func heartbeatOverdue(now: Int64) -> Bool {
        switch state {
        case .starting, .running:
            if let d = nextDeadline() { return now >= d }
            return false
        default:
            return false
        }
    }

    public mutating func handle(_ event: ChildEvent, now: Int64, jitter: Double = 0.5) -> [ChildAction] {
        switch (event, state) {
        // Operator and daemon requests.
        case (.start, .stopped), (.start, .failed), (.start, .backoff):
            if case .failed = state {
                consecutiveFailures = 0
                recentFailures = []
            }
            return spawnNow(now)
        case (.start, _):
            return []

        case (.stop, .starting(let pid?, _)), (.stop, .running(let pid, _)):
            return beginStop(pid: pid, reason: .requested, now: now)
        case (.stop, .stopping(let pid, _, let killAt, let killed)):
            state = .stopping(pid: pid, reason: .requested, killAt: killAt, killed: killed)
            return []
        case (.stop, .backoff), (.stop, .failed), (.stop, .starting(nil, _)):
            state = .stopped
            return [.log(.notice, "stopped by request")]
        case (.stop, .stopped):
            return []

        case (.restart, .starting(let pid?, _)), (.restart, .running(let pid, _)):
            return beginStop(pid: pid, reason: .restart, now: now)
        case (.restart, .stopping(let pid, _, let killAt, let killed)):
            state = .stopping(pid: pid, reason: .restart, killAt: killAt, killed: killed)
            return []
        case (.restart, _):
            consecutiveFailures = 0
            recentFailures = []
            return spawnNow(now)

        case (.shutdown, .starting(let pid?, _)), (.shutdown, .running(let pid, _)):
            return beginStop(pid: pid, reason: .shutdown, now: now)
        case (.shutdown, .stopping(let pid, _, let killAt, let killed)):
            state = .stopping(pid: pid, reason: .shutdown, killAt: killAt, killed: killed)
            return []
        case (.shutdown, _):
            state = .stopped
            return []

        // Process lifecycle.
        case (.spawned(let pid), .starting(nil, _)):
            state = .starting(pid: pid, since: now)
            lastHeartbeat = now
            return [.log(.info, "started pid \(pid)")]
        case (.spawned, _):
            return []
        case (.spawnFailed(let why), .starting(nil, _)):
            lastExit = why
            return failure(now: now, jitter: jitter, what: "could not start: \(why)")
        case (.spawnFailed, _):
            return []

        case (.ready, .starting(let pid?, _)):
            state = .running(pid: pid, since: now)
            lastHeartbeat = now
            hangExtendedUntil = nil
            return [.log(.info, "ready pid \(pid)")]
        case (.ready, _):
            return []

        case (.heartbeat, .running(_, let since)):
            lastHeartbeat = now
            if hangExtendedUntil != nil {
                hangExtendedUntil = nil
            }
            if consecutiveFailures > 0 && now - since >= policy.stableAfterMs {
                consecutiveFailures = 0
            }
            return []
        case (.heartbeat, .starting):
            lastHeartbeat = now
            return []
        case (.heartbeat, _):
            return []

        case (.exited(let how), .stopping(_, let reason, _, _)):
            lastExit = how
            hangExtendedUntil = nil
            switch reason {
            case .requested, .shutdown:
                state = .stopped
                return [.log(.info, "stopped (\(how))")]
            case .restart:
                return [.log(.info, "exited for restart (\(how))")] + spawnNow(now)
            case .hung:
                return failure(now: now, jitter: jitter, what: "hung, \(how)")
            }
        case (.exited(let how), .starting):
            lastExit = how
            hangExtendedUntil = nil
            return failure(now: now, jitter: jitter, what: how)
        case (.exited(let how), .running(_, let since)):
            lastExit = how
            hangExtendedUntil = nil
            // A child that ran stably before dying starts a new series: restart at once.
            if now - since >= policy.stableAfterMs { consecutiveFailures = 0 }
            return failure(now: now, jitter: jitter, what: how)
        case (.exited, _):
            return []

        // Time.
        case (.tick(let pressure), .starting(let pid, _)):
            return checkHang(pid: pid, pressure: pressure, now: now, jitter: jitter)
        case (.tick(let pressure), .running(let pid, _)):
            return checkHang(pid: pid, pressure: pressure, now: now, jitter: jitter)
        case (.tick, .stopping(let pid, let reason, let killAt, false)):
            guard now >= killAt else { return [] }
            state = .stopping(pid: pid, reason: reason, killAt: killAt, killed: true)
            return [.log(.warning, "still running at its \(reason == .hung ? "grace" : "drain") deadline: SIGKILL"), .signal(ChildSignal.kill)]
        case (.tick, .backoff(let until)):
            guard now >= until else { return [] }
            return spawnNow(now)
        case (.tick, _):
            return []
        }
    }

    private mutating func checkHang(pid: Int32?, pressure: PressureReading?, now: Int64, jitter: Double) -> [ChildAction] {
            guard heartbeatOverdue(now: now) else { return [] }
            let what: String
            if case .starting = state { what = "no ready within \(policy.hangTimeoutMs) ms" } else {
                what = "no heartbeat for \(now - lastHeartbeat) ms (timeout \(policy.hangTimeoutMs) ms)"
            }
            if hangExtendedUntil == nil, let pressure, let reason = starvation(pressure) {
                hangExtendedUntil = now + policy.hangTimeoutMs
                return [.log(.warning, "\(what), but the host is under pressure (\(reason)): extending the deadline once by \(policy.hangTimeoutMs) ms")]
            }
            guard let pid else {
                // Spawn never reported back; treat as a failed start.
                return failure(now: now, jitter: jitter, what: what)
            }
            state = .stopping(pid: pid, reason: .hung, killAt: now + policy.termGraceMs, killed: false)
            hangExtendedUntil = nil
            return [.log(.error, "hung: \(what); sending SIGTERM, SIGKILL in \(policy.termGraceMs) ms"), .signal(ChildSignal.terminate)]
    }

    private mutating func spawnNow(_ now: Int64) -> [ChildAction] {
        state = .starting(pid: nil, since: now)
        hangExtendedUntil = nil
        return [.spawn]
    }

    private mutating func beginStop(pid: Int32, reason: StopReason, now: Int64) -> [ChildAction] {
        let deadline = now + policy.drainTimeoutMs
        state = .stopping(pid: pid, reason: reason, killAt: deadline, killed: false)
        return [.drain(deadline: deadline)]
    }

    private mutating func failure(now: Int64, jitter: Double, what: String) -> [ChildAction] {
        restarts += 1
        consecutiveFailures += 1
        recentFailures = recentFailures.filter { now - $0 < policy.restartWindowMs } + [now]
        if recentFailures.count > policy.restartIntensity {
            let reason = "\(recentFailures.count) failures within \(policy.restartWindowMs / 1000) s (intensity \(policy.restartIntensity)); last: \(what)"
            state = .failed(reason: reason)
            return [.log(.critical, "parked as failed: \(reason); the other workers keep running; `steadypost start \(role.rawValue)` revives it")]
        }
        let delay = policy.backoffDelay(consecutiveFailures: consecutiveFailures, jitter: jitter)
        if delay == 0 {
            return [.log(.error, "\(what); restarting now")] + spawnNow(now)
        }
        state = .backoff(until: now + delay)
        return [.log(.error, "\(what); restarting in \(delay) ms (failure \(consecutiveFailures) in a row)")]
    }

    private func starvation(_ p: PressureReading) -> String? {
        if let cpu = p.cpu, cpu >= policy.pressureThreshold { return "cpu some avg10=\(cpu)%" }
        if let mem = p.memory, mem >= policy.pressureThreshold { return "memory some avg10=\(mem)%" }
        return nil
    }
}

/// The signals the machine sends, by number, so it needs no Glibc import.
public enum ChildSignal {
    public static let terminate: Int32 = 15
    public static let kill: Int32 = 9
}
