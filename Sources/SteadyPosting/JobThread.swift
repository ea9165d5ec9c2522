/// The posting worker's job threads and completion pipe, for other workers whose jobs block
/// (the reconciler's timeline reads): a job runs on its own thread and hands its result to the
/// worker's loop through a pipe the loop watches.
public final class JobCompletions<Item: Sendable>: @unchecked Sendable {
    private let queue: CompletionQueue<Item>

    public init() throws(PostingStartError) {
        do { queue = try CompletionQueue() } catch { throw PostingStartError("cannot make the completion pipe: \(error)") }
    }

    /// Watch this in the worker's loop (`WorkerRole.watchedDescriptors`).
    public var readFd: Int32 { queue.readFd }

    /// On the loop, when `readFd` is readable: every result posted so far.
    public func drain() -> [Item] { queue.drain() }

    /// Runs `body` on a new thread; its result comes back through `drain`.
    public func run(_ body: @escaping @Sendable () -> Item) throws(PostingStartError) {
        let queue = self.queue
        try startThread { queue.post(body()) }
    }
}
