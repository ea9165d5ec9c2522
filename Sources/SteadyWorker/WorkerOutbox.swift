import SteadyCore
import SteadySystem
import Synchronization

/// The answer to a request this worker sent to another role.
public enum WorkerCallResult: Sendable, Equatable {
    case ok([UInt8])
    /// `unavailable` (refused before it was sent), `timeout`, `worker-exited`, `abandoned`
    /// (sent, and this worker is exiting before the answer came), `unknown-method`, or the
    /// target's own code.
    case error(code: String, message: String)
}

/// Requests from this worker to another role (`ROLE.method`, or `supervisor.status`), routed
/// by the supervisor (ARCHITECTURE.md, Routing). Every request has a deadline; its answer is
/// delivered exactly once: the target's answer, the supervisor's refusal, or `timeout` when
/// the deadline passes first. The loop (`WorkerRuntime`) sends and matches; callers on other
/// threads only queue and wait.
public final class WorkerOutbox: @unchecked Sendable {
    // @unchecked: other threads touch only `inbox` and `closedReason` (both locked); the
    // rest is the loop thread's alone.
    /// A request waiting to be sent by the loop.
    struct Outgoing: Sendable {
        let method: String
        let body: [UInt8]
        let timeoutMs: Int64
        let deliver: @Sendable (WorkerCallResult) -> Void
    }

    /// Requests queued by any thread; the loop sends them (`flush`).
    let inbox: LoopInbox<Outgoing>

    /// Loop-only state: sent and unanswered, by correlation.
    private var pending: [UInt64: (deadline: Int64, deliver: @Sendable (WorkerCallResult) -> Void)] = [:]
    private var nextCorrelation: UInt64 = 0
    /// Loop-only: completions from `send` run here, on the loop thread.
    private var loopCompletions: [UInt64: (WorkerCallResult) -> Void] = [:]
    private var nextLocal: UInt64 = 0
    /// Set once the supervisor is gone: every later request fails at once.
    private let closedReason = Mutex<String?>(nil)

    public init() throws(SystemError) {
        inbox = try LoopInbox()
    }

    /// Requests sent and not yet answered.
    public var inFlight: Int { pending.count }

    // MARK: - Callers

    /// On the worker's loop thread: `completion` runs later on the loop thread, exactly once.
    public func send(_ method: String, body: [UInt8], timeoutMs: Int64, completion: @escaping (WorkerCallResult) -> Void) {
        nextLocal &+= 1
        let local = nextLocal
        loopCompletions[local] = completion
        // The loop thread both queues and delivers, so the completion never leaves it; the
        // queued closure only names it by number.
        let unchecked = UncheckedOutbox(self)
        enqueue(Outgoing(method: method, body: body, timeoutMs: timeoutMs) { result in
            unchecked.outbox.completeOnLoop(local, result)
        })
    }

    /// On any thread but the loop's (there it would wait for itself forever): blocks until
    /// the answer or the timeout.
    public func call(_ method: String, body: [UInt8], timeoutMs: Int64) -> WorkerCallResult {
        // Waits without a timeout of its own: the loop always delivers (answer, refusal, the
        // deadline backstop, or `close`), exactly once.
        let answer = WaitableMutex<WorkerCallResult?>(nil)
        enqueue(Outgoing(method: method, body: body, timeoutMs: timeoutMs) { result in
            answer.withLock { slot in if slot == nil { slot = result } }
        })
        return answer.wait { $0 }
    }

    /// From Swift concurrency (an HTTP handler, say): suspends until the answer or the timeout.
    public func request(_ method: String, body: [UInt8], timeoutMs: Int64) async -> WorkerCallResult {
        await withCheckedContinuation { continuation in
            enqueue(Outgoing(method: method, body: body, timeoutMs: timeoutMs) { continuation.resume(returning: $0) })
        }
    }

    private func enqueue(_ outgoing: Outgoing) {
        if let reason = closedReason.withLock({ $0 }) {
            outgoing.deliver(.error(code: "unavailable", message: reason))
            return
        }
        inbox.post(outgoing)
    }

    private func completeOnLoop(_ local: UInt64, _ result: WorkerCallResult) {
        loopCompletions.removeValue(forKey: local)?(result)
    }

    // MARK: - The loop's side (WorkerRuntime)

    /// Sends what was queued; `transmit` writes one request frame and throws if it cannot.
    func flush(now: Int64, transmit: (String, [UInt8], UInt64, Int64) throws -> Void) {
        for outgoing in inbox.drain() {
            if let reason = closedReason.withLock({ $0 }) {
                outgoing.deliver(.error(code: "unavailable", message: reason))
                continue
            }
            nextCorrelation &+= 1
            let correlation = nextCorrelation
            let deadline = now + max(1, outgoing.timeoutMs)
            do {
                try transmit(outgoing.method, outgoing.body, correlation, deadline)
                pending[correlation] = (deadline, outgoing.deliver)
            } catch {
                outgoing.deliver(.error(code: "unavailable", message: "cannot reach the supervisor: \(error)"))
            }
        }
    }

    /// A response frame arrived; false when it answers nothing this outbox sent.
    @discardableResult
    func answer(correlation: UInt64, _ result: WorkerCallResult) -> Bool {
        guard let entry = pending.removeValue(forKey: correlation) else { return false }
        entry.deliver(result)
        return true
    }

    /// Fails the requests past their deadline (the supervisor normally answers `timeout`
    /// first; this is the backstop if its answer is lost).
    func expire(now: Int64) {
        guard !pending.isEmpty else { return }
        for (correlation, entry) in pending where now >= entry.deadline + 250 {
            pending[correlation] = nil
            entry.deliver(.error(code: "timeout", message: "no answer by the deadline"))
        }
    }

    /// When the loop next has to look at a deadline.
    var nextDeadline: Int64? {
        pending.values.map { $0.deadline + 250 }.min()
    }

    /// This worker is exiting: fail everything sent (`abandoned`: it may have had its effect)
    /// or queued (`unavailable`: it never left), and every later request.
    func close(reason: String) {
        closedReason.withLock { $0 = reason }
        let sent = pending
        pending.removeAll()
        for entry in sent.values { entry.deliver(.error(code: "abandoned", message: reason + "; the request was sent and its answer never came")) }
        for outgoing in inbox.drain() { outgoing.deliver(.error(code: "unavailable", message: reason)) }
    }
}

/// Lets a loop-thread completion be named from a `@Sendable` closure that also only runs on
/// the loop thread.
private struct UncheckedOutbox: @unchecked Sendable {
    let outbox: WorkerOutbox
    init(_ outbox: WorkerOutbox) { self.outbox = outbox }
}
