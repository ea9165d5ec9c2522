import Glibc
import Logging
import SteadyConfig
import SteadyCore
import SteadyMedia
import SteadyPlatforms
import SteadyStore
import SteadyTokens
import SteadySystem
import SteadyWorker

/// The posting worker (DESIGN.md section 3): claims due posts, runs each attempt on its own
/// thread, records outcomes (or journals them), verifies `unknown` posts, and keeps per-account
/// pauses, quotas and circuit breakers. Driven by `WorkerRuntime`'s loop: claim rounds run in
/// `tick` when a post may be due, a job finished or a post was created; job threads report
/// through a pipe in the loop's epoll set; `wakeAt` is the next time anything can become
/// claimable, never a polling interval.
///
/// Threading: everything here runs on the loop thread except the job bodies
/// (`AttemptRunner`, `Verifier`), which touch only the store (locked), the journal (locked)
/// and their account's adapter (one job per account at a time).
public final class PostingEngine: WorkerRole {
    let config: Config
    public let settings: PostingSettings
    let store: any PostingWorkerStore
    let journal: OutcomeJournal
    /// The lease owner: `posting:<pid>` (another name if its life lock could not be taken).
    let owner: String
    var logger: Logger
    let slots: [AccountSlot]
    let slotByName: [String: AccountSlot]
    let completions: LoopInbox<JobResult>
    /// Test fault points (`STEADYPOST_FAULTS`); nil, and never consulted, without the variable.
    let faults: PostingFaults?
    /// Browser-mode accounts post through the browser worker (`BrowserSubmitAdapter`).
    let browserLink: BrowserSubmitLink

    /// Jobs running.
    var running = 0
    var draining = false
    /// Run a claim round at the next tick (a post was created, a job finished, start).
    var roundNeeded = true
    /// The previous worker's lease owner while its leases are still to be expired (it is
    /// known dead: `PostingSettings.predecessorOwner`); nil once done.
    lazy var deadPredecessor: String? = settings.predecessorOwner
    /// Held for this worker's whole life: a successor that can take it knows this worker is
    /// dead and ends its leases at once (`PostingEngine+LeaseOwners.swift`). nil if it could
    /// not be taken: then successors wait this worker's leases out.
    let lifeLock: LifeLock?
    /// Where the posting workers' life locks live: `<state_dir>/owners`.
    let ownersDir: String
    /// When to look at other lease holders' life locks next: at the first round, then every
    /// second while one of them still lives; nil otherwise.
    var ownerCheckAt: Int64? = 0
    /// Life locks of workers gone without leases are removed once, at the first look.
    var ownersSwept = false
    /// Wall time of the next planned round.
    var nextRoundAt: Int64?
    /// Consecutive rounds the store failed in (retried with backoff: the store's recovery).
    var storeFailures = 0
    /// Where the next claim round starts in `slots` (fairness between accounts).
    var rotation = 0
    var stats = Stats()
    /// Large batches arriving in chunks (`posting.create` with `stage`).
    var staging = BatchStaging()
    /// The media store: `posting.media_put` copies, the hashes `create` names, the sweep.
    let mediaIntake: MediaIntake
    /// Accounts in the store but not in the config: reported once.
    var unconfiguredReported: Set<String> = []

    struct Stats {
        var posted: Int64 = 0
        var failed: Int64 = 0
        var unknown: Int64 = 0
        var retried: Int64 = 0
        var verifiedPosted: Int64 = 0
        var verifiedAbsent: Int64 = 0
        var undecided: Int64 = 0
        var journaled: Int64 = 0
        var lost: Int64 = 0
        var quotaHeld: Int64 = 0
        var rateLimited: Int64 = 0
        var authPaused: Int64 = 0
        var refreshed: Int64 = 0
        var leasesExpired: Int64 = 0
        /// Looks at other lease holders' life locks.
        var ownerChecks: Int64 = 0
        var replayed: Int64 = 0
        var storeErrors: Int64 = 0
    }

