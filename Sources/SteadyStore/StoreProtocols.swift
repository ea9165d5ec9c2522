import SteadyCore

// The store by concern: what each worker asks of it, with no backend in sight. A backend
// (today `SQLitePostStore`) conforms to every protocol; a caller takes the protocol, or the
// composition, it needs; `Stores.open` is where a backend is chosen. Every call is one
// short transaction, synchronous and throwing `StoreError`; a state change goes through
// `PostTransitions` (and the rules beside it) inside its transaction.
//
// A requirement with defaults has them in an extension of the same signature (Swift puts no
// defaults on requirements): a backend must implement the requirement itself, or the
// extension would call itself.

/// Posts and attempts as the operator and every worker read them, and the operator's writes
/// (scheduling, cancelling).
public protocol PostStore: AnyObject, Sendable {
    /// Schedules posts, all or nothing.
    func insert(_ posts: [NewPost], now: Int64) throws(StoreError) -> [Post]
    func post(id: String) throws(StoreError) -> Post
    /// Posts, newest due first, optionally by state and account.
    func posts(state: PostState?, account: String?, limit: Int) throws(StoreError) -> [Post]
    func attempts(postId: String) throws(StoreError) -> [Attempt]
    /// Counts by state.
    func counts() throws(StoreError) -> [PostState: Int]
    /// The earliest time a scheduled post becomes due.
    func nextDueAt() throws(StoreError) -> Int64?
    /// Cancels a post that has not started an attempt; a race with a claim has one winner.
    func cancel(id: String, now: Int64) throws(StoreError) -> Post
    /// Attempts started for `account` since `since` (unknown outcomes included): what the
    /// quotas count.
    func attemptsStarted(account: String, since: Int64) throws(StoreError) -> Int    /// A thread's parts in order (empty: no such thread).
    func threadParts(threadId: String) throws(StoreError) -> [Post]
    /// Cancels the thread's parts not yet attempted; returns all its parts afterwards.
    func cancelThread(threadId: String, now: Int64) throws(StoreError) -> [Post]
}

extension PostStore {
    public func posts(state: PostState? = nil, account: String? = nil, limit: Int = 1000) throws(StoreError) -> [Post] {
        try posts(state: state, account: account, limit: limit)
    }
}

/// The posting contract's transactions (DESIGN.md section 3): claims, the attempt committed
/// before any request, outcomes, leases that ran out, verification of `unknown` posts.
public protocol PostingStore: PostStore {
    /// Leases the earliest due post of `account`, or nil.
    func claimDue(owner: String, now: Int64, leaseMillis: Int64, account: String) throws(StoreError) -> Post?
    /// Commits the attempt before any request (intent before effect). Only the lease owner may.
    func beginAttempt(postId: String, owner: String, idempotencyKey: String, adapter: String, now: Int64, leaseMillis: Int64,
                      attemptId: String?) throws(StoreError) -> Attempt
    /// Records how an attempt ended, and moves the post accordingly, in one transaction.
    func recordOutcome(postId: String, attemptId: String, outcome: AttemptOutcome, now: Int64) throws(StoreError) -> Post
    /// Leases that ran out (or whose holders are known dead), moved by `LeaseExpiry`.
    func expireLeases(now: Int64, poisonLimit: Int, countLoss: Bool, deadOwners: [String]) throws(StoreError) -> [(id: String, from: PostState, to: PostState)]
    /// Everyone holding a lease on a post (claimed or attempting), expired or not.
    func leaseOwners() throws(StoreError) -> [String]
    /// Gives a claim back without attempting: `claimed → scheduled`. Only the lease owner may.
    @discardableResult
    func release(postId: String, owner: String, now: Int64, reason: String?, retryAt: Int64?) throws(StoreError) -> Post
    /// Moves a claim's lease to `now + leaseMillis` while its holder works before the attempt
    /// (uploading media): false when the post is no longer `claimed` by `owner`.
    func extendClaim(postId: String, owner: String, now: Int64, leaseMillis: Int64) throws(StoreError) -> Bool
    /// The earliest due time of each account's scheduled posts.
    func nextDueByAccount() throws(StoreError) -> [String: Int64]
    /// The earliest verification time of each account's `unknown` posts.
    func nextVerificationByAccount() throws(StoreError) -> [String: Int64]
    /// When the next lease runs out.
    func nextLeaseExpiry() throws(StoreError) -> Int64?
    /// The start of the oldest attempt of `account` at or after `since`.
    func oldestAttemptStarted(account: String, since: Int64) throws(StoreError) -> Int64?
    /// Whether another post of `account` already holds `platformId`.
    func platformIdTaken(_ platformId: String, account: String, excluding postId: String) throws(StoreError) -> Bool
    /// Takes up to `limit` `unknown` posts of `account` due for verification, under a
    /// verification lease (no state change).
    func claimVerifications(account: String, now: Int64, leaseMillis: Int64, limit: Int) throws(StoreError) -> [VerificationJob]
    /// Records a verification in one transaction, as `VerificationEffect` says.
    @discardableResult
    func recordVerification(postId: String, attemptId: String?, result: VerificationResult, now: Int64) throws(StoreError) -> Post
}

