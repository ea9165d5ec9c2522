import Glibc
import SteadyCore
import SteadyStore

/// `steadypost-bench claim-race DB OWNER READY_FILE [BUSY_MS]`: the posting worker's claim
/// path in a process of its own, for the process-level F06/F16 tests (several of these race
/// on one database file). Opens the store with a busy timeout of BUSY_MS (default the
/// store's 5 s; a short one makes a lock held by another process surface as SQLITE_BUSY, so
/// the store's retry layer has to replay), creates READY_FILE, then claims one due post at a
/// time, begins its attempt, waits 2 ms (the request), and records it published as
/// `OWNER/POST_ID`, until nothing is left to claim. Prints `claimed POST_ID` per post and
/// `retries N` (transactions the retry layer replayed) at the end; exits 1 with the error if
/// a store call fails for good.
enum ClaimRace {
    static func run(db: String, owner: String, readyFile: String, busyMillis: Int32) {
        let store: SQLitePostStore
        do { store = try SQLitePostStore(path: db, busyTimeoutMillis: busyMillis) } catch { die("claim-race: cannot open \(db): \(error)") }
        let fd = open(readyFile, O_WRONLY | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { die("claim-race: cannot create \(readyFile)") }
        close(fd)
        var lines: [String] = []
        do {
            while true {
                let now = SteadyClock.wallMillis()
                // The posting engine's claim: the account's earliest due post, through PostTransitions.
                guard let account = try store.nextDueByAccount().filter({ $0.value <= now }).min(by: { $0.value < $1.value })?.key,
                      let post = try store.claimDue(owner: owner, now: now, leaseMillis: 600_000, account: account) else { break }
                let attempt = try store.beginAttempt(postId: post.id, owner: owner, idempotencyKey: StoreIds.newAttemptId(),
                                                     adapter: "bench", now: now, leaseMillis: 600_000)
                // The platform request would take this long; no lock is held meanwhile, so
                // the other claimers interleave as other posting workers would.
                var request = timespec(tv_sec: 0, tv_nsec: 2_000_000)
                nanosleep(&request, nil)
                _ = try store.recordOutcome(postId: post.id, attemptId: attempt.id, outcome: .published(platformId: "\(owner)/\(post.id)"),
                                            now: SteadyClock.wallMillis())
                lines.append("claimed \(post.id)")
            }
        } catch {
            for line in lines { out(line) }
            die("claim-race: \(owner): \(error)")
        }
        for line in lines { out(line) }
        out("retries \(store.transientRetries)")
    }
}
