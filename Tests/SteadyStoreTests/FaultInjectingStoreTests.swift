import Testing
import SteadyCore
import Synchronization
@testable import SteadyStore

/// The fault wrapper: failures on purpose in front of a real backend, through the same retry
/// as the backend's own, and nothing of it inside the backend.
@Suite("fault-injecting store", .timeLimit(.minutes(1)))
struct FaultInjectingStoreTests {
    static let fast = TransientRetry(limit: 6, baseMillis: 1)

    /// A fault that fails the first `count` tries, then none.
    final class Countdown: Sendable {
        private let left: Mutex<Int>
        init(_ count: Int) { left = Mutex(count) }
        func next() -> DatabaseFailure? {
            left.withLock { left -> DatabaseFailure? in
                guard left > 0 else { return nil }
                left -= 1
                return DatabaseFailure.injectedIOError("countdown")
            }
        }
    }

    @Test("F03/F16: a fault window shorter than the retries is absorbed; the write lands once")
    func f03_shortWindowAbsorbed() throws {
        let tmp = TempDatabase()
        let countdown = Countdown(4)
        let store = FaultInjectingStore(try tmp.store(), retry: Self.fast) { countdown.next() }
        #expect(try store.insert([draft("once")], now: 0).count == 1)
        #expect(store.transientRetries == 4)
        #expect(try store.posts().count == 1)
    }

    @Test("F03: a write fault fails writes after the retries and leaves the backend unchanged; reads pass")
    func f03_persistentFaultSurfaces() throws {
        let tmp = TempDatabase()
        let backend = try tmp.store()
        let p = try backend.insert([draft("kept")], now: 0)[0]
        let store = FaultInjectingStore(backend, retry: Self.fast) { DatabaseFailure.injectedIOError("window") }
        #expect(throws: StoreError.database(DatabaseFailure.injectedIOError("window"))) {
            _ = try store.claimDue(owner: "w", now: 1000, leaseMillis: 100, account: "news-x")
        }
        #expect(throws: StoreError.self) { try store.setPause(account: "news-x", until: 5, reason: "r", now: 1) }
        #expect(try store.post(id: p.id).state == .scheduled, "reads pass and nothing was claimed")
        #expect(try backend.accountStates().isEmpty)
        #expect(backend.transientRetries == 0, "the backend never saw the injected failures")
    }

    @Test("a non-transient injected failure is thrown at once, unretried, one queued failure per try")
    func nonTransientNotRetried() throws {
        let tmp = TempDatabase()
        let store = FaultInjectingStore(try tmp.store(), retry: Self.fast)
        let corrupt = DatabaseFailure(kind: .corrupt, message: "database disk image is malformed", context: "write")
        store.failNextWrites(2, with: corrupt)
        #expect(throws: StoreError.database(corrupt)) { _ = try store.insert([draft("x")], now: 0) }
        #expect(store.transientRetries == 0)
        #expect(throws: StoreError.database(corrupt), "one queued failure per try") { _ = try store.insert([draft("x")], now: 0) }
        #expect(try store.insert([draft("y")], now: 0).count == 1)
        #expect(try store.posts().map(\.text) == ["y"])
    }

    @Test("F27 path: expiring leases is a write only when a lease is there to expire")
    func expireLeasesWritesOnlyWhenDue() throws {
        let tmp = TempDatabase()
        let backend = try tmp.store()
        _ = try backend.insert([draft("leased")], now: 0)
        _ = try backend.claimDue(owner: "w", now: 1000, leaseMillis: 100, limit: 1)
        let store = FaultInjectingStore(backend, retry: TransientRetry(limit: 0, baseMillis: 1)) { DatabaseFailure.injectedIOError("window") }
        #expect(try store.expireLeases(now: 1050).isEmpty, "nothing due: a read, not failed")
        #expect(throws: StoreError.self) { _ = try store.expireLeases(now: 1100) }
        #expect(throws: StoreError.self) { _ = try store.expireLeases(now: 1050, deadOwners: ["w"]) }
        store.setFault(nil)
        #expect(try store.expireLeases(now: 1100).map(\.to) == [.scheduled])
    }
}
