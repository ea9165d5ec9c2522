import Logging
import SteadyConfig
import SteadyCore
import SteadySystem

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

    /// Like `handle(method:body:)`, with the frame's correlation id and deadline: a role that
    /// answers later returns `.deferred` and calls `WorkerReplies.reply` (from `start`) with
    /// `request.correlation`. Defaults to `handle(method:body:)`.
    func handle(request: WorkerRequest) -> WorkerReply?
    /// `start(logger:)` plus the path for deferred answers. Defaults to `start(logger:)`.
    func start(logger: Logger, replies: WorkerReplies)
    /// Everything the loop offers a role: the logger, the path for deferred answers, and the
    /// outbox for requests to other roles. Defaults to `start(logger:replies:)`.
    func start(context: WorkerContext)
}

/// What `WorkerRuntime` hands a role when its loop is up.
public struct WorkerContext {
    public let logger: Logger
    /// Answers to requests the role deferred.
    public let replies: WorkerReplies
    /// Requests to other roles (`ROLE.method`) and to the supervisor (`supervisor.status`).
    public let outbox: WorkerOutbox

    public init(logger: Logger, replies: WorkerReplies, outbox: WorkerOutbox) {
        self.logger = logger
        self.replies = replies
        self.outbox = outbox
    }
}

/// A routed request as the worker received it.
public struct WorkerRequest: Sendable, Equatable {
    public var method: String
    public var body: [UInt8]
    /// The frame's correlation id; a deferred answer names it.
    public var correlation: UInt64
    /// CLOCK_MONOTONIC ms after which the asker no longer waits (0: none was given).
    public var deadline: Int64
    /// Open files the asker passed with the request (SCM_RIGHTS, close-on-exec), in its order.
    /// The runtime closes them once `handle` returns an answer; a role that answers
    /// `.deferred` owns them (a copy on another thread) and closes them when done.
    public var descriptors: [Descriptor]

    public init(method: String, body: [UInt8], correlation: UInt64, deadline: Int64, descriptors: [Descriptor] = []) {
        self.method = method
        self.body = body
        self.correlation = correlation
        self.deadline = deadline
        self.descriptors = descriptors
    }

    public static func == (a: WorkerRequest, b: WorkerRequest) -> Bool {
        a.method == b.method && a.body == b.body && a.correlation == b.correlation && a.deadline == b.deadline
            && a.descriptors.map(\.raw) == b.descriptors.map(\.raw)
    }
}

/// The runtime's path for answers given after `handle` returned `.deferred`. Used on the
/// worker's loop thread only. Each deferred request is answered at most once; an answer for
/// a correlation that is not pending (already answered, never deferred, or dropped after its
/// deadline) is refused with `false`.
public final class WorkerReplies {
    private let sender: (UInt64, WorkerReply) -> Bool

    /// `sender` delivers one answer and says whether the correlation was pending.
    public init(sender: @escaping (UInt64, WorkerReply) -> Bool) {
        self.sender = sender
    }

    @discardableResult
    public func reply(correlation: UInt64, _ reply: WorkerReply) -> Bool {
        if case .deferred = reply { return false }
        return sender(correlation, reply)
    }
}

/// A worker's answer to a routed request.
public enum WorkerReply: Sendable {
    case ok([UInt8])
    case error(code: String, message: String)
    /// No answer yet: the role answers through `WorkerReplies` by the request's deadline.
    case deferred
}

extension WorkerRole {
    public func handle(method: String, body: [UInt8]) -> WorkerReply? { nil }
    public var watchedDescriptors: [Int32] { [] }
    public func readable(_ fd: Int32) {}
    public var wakeAt: Int64? { nil }
    public func tick(now: Int64) {}
    public func start(logger: Logger) {}
    public func handle(request: WorkerRequest) -> WorkerReply? { handle(method: request.method, body: request.body) }
    public func start(logger: Logger, replies: WorkerReplies) { start(logger: logger) }
    public func start(context: WorkerContext) { start(logger: context.logger, replies: context.replies) }
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