extension PostingStore {
    public func beginAttempt(postId: String, owner: String, idempotencyKey: String, adapter: String, now: Int64, leaseMillis: Int64,
                             attemptId: String? = nil) throws(StoreError) -> Attempt {
        try beginAttempt(postId: postId, owner: owner, idempotencyKey: idempotencyKey, adapter: adapter, now: now, leaseMillis: leaseMillis,
                         attemptId: attemptId)
    }

    public func expireLeases(now: Int64, poisonLimit: Int = 2, countLoss: Bool = true, deadOwners: [String] = []) throws(StoreError) -> [(id: String, from: PostState, to: PostState)] {
        try expireLeases(now: now, poisonLimit: poisonLimit, countLoss: countLoss, deadOwners: deadOwners)
    }

    @discardableResult
    public func release(postId: String, owner: String, now: Int64, reason: String? = nil, retryAt: Int64? = nil) throws(StoreError) -> Post {
        try release(postId: postId, owner: owner, now: now, reason: reason, retryAt: retryAt)
    }

    /// Leases up to `limit` due posts to `owner`, earliest first, each through the per-account
    /// claim (one transaction per post, checked by `PostTransitions`). For tools and tests that
    /// want several at once; the engine claims per account.
    public func claimDue(owner: String, now: Int64, leaseMillis: Int64, limit: Int, accounts: Set<String>? = nil) throws(StoreError) -> [Post] {
        var claimed: [Post] = []
        while claimed.count < limit {
            let due = try nextDueByAccount().filter { $0.value <= now && (accounts?.contains($0.key) ?? true) }
            guard let account = due.min(by: { ($0.value, $0.key) < ($1.value, $1.key) })?.key,
                  let post = try claimDue(owner: owner, now: now, leaseMillis: leaseMillis, account: account) else { break }
            claimed.append(post)
        }
        return claimed
    }
}

/// Posts' attachments (written with the post by `insert`) and their uploads to platforms.
public protocol AttachmentStore: AnyObject, Sendable {
    /// Each post's attachments in order; posts without any are absent.
    func attachments(postIds: [String]) throws(StoreError) -> [String: [MediaAttachment]]
    /// The upload handles kept for a post, by position.
    func mediaUploads(postId: String) throws(StoreError) -> [MediaUpload]
    /// Records (or replaces) one upload's handle and progress; returns once committed.
    func saveMediaUpload(_ upload: MediaUpload) throws(StoreError)
    /// Forgets one upload (expired, or refused by the platform): the next attempt uploads again.
    func dropMediaUpload(postId: String, position: Int) throws(StoreError)
    /// Hashes the media store must keep: attachments of posts not final (posted, failed,
    /// cancelled), or final but last changed at or after `finalSince` (the grace).
    func referencedMedia(finalSince: Int64) throws(StoreError) -> Set<String>
}

