import SteadyCore
import Synchronization

/// A posting worker's store that fails on purpose: the test fault points (STEADYPOST_FAULTS,
/// armed only in a build with `TestHooks`) and the store's own tests put it in front of a
/// real backend. Before a write is passed on, a queued failure (`failNextWrites`) or the
/// `fault` closure may fail it, as the backend would, and through the same bounded retry
/// (`TransientRetry`) as a backend's own failures: an injected transient failure is retried,
/// so a window shorter than the retries is absorbed and a longer one surfaces after them
/// (F03, F16). Reads always pass. The backend itself has no fault hooks.
public final class FaultInjectingStore: PostingWorkerStore, Sendable {
    public let base: any PostingWorkerStore
    let retry: TransientRetry
    private let state: Mutex<State>

    struct State {
        var fault: (@Sendable () -> DatabaseFailure?)?
        var queued: [DatabaseFailure] = []
        var retries = 0
    }

    public init(_ base: any PostingWorkerStore, retry: TransientRetry = .standard, fault: (@Sendable () -> DatabaseFailure?)? = nil) {
        self.base = base
        self.retry = retry
        state = Mutex(State(fault: fault))
    }

    /// `fault` is asked before every try of every write; a failure it returns fails that try.
    public func setFault(_ fault: (@Sendable () -> DatabaseFailure?)?) {
        state.withLock { $0.fault = fault }
    }

    /// The next `count` tries of writes fail with `failure` (before the fault closure is
    /// asked); 0 clears the queue.
    public func failNextWrites(_ count: Int, with failure: DatabaseFailure) {
        state.withLock { $0.queued = Array(repeating: failure, count: count) }
    }

    /// Tries of writes replayed after an injected transient failure.
    public var transientRetries: Int { state.withLock { $0.retries } }

    /// The injected failure of this try, if any.
    private func injected() -> DatabaseFailure? {
        let (next, fault) = state.withLock { s -> (DatabaseFailure?, (@Sendable () -> DatabaseFailure?)?) in
            s.queued.isEmpty ? (nil, s.fault) : (s.queued.removeFirst(), nil)
        }
        return next ?? fault?()
    }

    /// A write: the injected failures first (retried like the backend's), then the backend.
    private func write<T>(_ body: () throws(StoreError) -> T) throws(StoreError) -> T {
        try retry.run(retried: { state.withLock { $0.retries += 1 } }) { () -> Result<Void, StoreError> in
            injected().map { .failure(.database($0)) } ?? .success(())
        }
        return try body()
    }

    // MARK: - PostStore

    public func insert(_ posts: [NewPost], now: Int64) throws(StoreError) -> [Post] { try write { () throws(StoreError) in try base.insert(posts, now: now) } }
    public func post(id: String) throws(StoreError) -> Post { try base.post(id: id) }
    public func posts(state: PostState?, account: String?, limit: Int) throws(StoreError) -> [Post] {
        try base.posts(state: state, account: account, limit: limit)
    }
    public func attempts(postId: String) throws(StoreError) -> [Attempt] { try base.attempts(postId: postId) }
    public func counts() throws(StoreError) -> [PostState: Int] { try base.counts() }
    public func nextDueAt() throws(StoreError) -> Int64? { try base.nextDueAt() }
    public func cancel(id: String, now: Int64) throws(StoreError) -> Post { try write { () throws(StoreError) in try base.cancel(id: id, now: now) } }
    public func attemptsStarted(account: String, since: Int64) throws(StoreError) -> Int { try base.attemptsStarted(account: account, since: since) }
    public func threadParts(threadId: String) throws(StoreError) -> [Post] { try base.threadParts(threadId: threadId) }
    public func cancelThread(threadId: String, now: Int64) throws(StoreError) -> [Post] {
        try write { () throws(StoreError) in try base.cancelThread(threadId: threadId, now: now) }
    }

    // MARK: - AttachmentStore

    public func attachments(postIds: [String]) throws(StoreError) -> [String: [MediaAttachment]] { try base.attachments(postIds: postIds) }
    public func mediaUploads(postId: String) throws(StoreError) -> [MediaUpload] { try base.mediaUploads(postId: postId) }
    public func saveMediaUpload(_ upload: MediaUpload) throws(StoreError) { try write { () throws(StoreError) in try base.saveMediaUpload(upload) } }
    public func dropMediaUpload(postId: String, position: Int) throws(StoreError) {
        try write { () throws(StoreError) in try base.dropMediaUpload(postId: postId, position: position) }
    }
    public func referencedMedia(finalSince: Int64) throws(StoreError) -> Set<String> { try base.referencedMedia(finalSince: finalSince) }

