import Logging
import SteadyConfig
import SteadyCore

/// The job a worker process does, driven by `WorkerRuntime`'s loop. Roles whose engines are
/// built in later parts run `IdleRole`: the real lifecycle, with nothing to do yet.
public protocol WorkerRole: AnyObject {
    /// One line for `steadypost status`: what this worker does, or why it has nothing to do.
    var summary: String { get }
    /// Work started and not finished.
    var inFlight: Int { get }
    /// Figures sent in each heartbeat.
    var counters: [String: Int64] { get }
    /// Stop taking new work; finish what is in flight.
    func beginDrain()
    /// True once nothing is in flight after `beginDrain`.
    var drained: Bool { get }
    /// Answers a request routed to this worker (`ROLE.method` on the control socket, or from
    /// another worker); nil when the role has no such method.
    func handle(method: String, body: [UInt8]) -> WorkerReply?

    /// Descriptors the loop should watch for this role (e.g. a pipe its worker threads write
    /// to when an attempt finishes); `readable(fd)` is called when one is.
    var watchedDescriptors: [Int32] { get }
    func readable(_ fd: Int32)
    /// When the loop should call `tick` next (CLOCK_MONOTONIC ms), nil for "only on events":
    /// the role sleeps until its next due time, never on a fixed polling interval.
    var wakeAt: Int64? { get }
    /// Called on every loop turn (after events, and at `wakeAt`).
    func tick(now: Int64)
    /// Called once the loop is up and `ready` has been sent.
    func start(logger: Logger)
}

/// A worker's answer to a routed request.
public enum WorkerReply: Sendable {
    case ok([UInt8])
    case error(code: String, message: String)
}

extension WorkerRole {
    public func handle(method: String, body: [UInt8]) -> WorkerReply? { nil }
    public var watchedDescriptors: [Int32] { [] }
    public func readable(_ fd: Int32) {}
    public var wakeAt: Int64? { nil }
    public func tick(now: Int64) {}
    public func start(logger: Logger) {}
}

/// A role with nothing configured yet. It runs the full lifecycle (hello, ready, heartbeats,
/// drain, shutdown) so supervision is real from the first commit.
public final class IdleRole: WorkerRole {
    public let role: Role
    private var draining = false

    public init(role: Role, config: Config) {
        self.role = role
        switch role {
        case .posting where !config.accounts.isEmpty:
            summary = "\(config.accounts.count) account(s) configured; the posting engine is not built yet"
        default:
            summary = "nothing configured yet for \(role.rawValue)"
        }
    }

    public let summary: String
    public var inFlight: Int { 0 }
    public var counters: [String: Int64] { [:] }
    public func beginDrain() { draining = true }
    public var drained: Bool { draining }
}
