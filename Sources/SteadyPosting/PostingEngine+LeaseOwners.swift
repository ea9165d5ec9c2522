import Logging
import SteadyCore
import SteadyStore
import SteadySystem

/// Other workers' leases, ended as soon as their holders are provably dead. Each posting
/// worker holds a life lock (`<state_dir>/owners/posting:PID.lock`) while it lives. After a
/// supervisor restart (systemd kills the old workers with it) the new worker finds leases
/// held by `posting:OLDPID`; the supervisor cannot vouch for that process (it never reaped
/// it), but its free life lock can: its leases end at once, so a post that was in flight is
/// verified, and a claimed one posted, now instead of when the lease runs out. A holder
/// whose lock is still held is looked at again every second; one with no lock file here
/// (no proof either way) keeps its leases until they run out.
extension PostingEngine {
    /// The lease owner name and its life lock. Without the lock the name gets a suffix no
    /// lock file will ever carry, so no successor can mistake this live worker for a dead
    /// one of the same pid; its leases are then waited out.
    static func takeLifeLock(pid: Int32, dir: String, logger: Logger) -> (owner: String, lock: LifeLock?) {
        let owner = "posting:\(pid)"
        do {
            try makeDirectory(dir)
            return (owner, try LifeLock(path: dir + "/" + owner + ".lock"))
        } catch {
            let unlocked = owner + "-unlocked-\(SteadyClock.monotonicMillis())"
            logger.warning("no life lock in \(dir) (\(error)); leasing as \(unlocked): after this worker dies, its successor waits its leases out")
            return (unlocked, nil)
        }
    }

    func lifeLockPath(_ owner: String) -> String { ownersDir + "/" + owner + ".lock" }

    /// The other lease holders whose life locks are free. Sets when to look again.
    func provenDeadOwners(now: Int64) throws(StoreError) -> [String] {
        stats.ownerChecks += 1
        let holders = Set(try store.leaseOwners()).subtracting([owner] + (deadPredecessor.map { [$0] } ?? []))
        var dead: [String] = []
        var living: [String] = []
        for other in holders.sorted() {
            switch LifeLock.holder(of: lifeLockPath(other)) {
            case .gone: dead.append(other)
            case .alive: living.append(other)
            case .unknown: break
            }
        }
        if !ownersSwept {
            ownersSwept = true
            // Workers that ended holding nothing: their files go (only if their locks are free).
            for file in Files.list(ownersDir) ?? [] where file.hasSuffix(".lock") {
                let name = String(file.dropLast(5))
                if name != owner && !holders.contains(name) { LifeLock.remove(ownersDir + "/" + file) }
            }
        }
        for other in dead {
            logger.notice("the worker \(other) is gone (its life lock is free): its leases end now")
        }
        if !living.isEmpty && ownerCheckAt == 0 {
            logger.info("leases held by \(living.joined(separator: ", ")), still alive: looking again every second")
        }
        ownerCheckAt = living.isEmpty ? nil : now + 1_000
        return dead
    }
}