    /// Opens the store and the journal in `daemon.state_dir`, loads every account's
    /// credentials and persisted state. Throws when the store cannot be opened (the
    /// supervisor restarts the worker with backoff).
    public init(config: Config, environment: [String: String], logger: Logger) throws {
        self.config = config
        self.logger = logger
        settings = PostingSettings.from(config: config, environment: environment)
        let dir = config.daemon.stateDir
        try Self.makeDirectory(dir)
        let dbPath = dir + "/steadypost.db"
        let opened = try Stores.open(path: dbPath)
        // The store holds rotated tokens: owner-only, like the credentials files.
        for suffix in ["", "-wal", "-shm"] { _ = chmod(dbPath + suffix, 0o600) }
        journal = OutcomeJournal(path: dir + "/outcomes.journal")
        ownersDir = dir + "/owners"
        (owner, lifeLock) = Self.takeLifeLock(pid: getpid(), dir: ownersDir, logger: logger)
        completions = try LoopInbox()
        faults = try PostingFaults.from(environment: environment, stateDir: dir)
        if let faults {
            store = FaultInjectingStore(opened) { [faults] in faults.storeWriteFailure() }
            logger.warning("test fault points armed (\(PostingFaults.variable)): \(faults.summary)")
        } else {
            store = opened
        }
        browserLink = BrowserSubmitLink(config: config, settings: settings)
        mediaIntake = try MediaIntake(directory: dir + "/media", chunkSize: config.media.chunkBytes,
                                      retainAfterFinalMs: config.media.retainAfterFinalMs, now: SteadyClock.wallMillis())

        let states = try store.accountStates()
        let now = SteadyClock.wallMillis()
        var slots: [AccountSlot] = []
        for account in config.accounts {
            let state = states[account.name]
            var pause = AccountPause.parse(until: state?.pausedUntil, stored: state?.pauseReason)
            if let p = pause, p.kind == .auth || p.until <= now {
                // A restart re-reads the credentials: the next attempt tests them again.
                pause = nil
                try? store.setPause(account: account.name, until: nil, reason: nil, now: now)
            }
            let credentials = CredentialsLoader.load(account, config: config)
            if case .failure(let e) = credentials {
                logger.error("account cannot post: \(e)", metadata: ["ACCOUNT": "\(account.name)"])
            }
            slots.append(AccountSlot(config: account, credentials: credentials, storedTokens: state?.tokens,
                                     breaker: CircuitBreaker.restored(json: state?.breaker, base: settings.breaker), pause: pause,
                                     httpOptions: settings.httpOptions, browser: browserLink, store: store, stateDir: dir, logger: logger))
        }
        self.slots = slots
        slotByName = Dictionary(uniqueKeysWithValues: slots.map { ($0.name, $0) })
    }

    static func makeDirectory(_ path: String) throws {
        var prefix = ""
        for part in path.split(separator: "/") {
            prefix += "/" + part
            if mkdir(prefix, 0o700) != 0 && errno != EEXIST {
                throw PostingStartError("mkdir \(prefix): \(String(cString: strerror(errno)))")
            }
        }
    }

    // MARK: - WorkerRole

    /// Sent once, with `ready`: so it says what the worker does, not figures that go stale
    /// (those travel in every heartbeat's counters).
    public var summary: String {
        let accounts = slots.map { "\($0.platform.rawValue):\($0.name)\($0.credentialsError == nil ? "" : " (no credentials)")" }
        return "posting for \(slots.count) account(s) [\(accounts.joined(separator: ", "))]; concurrency \(settings.concurrency)"
    }

    public var inFlight: Int { running }

    public var counters: [String: Int64] {
        [
            "posted": stats.posted, "failed": stats.failed, "unknown": stats.unknown, "retried": stats.retried,
            "verified_posted": stats.verifiedPosted, "verified_absent": stats.verifiedAbsent, "undecided": stats.undecided,
            "journaled": stats.journaled, "outcomes_lost": stats.lost, "quota_held": stats.quotaHeld,
            "rate_limited": stats.rateLimited, "auth_paused": stats.authPaused, "refreshed": stats.refreshed,
            "leases_expired": stats.leasesExpired, "lease_owner_checks": stats.ownerChecks, "replayed": stats.replayed, "store_errors": stats.storeErrors,
            "in_flight": Int64(running),
        ].merging(stateFigures) { a, _ in a }
    }

    /// The figures `steadypost status` shows for posting, read fresh for each heartbeat:
    /// posts waiting or in flight, unknown and parked posts, open breakers, paused accounts.
    var stateFigures: [String: Int64] {
        var out: [String: Int64] = [
            "open_breakers": Int64(slots.filter { $0.breaker.state != .closed }.count),
            "paused_accounts": Int64(slots.filter { $0.isPaused(now: SteadyClock.wallMillis()) }.count),
        ]
        if let counts = try? store.counts() {
            out["queue_depth"] = Int64((counts[.scheduled] ?? 0) + (counts[.claimed] ?? 0) + (counts[.attempting] ?? 0))
            out["unknown_posts"] = Int64(counts[.unknown] ?? 0)
            out["parked_posts"] = Int64(counts[.parked] ?? 0)
        }
        return out
    }

