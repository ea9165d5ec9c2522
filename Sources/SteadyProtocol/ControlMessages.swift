import SteadyCore

/// The control socket's requests (method names) and their bodies. The CLI sends these as
/// request frames; the supervisor answers with a response frame.
public enum ControlMethod: String, Sendable, CaseIterable {
    case status
    case restart
    case stop
    case start
    /// Test-only: make a worker misbehave (`hang`, `crash`, `alloc`); refused unless the
    /// config sets `daemon.allow_fault_injection`.
    case fault
    /// Answer once ROLE is running with a pid other than `not_pid` (or has failed): lets
    /// scripts and tests wait for a replacement without polling.
    case waitReady = "wait-ready"
}

public struct WaitReadyRequest: Codable, Equatable, Sendable {
    public var role: Role
    public var not_pid: Int32?
    public init(role: Role, not_pid: Int32?) {
        self.role = role
        self.not_pid = not_pid
    }
}

public struct RoleRequest: Codable, Equatable, Sendable {
    public var role: Role
    public init(role: Role) { self.role = role }
}

public struct FaultRequest: Codable, Equatable, Sendable {
    public var role: Role
    /// hang | crash | alloc | exit
    public var kind: String
    public init(role: Role, kind: String) {
        self.role = role
        self.kind = kind
    }
}

/// One worker as `steadypost status` shows it.
public struct WorkerStatus: Codable, Equatable, Sendable {
    public var role: Role
    /// starting | running | backoff | failed | stopped | stopping
    public var state: String
    public var pid: Int32?
    public var restarts: Int
    public var heartbeat_age_ms: Int64?
    public var rss_bytes: UInt64?
    public var open_fds: Int?
    public var in_flight: Int?
    /// Which resource bound is in force: cgroup-v2, cgroup-v1, rlimit.
    public var bounds: String
    public var memory_max: UInt64
    public var summary: String?
    public var last_exit: String?
    public var reason: String?
    /// The figures of the worker's last heartbeat (engine counters, `job.NAME.*`, pool sizes).
    public var counters: [String: Int64]?

    public init(role: Role, state: String, pid: Int32?, restarts: Int, heartbeat_age_ms: Int64?,
                rss_bytes: UInt64?, open_fds: Int?, in_flight: Int?, bounds: String, memory_max: UInt64,
                summary: String?, last_exit: String?, reason: String?, counters: [String: Int64]? = nil) {
        self.role = role
        self.state = state
        self.pid = pid
        self.restarts = restarts
        self.heartbeat_age_ms = heartbeat_age_ms
        self.rss_bytes = rss_bytes
        self.open_fds = open_fds
        self.in_flight = in_flight
        self.bounds = bounds
        self.memory_max = memory_max
        self.summary = summary
        self.last_exit = last_exit
        self.reason = reason
        self.counters = counters
    }
}

/// The answer to `status`.
public struct StatusReport: Codable, Equatable, Sendable {
    public var version: String
    public var supervisor_pid: Int32
    public var uptime_ms: Int64
    public var workers: [WorkerStatus]
    /// The posting figures; nil until the store exists (a later part fills them in).
    public var queue_depth: Int?
    public var unknown_posts: Int?
    public var open_breakers: Int?
    public var late_jobs: Int?
    /// `ROLE/JOB` for each periodic job with no success within two intervals (F11).
    public var late_job_names: [String]?
    /// Requests the supervisor has routed to workers and not yet seen answered.
    public var routed_in_flight: Int?

    public init(version: String, supervisor_pid: Int32, uptime_ms: Int64, workers: [WorkerStatus],
                queue_depth: Int? = nil, unknown_posts: Int? = nil, open_breakers: Int? = nil, late_jobs: Int? = nil,
                late_job_names: [String]? = nil, routed_in_flight: Int? = nil) {
        self.version = version
        self.supervisor_pid = supervisor_pid
        self.uptime_ms = uptime_ms
        self.workers = workers
        self.queue_depth = queue_depth
        self.unknown_posts = unknown_posts
        self.open_breakers = open_breakers
        self.late_jobs = late_jobs
        self.late_job_names = late_job_names
        self.routed_in_flight = routed_in_flight
    }
}

/// A plain answer: what was done.
public struct MessageBody: Codable, Equatable, Sendable {
    public var message: String
    public init(message: String) { self.message = message }
}

public enum SteadyVersion {
    public static let current = "0.1.0"
}