extension AttachmentStore {
    /// One post's attachments in order.
    public func attachments(postId: String) throws(StoreError) -> [MediaAttachment] {
        try attachments(postIds: [postId])[postId] ?? []
    }
}

/// What a process keeps per account across restarts: rotated session tokens, a pause, the
/// circuit breaker (`account_state`).
public protocol AccountStore: AnyObject, Sendable {
    func accountStates() throws(StoreError) -> [String: AccountState]
    /// One account's stored tokens (nil when none were stored).
    func tokens(account: String) throws(StoreError) -> String?
    /// Stores rotated tokens; returns once committed.
    func saveTokens(account: String, tokens: String, now: Int64) throws(StoreError)
    /// Pauses the account until `until` (nil: no pause) for `reason`.
    func setPause(account: String, until: Int64?, reason: String?, now: Int64) throws(StoreError)
    func saveBreaker(account: String, breaker: String, now: Int64) throws(StoreError)
}

/// The HTTP API's bearer tokens (their hashes only).
public protocol APITokenStore: AnyObject, Sendable {
    func createToken(name: String, hash: String, now: Int64) throws(StoreError)
    func tokens() throws(StoreError) -> [APIToken]
    func revokeToken(name: String, now: Int64) throws(StoreError)
    func activeToken(hash: String) throws(StoreError) -> APIToken?
    func touchToken(hash: String, now: Int64) throws(StoreError)
}

/// The metrics worker's scrape schedules and samples.
public protocol MetricsStore: AnyObject, Sendable {
    func unscheduledPostedItems(limit: Int) throws(StoreError) -> [PostedItem]
    @discardableResult
    func scheduleMetrics(_ item: PostedItem, step: Int, nextAt: Int64, now: Int64) throws(StoreError) -> Bool
    func dueMetricItems(now: Int64, limit: Int) throws(StoreError) -> [MetricItem]
    func nextMetricDue() throws(StoreError) -> Int64?
    func metricItem(postId: String) throws(StoreError) -> MetricItem?
    func recordSample(_ sample: MetricSample, nextStep: Int?, nextAt: Int64?, now: Int64) throws(StoreError)
    func recordScrapeFailure(postId: String, error: String, retryAt: Int64?, now: Int64) throws(StoreError)
    func metricSamples(postId: String) throws(StoreError) -> [MetricSample]
    func metricItemCounts() throws(StoreError) -> [String: Int]
    func failedMetricItems(limit: Int) throws(StoreError) -> [MetricItem]
}

/// The replies worker's mentions and its reply quota.
public protocol MentionsStore: AnyObject, Sendable {
    func seenMentionIds(account: String, among ids: [String]) throws(StoreError) -> Set<String>
    @discardableResult
    func insertMention(_ m: StoredMention) throws(StoreError) -> Bool
    func mention(account: String, mentionId: String) throws(StoreError) -> StoredMention?
    func mentionsToAnswer(now: Int64, limit: Int) throws(StoreError) -> [StoredMention]
    func nextMentionTry() throws(StoreError) -> Int64?
    /// Fails closed (throws) when the quota cannot be read (F18).
    func reserveReply(account: String, mentionId: String, limit: Int, windowMillis: Int64, now: Int64) throws(StoreError) -> ReplyReservation
    func repliesReserved(account: String, since: Int64) throws(StoreError) -> Int
    func replyPost(account: String, inReplyTo target: String) throws(StoreError) -> String?
    func setReplyText(account: String, mentionId: String, text: String, now: Int64) throws(StoreError)
    func markReplyEnqueued(account: String, mentionId: String, postId: String, now: Int64) throws(StoreError)
    func markReplyRetry(account: String, mentionId: String, error: String, errorClass: String, retryAt: Int64, countsAsTry: Bool, now: Int64) throws(StoreError)
    func markReplyFailed(account: String, mentionId: String, reason: String, errorClass: String, now: Int64) throws(StoreError)
    func mentionCounts() throws(StoreError) -> [String: Int]
    func mentions(account: String?, limit: Int) throws(StoreError) -> [StoredMention]
}