    public func beginDrain() {
        draining = true
        nextRoundAt = nil
        roundNeeded = false
        logger.info("draining: no new claims; \(running) job(s) finishing")
    }

    public var drained: Bool { draining && running == 0 && mediaIntake.running == 0 }

    public var watchedDescriptors: [Int32] { [completions.readFd, mediaIntake.done.readFd] }

    public func readable(_ fd: Int32) {
        if fd == mediaIntake.done.readFd { return mediaIntake.drainFinished(logger: logger) }
        guard fd == completions.readFd else { return }
        for result in completions.drain() { finished(result) }
    }

    public var wakeAt: Int64? {
        if draining { return nil }
        let mono = SteadyClock.monotonicMillis()
        if roundNeeded { return mono }
        let wall = SteadyClock.wallMillis()
        let at = min(nextRoundAt ?? .max, mediaIntake.nextSweepAt)
        return mono + max(0, at - wall)
    }

    public func tick(now: Int64) {
        guard !draining else { return }
        let wall = SteadyClock.wallMillis()
        if roundNeeded || (nextRoundAt.map { wall >= $0 } ?? false) {
            roundNeeded = false
            round(now: wall)
        }
        if wall >= mediaIntake.nextSweepAt { sweepMedia(now: wall) }
    }

    public func start(context: WorkerContext) {
        browserLink.attach(context.outbox)
        mediaIntake.replies = context.replies
        start(logger: context.logger, replies: context.replies)
    }

    public func start(logger: Logger) {
        self.logger = logger
        logger.info("posting engine started: owner \(owner), lease \(settings.leaseMillis) ms, request timeout \(settings.httpTimeoutMillis) ms, concurrency \(settings.concurrency); leases the previous worker lost \(settings.leaseLossIsEvidence ? "count" : "do not count") toward poison parking\(settings.predecessorOwner.map { "; the previous worker (\($0)) is dead: its leases end now" } ?? "")")
        roundNeeded = true
    }

    // MARK: - Claim rounds

