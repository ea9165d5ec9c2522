import SteadyWorker

/// The api worker's path to the other roles and to the supervisor: requests routed by the
/// supervisor (`posting.create`, `supervisor.status`). In the worker it is the runtime's
/// `WorkerOutbox`; until the runtime hands it over, requests answer `unavailable`.
public protocol SupervisorLink: Sendable {
    func request(_ method: String, body: [UInt8], timeoutMs: Int64) async -> WorkerCallResult
}

extension WorkerOutbox: SupervisorLink {}