    // MARK: - PostingStore

    public func claimDue(owner: String, now: Int64, leaseMillis: Int64, account: String) throws(StoreError) -> Post? {
        try write { () throws(StoreError) in try base.claimDue(owner: owner, now: now, leaseMillis: leaseMillis, account: account) }
    }

    public func beginAttempt(postId: String, owner: String, idempotencyKey: String, adapter: String, now: Int64, leaseMillis: Int64,
                             attemptId: String?) throws(StoreError) -> Attempt {
        try write { () throws(StoreError) in
            try base.beginAttempt(postId: postId, owner: owner, idempotencyKey: idempotencyKey, adapter: adapter, now: now,
                                  leaseMillis: leaseMillis, attemptId: attemptId)
        }
    }

    public func recordOutcome(postId: String, attemptId: String, outcome: AttemptOutcome, now: Int64) throws(StoreError) -> Post {
        try write { () throws(StoreError) in try base.recordOutcome(postId: postId, attemptId: attemptId, outcome: outcome, now: now) }
    }

    /// A write only when a lease is there to expire, as in the backend (nearly every round
    /// has none, and reads it without the write lock).
    public func expireLeases(now: Int64, poisonLimit: Int, countLoss: Bool, deadOwners: [String]) throws(StoreError) -> [(id: String, from: PostState, to: PostState)] {
        let expiring = try base.nextLeaseExpiry().map { $0 <= now } ?? false
        let dead = deadOwners.isEmpty ? false : !Set(try base.leaseOwners()).isDisjoint(with: deadOwners)
        guard expiring || dead else { return try base.expireLeases(now: now, poisonLimit: poisonLimit, countLoss: countLoss, deadOwners: deadOwners) }
        return try write { () throws(StoreError) in
            try base.expireLeases(now: now, poisonLimit: poisonLimit, countLoss: countLoss, deadOwners: deadOwners)
        }
    }

    public func leaseOwners() throws(StoreError) -> [String] { try base.leaseOwners() }

    public func release(postId: String, owner: String, now: Int64, reason: String?, retryAt: Int64?) throws(StoreError) -> Post {
        try write { () throws(StoreError) in try base.release(postId: postId, owner: owner, now: now, reason: reason, retryAt: retryAt) }
    }

    public func extendClaim(postId: String, owner: String, now: Int64, leaseMillis: Int64) throws(StoreError) -> Bool {
        try write { () throws(StoreError) in try base.extendClaim(postId: postId, owner: owner, now: now, leaseMillis: leaseMillis) }
    }
    public func nextDueByAccount() throws(StoreError) -> [String: Int64] { try base.nextDueByAccount() }
    public func nextVerificationByAccount() throws(StoreError) -> [String: Int64] { try base.nextVerificationByAccount() }
    public func nextLeaseExpiry() throws(StoreError) -> Int64? { try base.nextLeaseExpiry() }
    public func oldestAttemptStarted(account: String, since: Int64) throws(StoreError) -> Int64? {
        try base.oldestAttemptStarted(account: account, since: since)
    }
    public func platformIdTaken(_ platformId: String, account: String, excluding postId: String) throws(StoreError) -> Bool {
        try base.platformIdTaken(platformId, account: account, excluding: postId)
    }

    public func claimVerifications(account: String, now: Int64, leaseMillis: Int64, limit: Int) throws(StoreError) -> [VerificationJob] {
        try write { () throws(StoreError) in try base.claimVerifications(account: account, now: now, leaseMillis: leaseMillis, limit: limit) }
    }

    public func recordVerification(postId: String, attemptId: String?, result: VerificationResult, now: Int64) throws(StoreError) -> Post {
        try write { () throws(StoreError) in try base.recordVerification(postId: postId, attemptId: attemptId, result: result, now: now) }
    }

    // MARK: - AccountStore

    public func accountStates() throws(StoreError) -> [String: AccountState] { try base.accountStates() }
    public func tokens(account: String) throws(StoreError) -> String? { try base.tokens(account: account) }
    public func saveTokens(account: String, tokens: String, now: Int64) throws(StoreError) {
        try write { () throws(StoreError) in try base.saveTokens(account: account, tokens: tokens, now: now) }
    }
    public func setPause(account: String, until: Int64?, reason: String?, now: Int64) throws(StoreError) {
        try write { () throws(StoreError) in try base.setPause(account: account, until: until, reason: reason, now: now) }
    }
    public func saveBreaker(account: String, breaker: String, now: Int64) throws(StoreError) {
        try write { () throws(StoreError) in try base.saveBreaker(account: account, breaker: breaker, now: now) }
    }
}
