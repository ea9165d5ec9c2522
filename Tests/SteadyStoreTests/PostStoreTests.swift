import Glibc
import Testing
import CSQLite
import SteadyCore
import class SteadyTestSupport.TempDir
@testable import SteadyStore
import Synchronization

/// A fresh database file per test, removed afterwards.
final class TempDatabase {
    let tmp = TempDir("steadypost-store")
    var dir: String { tmp.path }
    var path: String { dir + "/steadypost.db" }
    func store() throws -> SQLitePostStore { try SQLitePostStore(path: path) }
}

func draft(_ text: String, account: String = "news-x", due: Int64 = 1000) -> NewPost {
    NewPost(account: account, platform: "x", text: text, dueAt: due, contentHash: "h:" + text)
}

@Suite("post store", .timeLimit(.minutes(1)))
struct PostStoreTests {
    @Test("migrations run once and are recorded")
    func migrations() throws {
        let tmp = TempDatabase()
        #expect(try tmp.store().schemaVersion == Migrations.all.count)
        // Opening again applies nothing twice.
        #expect(try tmp.store().schemaVersion == Migrations.all.count)
    }

    @Test("the happy path: scheduled → claimed → attempting → posted, attempt recorded")
    func happyPath() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let p = try store.insert([draft("hello")], now: 500)[0]
        #expect(p.state == .scheduled)
        let claimed = try store.claimDue(owner: "w1", now: 1000, leaseMillis: 30_000, limit: 10)
        #expect(claimed.map(\.id) == [p.id])
        let attempt = try store.beginAttempt(postId: p.id, owner: "w1", idempotencyKey: "k1", adapter: "x", now: 1001, leaseMillis: 30_000)
        #expect(try store.post(id: p.id).state == .attempting)
        #expect(try store.attempts(postId: p.id).map(\.idempotencyKey) == ["k1"])
        let done = try store.recordOutcome(postId: p.id, attemptId: attempt.id, outcome: .published(platformId: "123"), now: 1002)
        #expect(done.state == .posted && done.platformId == "123" && done.attempts == 1 && done.leaseOwner == nil)
        #expect(try store.attempts(postId: p.id).first?.outcome == "published")
    }

    @Test("text is read back by its length: a NUL inside never cuts it (what is stored is what is sent)")
    func textReadByLength() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let text = "before\u{0}after \u{1F600}"
        let p = try store.insert([draft(text)], now: 500)[0]
        #expect(try store.post(id: p.id).text == text)
        #expect(try store.post(id: p.id).text.unicodeScalars.count == text.unicodeScalars.count)
    }

    @Test("F10: due means due_at <= now, in integer milliseconds", arguments: [(999, false), (1000, true), (1001, true)] as [(Int64, Bool)])
    func f10_dueBoundary(now: Int64, due: Bool) throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        _ = try store.insert([draft("boundary", due: 1000)], now: 0)
        #expect(try store.claimDue(owner: "w", now: now, leaseMillis: 1000, limit: 1).count == (due ? 1 : 0))
        #expect(try store.nextDueAt() == (due ? nil : 1000))
    }

    @Test("an expired lease: claimed goes back to scheduled, attempting becomes unknown, never scheduled")
    func leaseExpiry() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let posts = try store.insert([draft("a"), draft("b")], now: 0)
        _ = try store.claimDue(owner: "w", now: 1000, leaseMillis: 100, limit: 2)
        _ = try store.beginAttempt(postId: posts[1].id, owner: "w", idempotencyKey: "k", adapter: "x", now: 1000, leaseMillis: 100)
        #expect(try store.expireLeases(now: 1099).isEmpty)
        let moved = try store.expireLeases(now: 1100)
        #expect(Set(moved.map { "\($0.id):\($0.to.rawValue)" }) == ["\(posts[0].id):scheduled", "\(posts[1].id):unknown"])
        #expect(try store.post(id: posts[1].id).lastErrorClass == "unknownOutcome")
    }

    @Test("a dead owner's leases end at once, running or not; a live owner's stay until they run out")
    func deadOwnerLeases() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        // Due one after the other, so the claims take them in this order.
        let posts = try store.insert([draft("a", due: 100), draft("b", due: 200), draft("c", due: 300)], now: 0)
        _ = try store.claimDue(owner: "posting:10", now: 1000, leaseMillis: 60_000, limit: 2)
        _ = try store.beginAttempt(postId: posts[1].id, owner: "posting:10", idempotencyKey: "k", adapter: "x", now: 1000, leaseMillis: 60_000)
        _ = try store.claimDue(owner: "posting:11", now: 1000, leaseMillis: 60_000, limit: 1)
        #expect(Set(try store.leaseOwners()) == ["posting:10", "posting:11"])
        #expect(try store.expireLeases(now: 2000, deadOwners: ["posting:12"]).isEmpty, "nobody's leases but a dead owner's")
        let moved = try store.expireLeases(now: 2000, deadOwners: ["posting:12", "posting:10"])
        #expect(Set(moved.map { "\($0.id):\($0.to.rawValue)" }) == ["\(posts[0].id):scheduled", "\(posts[1].id):unknown"])
        #expect(try store.post(id: posts[1].id).lastError?.contains("its worker (posting:10) died while attempting") == true)
        #expect(try store.post(id: posts[2].id).state == .claimed, "the live worker keeps its lease")
        #expect(try store.leaseOwners() == ["posting:11"])
    }

    @Test("F27: a post whose worker died holding it twice is parked; the others flow")
    func f27_poisonParks() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let posts = try store.insert([draft("poison", due: 500), draft("fine", due: 1000)], now: 0)
        for round in 0..<2 {
            let t = Int64(1000 + round * 1000)
            let claimed = try store.claimDue(owner: "w\(round)", now: t, leaseMillis: 10, limit: 1)
            #expect(claimed.first?.id == posts[0].id)
            _ = try store.expireLeases(now: t + 10)
        }
        let parked = try store.post(id: posts[0].id)
        #expect(parked.state == .parked)
        #expect(parked.lastError?.contains("died holding it 2 times") == true)
        // The next claim gets the healthy post.
        #expect(try store.claimDue(owner: "w", now: 5000, leaseMillis: 10, limit: 5).map(\.id) == [posts[1].id])
    }

    @Test("F27: leases lost to deaths that are no evidence (an outside SIGKILL) never park a post")
    func f27_uncountedLossesDoNotPark() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let post = try store.insert([draft("innocent", due: 500)], now: 0)[0]
        for round in 0..<5 {
            let t = Int64(1000 + round * 1000)
            #expect(try store.claimDue(owner: "w\(round)", now: t, leaseMillis: 10, limit: 1).first?.id == post.id)
            _ = try store.expireLeases(now: t + 10, poisonLimit: 2, countLoss: false)
        }
        let after = try store.post(id: post.id)
        #expect(after.state == .scheduled)
        #expect(after.leaseLosses == 0)
        // One counted loss later is the first, not the sixth.
        _ = try store.claimDue(owner: "w9", now: 9000, leaseMillis: 10, limit: 1)
        _ = try store.expireLeases(now: 9010, poisonLimit: 2, countLoss: true)
        #expect(try store.post(id: post.id).state == .scheduled)
    }

    @Test("only the lease owner may begin an attempt; refused transitions are conflicts")
    func ownership() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        let p = try store.insert([draft("x")], now: 0)[0]
        #expect(throws: StoreError.self) { try store.beginAttempt(postId: p.id, owner: "w", idempotencyKey: "k", adapter: "x", now: 1, leaseMillis: 10) }
        _ = try store.claimDue(owner: "w1", now: 1000, leaseMillis: 100, limit: 1)
        #expect(throws: StoreError.self) { try store.beginAttempt(postId: p.id, owner: "w2", idempotencyKey: "k", adapter: "x", now: 1001, leaseMillis: 10) }
        #expect(throws: StoreError.self) { try store.cancel(id: p.id, now: 1002) }
    }

    @Test("F16: transient store errors are retried; the write happens once")
    func f16_transientRetried() throws {
        let tmp = TempDatabase()
        let store = FaultInjectingStore(try tmp.store(), retry: TransientRetry(limit: 6, baseMillis: 1))
        store.failNextWrites(3, with: Self.busy)
        let inserted = try store.insert([draft("once")], now: 0)
        #expect(inserted.count == 1)
        #expect(try store.posts().count == 1, "a retried write must not write twice")
        store.failNextWrites(2, with: DatabaseFailure.injectedIOError("test"))
        _ = try store.claimDue(owner: "w", now: 1000, leaseMillis: 100, limit: 1)
        #expect(try store.posts(state: .claimed).count == 1)
        #expect(store.transientRetries == 5)
    }

    static let busy = DatabaseFailure(kind: .busy, message: "database is locked (injected)", context: "write")

    @Test("F16: a persistent failure surfaces, classified, after the bounded retries")
    func f16_persistentSurfaces() throws {
        let tmp = TempDatabase()
        let store = FaultInjectingStore(try tmp.store(), retry: TransientRetry(limit: 3, baseMillis: 1))
        store.failNextWrites(10, with: Self.busy)
        #expect {
            _ = try store.insert([draft("never")], now: 0)
        } throws: { error in
            guard case StoreError.database(let e) = error else { return false }
            return e.isTransient && e.kind == .busy
        }
        #expect(store.transientRetries == 3)
        store.failNextWrites(0, with: Self.busy)
        #expect(try store.posts().isEmpty, "nothing half-written")
        // Not transient: no retry, thrown at once.
        store.failNextWrites(1, with: DatabaseFailure(kind: .constraint, message: "UNIQUE constraint failed", context: "write"))
        #expect(throws: StoreError.self) { _ = try store.insert([draft("x")], now: 0) }
        #expect(store.transientRetries == 3)
    }

    @Test("F06: concurrent claimers on separate connections never both claim one post")
    func f06_concurrentClaimers() throws {
        let tmp = TempDatabase()
        let seed = try tmp.store()
        _ = try seed.insert((0..<200).map { draft("post \($0)", due: 1000) }, now: 0)
        let stores = try (0..<4).map { _ in try tmp.store() }
        let results = Mutex<(claimedBy: [String: [String]], errors: [String])>(([:], []))
        // 50 rounds in lockstep: in each, all four claimers go for the same earliest post at
        // once, then each works its claim as a posting worker would (attempt, outcome).
        DispatchLike.concurrentPerform(iterations: stores.count, rounds: 50) { i, _ in
            do {
                // The posting worker's own claim path (one account's earliest due post).
                guard let post = try stores[i].claimDue(owner: "w\(i)", now: 1000, leaseMillis: 60_000, account: "news-x") else { return }
                results.withLock { $0.claimedBy["w\(i)", default: []].append(post.id) }
                let attempt = try stores[i].beginAttempt(postId: post.id, owner: "w\(i)", idempotencyKey: post.id, adapter: "x", now: 1001, leaseMillis: 60_000)
                _ = try stores[i].recordOutcome(postId: post.id, attemptId: attempt.id, outcome: .published(platformId: post.id), now: 1002)
            } catch {
                results.withLock { $0.errors.append("\(error)") }
            }
        }
        let (claimedBy, errors) = results.withLock { $0 }
        #expect(errors.isEmpty)
        let all = claimedBy.values.flatMap { $0 }
        #expect(all.count == 200, "every post claimed")
        #expect(Set(all).count == 200, "none claimed twice")
        #expect(claimedBy.values.allSatisfy { $0.count == 50 }, "each claimer won one post a round")
        #expect(try seed.posts(state: .posted).count == 200)
        #expect(try seed.posts().allSatisfy { $0.attempts == 1 })
    }

    @Test("cancel races a claim: exactly one wins")
    func cancelRace() throws {
        let tmp = TempDatabase()
        for round in 0..<20 {
            let a = try tmp.store()
            let b = try tmp.store()
            let p = try a.insert([draft("race \(round)")], now: 0)[0]
            nonisolated(unsafe) var claimed = false
            nonisolated(unsafe) var cancelled = false
            DispatchLike.concurrentPerform(iterations: 2) { i in
                if i == 0 { claimed = ((try? a.claimDue(owner: "w", now: 1000, leaseMillis: 100, limit: 1)) ?? []).contains { $0.id == p.id } }
                else { cancelled = (try? b.cancel(id: p.id, now: 1000)) != nil }
            }
            #expect(claimed != cancelled, "round \(round): claimed \(claimed), cancelled \(cancelled)")
        }
    }
}