/// The reconciler's reads and fixes: candidates for a timeline, posts found live (through
/// `PostTransitions`), foreign posts, duplicate findings, run reports.
public protocol ReconcileStore: AnyObject, Sendable {
    func reconcileCandidates(account: String, since: Int64, platformIds: [String]) throws(StoreError) -> [ReconcileCandidate]
    /// `unknown`, `failed` or `parked` → `posted`; `conflict` when the post is no longer `expected`.
    @discardableResult
    func markLive(postId: String, platformId: String, expected: PostState, evidence: String, now: Int64) throws(StoreError) -> Post
    func foreignPostIds(account: String) throws(StoreError) -> Set<String>
    func foreignPosts(account: String?) throws(StoreError) -> [ForeignPost]
    @discardableResult
    func recordForeign(_ posts: [ForeignPost], now: Int64) throws(StoreError) -> Int
    @discardableResult
    func recordDuplicates(_ findings: [DuplicateFinding], now: Int64) throws(StoreError) -> Int
    func duplicateFindings(account: String?) throws(StoreError) -> [DuplicateFinding]
    func saveReconcileRun(_ run: ReconcileRun) throws(StoreError)
    /// The latest runs, newest first.
    func reconcileRuns(limit: Int) throws(StoreError) -> [ReconcileRun]
}

extension ReconcileStore {
    public func foreignPosts(account: String? = nil) throws(StoreError) -> [ForeignPost] { try foreignPosts(account: account) }
    public func duplicateFindings(account: String? = nil) throws(StoreError) -> [DuplicateFinding] { try duplicateFindings(account: account) }
    public func reconcileRuns(limit: Int = 20) throws(StoreError) -> [ReconcileRun] { try reconcileRuns(limit: limit) }
}

/// Read-only figures for the operator surface (health, `/metrics`, the dashboard).
public protocol FiguresStore: AnyObject, Sendable {
    func settledCounts(since: Int64) throws(StoreError) -> [PostState: Int]
    func averageDueToPosted(since: Int64) throws(StoreError) -> Int64?
    func stuckPosts(now: Int64, after: Int64) throws(StoreError) -> Int
    func verificationTally(since: Int64, overdueBefore: Int64) throws(StoreError) -> (verified: Int, overdue: Int)
    func postedPerHour(since: Int64) throws(StoreError) -> [Int64: Int]
    func postLatencyHistogram(bounds: [Int64]) throws(StoreError) -> (cumulative: [Int], count: Int, sumMillis: Int64)
    func attemptOutcomes() throws(StoreError) -> [String: Int]
    func recentFailures(limit: Int) throws(StoreError) -> [Post]
}

/// What the posting worker uses: the contract, and its accounts' persisted state.
public typealias PostingWorkerStore = PostingStore & AccountStore & AttachmentStore

/// Every concern at once: what `Stores.open` returns.
public typealias Store = PostingStore & AccountStore & AttachmentStore & APITokenStore & MetricsStore & MentionsStore & ReconcileStore & FiguresStore

/// Where a store backend is chosen.
public enum Stores {
    /// The daemon's store at `path` (SQLite; migrated on open).
    public static func open(path: String, busyTimeoutMillis: Int32 = 5000) throws(StoreError) -> any Store {
        try SQLitePostStore(path: path, busyTimeoutMillis: busyTimeoutMillis)
    }
}

/// Fresh ids the callers derive idempotency material from before the store commits them.
public enum StoreIds {
    /// An attempt id, for callers that derive idempotency material from it before
    /// `beginAttempt` commits it.
    public static func newAttemptId() -> String { newId("a_") }
    /// A reconcile run's id.
    public static func newRunId() -> String { newId("r_") }

    static func newId(_ prefix: String) -> String {
        var rng = SystemRandomNumberGenerator()
        let hex = String(rng.next() as UInt64, radix: 16)
        return prefix + String(repeating: "0", count: 16 - hex.count) + hex
    }
}