    /// One round: replay the journal, expire leases, then start what may start.
    func round(now: Int64) {
        // 1. The journal before any claim (DESIGN.md 3.3).
        do {
            let replay = try journal.replay(into: store, now: now)
            if replay.applied > 0 || !replay.skipped.isEmpty {
                stats.replayed += Int64(replay.applied)
                logger.notice("outcome journal replayed: \(replay.applied) applied\(replay.skipped.isEmpty ? "" : "; skipped: " + replay.skipped.joined(separator: "; "))")
            }
        } catch {
            return storeTrouble("cannot replay the outcome journal into the store; no claims until it is", error)
        }
        // 2. Leases that ran out: a worker died holding them.
        do {
            var dead = deadPredecessor.map { [$0] } ?? []
            if let at = ownerCheckAt, now >= at { dead += try provenDeadOwners(now: now) }
            for moved in try store.expireLeases(now: now, poisonLimit: settings.poisonLimit, countLoss: settings.leaseLossIsEvidence,
                                                deadOwners: dead) {
                stats.leasesExpired += 1
                let meta: Logger.Metadata = ["POST_ID": "\(moved.id)"]
                switch moved.to {
                case .parked: logger.error("parked: its worker died holding it \(settings.poisonLimit) times (poison)", metadata: meta)
                case .unknown: logger.warning("lease expired while attempting: unknown, verification follows", metadata: meta)
                default: logger.notice("lease expired while \(moved.from.rawValue): \(moved.to.rawValue) again", metadata: meta)
                }
            }
            deadPredecessor = nil
            for other in dead { LifeLock.remove(lifeLockPath(other)) }
        } catch {
            return storeTrouble("cannot expire leases", error)
        }
        guard !draining else { return }
        // 3. Start what may start.
        let due: [String: Int64]
        let verify: [String: Int64]
        do {
            due = try store.nextDueByAccount()
            verify = try store.nextVerificationByAccount()
        } catch {
            return storeTrouble("cannot read the schedule", error)
        }
        reportUnconfigured(Set(due.keys).union(verify.keys))
        let order = slots.indices.map { slots[($0 + rotation) % max(1, slots.count)] }
        rotation = slots.isEmpty ? 0 : (rotation + 1) % slots.count
        for slot in order {
            guard running < settings.concurrency else { break }
            guard !slot.busy, slot.adapter != nil else { continue }
            if let pause = slot.pause {
                if pause.until > now { continue }
                resume(slot, now: now)
            }
            if let v = verify[slot.name], v <= now {
                let jobs: [VerificationJob]
                do { jobs = try store.claimVerifications(account: slot.name, now: now, leaseMillis: settings.leaseMillis, limit: 1) } catch {
                    return storeTrouble("cannot take unknown posts for verification", error)
                }
                if let job = jobs.first {
                    // If no thread can start, the verification lease runs out and it is taken again.
                    launch(slot, onFailure: {}) { [runner = verifier] in runner.run(job, slot: slot) }
                    continue
                }
            }
            guard let d = due[slot.name], d <= now else { continue }
            // Quotas fail closed: if they cannot be read, nothing is claimed at all.
            do {
                if let until = try quotaBlock(slot, now: now) {
                    if slot.quotaBlockedUntil != until {
                        stats.quotaHeld += 1
                        logger.notice("quota used up; next attempt at \(until)", metadata: ["ACCOUNT": "\(slot.name)"])
                    }
                    slot.quotaBlockedUntil = until
                    continue
                }
                slot.quotaBlockedUntil = nil
            } catch {
                return storeTrouble("cannot count attempts for the quotas; nothing is claimed (quotas fail closed)", error)
            }
            guard slot.breaker.wouldAllow(now: now) else { continue }
            let post: Post?
            do { post = try store.claimDue(owner: owner, now: now, leaseMillis: settings.leaseMillis, account: slot.name) } catch {
                return storeTrouble("cannot claim", error)
            }
            guard let post else { continue }
            let before = slot.breaker
            _ = slot.breaker.allow(now: now)
            if slot.breaker != before { persistBreaker(slot, now: now) }
            launch(slot, onFailure: { [store, owner] in
                // Nothing was sent: give the claim back rather than let it count as a lost lease.
                _ = try? store.release(postId: post.id, owner: owner, now: now, reason: "no job thread could start", retryAt: now + 5_000)
            }) { [runner = attemptRunner] in runner.run(post, slot: slot) }
        }
        if storeFailures > 0 {
            logger.notice("the store answers again after \(storeFailures) failed round(s)")
            storeFailures = 0
        }
        plan(now: now)
    }

    /// Sets `nextRoundAt` from fresh figures.
    func plan(now: Int64) {
        do {
            let due = try store.nextDueByAccount()
            let verify = try store.nextVerificationByAccount()
            let lease = try store.nextLeaseExpiry()
            let views = slots.map { slot in
                WakePlanner.Account(busy: slot.busy, usable: slot.adapter != nil, pausedUntil: slot.pause?.until,
                                    quotaBlockedUntil: slot.quotaBlockedUntil,
                                    breakerBlockedUntil: slot.breaker.state == .open ? slot.breaker.reopensAt : nil,
                                    nextDue: due[slot.name], nextVerification: verify[slot.name])
            }
            nextRoundAt = [WakePlanner.next(now: now, accounts: views, capacityFull: running >= settings.concurrency, nextLeaseExpiry: lease),
                           ownerCheckAt].compactMap { $0 }.min()
        } catch {
            storeTrouble("cannot read the schedule", error)
        }
    }

    /// The store failed: no claims this round; try again with backoff (100 ms doubling to
    /// 30 s), which is also how the journal gets replayed once the store recovers.
    func storeTrouble(_ what: String, _ error: any Error) {
        storeFailures += 1
        stats.storeErrors += 1
        let delay = min(30_000, Int64(100) << Int64(min(storeFailures - 1, 9)))
        nextRoundAt = SteadyClock.wallMillis() + delay
        logger.error("\(what): \(error); next try in \(delay) ms")
    }

    /// When the account's quota lets the next attempt go, or nil if it does now. Counted from
    /// attempts started in the window, unknown outcomes included (DESIGN.md 3.7).
    func quotaBlock(_ slot: AccountSlot, now: Int64) throws(StoreError) -> Int64? {
        let quota = slot.config.quota
        for (limit, window) in [(quota.hourly, settings.hourMillis), (quota.daily, settings.dayMillis)] {
            let since = now - window + 1
            if try store.attemptsStarted(account: slot.name, since: since) >= limit {
                let oldest = try store.oldestAttemptStarted(account: slot.name, since: since) ?? now
                return max(oldest + window, now + 1)
            }
        }
        return nil
    }