/// Runs `body` on N threads at once and waits for all (no Dispatch dependency). With
/// `rounds`, the threads run in lockstep: a barrier before every round.
enum DispatchLike {
    static func concurrentPerform(iterations: Int, _ body: @escaping @Sendable (Int) -> Void) {
        concurrentPerform(iterations: iterations, rounds: 1) { i, _ in body(i) }
    }

    static func concurrentPerform(iterations: Int, rounds: Int, _ body: @escaping @Sendable (Int, Int) -> Void) {
        final class Box: @unchecked Sendable {
            let run: @Sendable () -> Void
            init(_ run: @escaping @Sendable () -> Void) { self.run = run }
        }
        let barrier = UnsafeMutablePointer<pthread_barrier_t>.allocate(capacity: 1)
        pthread_barrier_init(barrier, nil, UInt32(iterations))
        defer { pthread_barrier_destroy(barrier); barrier.deallocate() }
        let address = UInt(bitPattern: barrier)
        var threads: [pthread_t] = []
        for i in 0..<iterations {
            let box = Box {
                for round in 0..<rounds {
                    pthread_barrier_wait(UnsafeMutablePointer<pthread_barrier_t>(bitPattern: address)!)
                    body(i, round)
                }
            }
            var t = pthread_t()
            pthread_create(&t, nil, { arg in
                Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue().run()
                return nil
            }, Unmanaged.passRetained(box).toOpaque())
            threads.append(t)
        }
        for t in threads { pthread_join(t, nil) }
    }
}