    var attemptRunner: AttemptRunner {
        AttemptRunner(store: store, journal: journal, settings: settings, owner: owner, logger: logger, faults: faults, media: mediaIntake.store)
    }
    var verifier: Verifier { Verifier(store: store, journal: journal, settings: settings, logger: logger) }

    /// Hands the slot to a new thread running `body`; `onFailure` if no thread starts.
    func launch(_ slot: AccountSlot, onFailure: () -> Void, _ body: @escaping @Sendable () -> JobResult) {
        slot.busy = true
        running += 1
        do {
            try completions.run(body)
        } catch {
            slot.busy = false
            running -= 1
            logger.critical("cannot start a job thread: \(error)", metadata: ["ACCOUNT": "\(slot.name)"])
            onFailure()
        }
    }

    // MARK: - Results

    func finished(_ r: JobResult) {
        running -= 1
        roundNeeded = !draining
        guard let slot = slotByName[r.account] else { return }
        slot.busy = false
        let now = SteadyClock.wallMillis()
        switch r.event {
        case .posted: stats.posted += 1
        case .failed: stats.failed += 1
        case .unknown: stats.unknown += 1
        case .retry: stats.retried += 1
        case .verifiedPosted: stats.verifiedPosted += 1
        case .verifiedAbsent: stats.verifiedAbsent += 1
        case .undecided: stats.undecided += 1
        case .notStarted: break
        }
        switch r.recording {
        case .journal: stats.journaled += 1
        case .lost: stats.lost += 1
        case .store, .conflict, .none: break
        }
        if r.refreshed { stats.refreshed += 1 }
        do {
            // Attempts and verifications both speak for the platform's health (JobResult.health).
            let before = slot.breaker
            slot.breaker.record(r.health, now: now)
            if slot.breaker != before {
                persistBreaker(slot, now: now)
                if slot.breaker.state == .open, before.state != .open {
                    logger.error("circuit breaker open for \(slot.breaker.openMillis) ms after unhealthy answers", metadata: ["ACCOUNT": "\(slot.name)"])
                } else if slot.breaker.state == .closed, before.state != .closed {
                    logger.notice("circuit breaker closed again", metadata: ["ACCOUNT": "\(slot.name)"])
                }
            }
        }
        if let pause = r.pause {
            apply(pause, to: slot, now: now)
        } else if slot.pause?.kind == .auth, r.refreshed || r.event == .posted {
            resume(slot, now: now)
        }
    }

    func apply(_ pause: AccountPause, to slot: AccountSlot, now: Int64) {
        slot.pause = pause
        let meta: Logger.Metadata = ["ACCOUNT": "\(slot.name)", "PLATFORM": "\(slot.platform.rawValue)"]
        switch pause.kind {
        case .rateLimit:
            stats.rateLimited += 1
            logger.notice("rate limited: account paused until \(pause.until): \(pause.reason)", metadata: meta)
        case .auth:
            stats.authPaused += 1
            logger.critical("ALERT: account paused until \(pause.until) (other accounts go on): \(pause.reason)", metadata: meta)
        }
        do { try store.setPause(account: slot.name, until: pause.until, reason: pause.stored, now: now) } catch {
            logger.error("cannot persist the pause (it holds in this process): \(error)", metadata: meta)
        }
    }

    func resume(_ slot: AccountSlot, now: Int64) {
        guard slot.pause != nil else { return }
        slot.pause = nil
        logger.notice("account resumed", metadata: ["ACCOUNT": "\(slot.name)"])
        do { try store.setPause(account: slot.name, until: nil, reason: nil, now: now) } catch {
            logger.error("cannot clear the persisted pause: \(error)", metadata: ["ACCOUNT": "\(slot.name)"])
        }
    }

    func persistBreaker(_ slot: AccountSlot, now: Int64) {
        do { try store.saveBreaker(account: slot.name, breaker: slot.breaker.json, now: now) } catch {
            logger.error("cannot persist the circuit breaker: \(error)", metadata: ["ACCOUNT": "\(slot.name)"])
        }
    }

    func reportUnconfigured(_ accounts: Set<String>) {
        for name in accounts where slotByName[name] == nil && !unconfiguredReported.contains(name) {
            unconfiguredReported.insert(name)
            logger.warning("posts for account '\(name)' wait: it is not in the config")
        }
    }
}
