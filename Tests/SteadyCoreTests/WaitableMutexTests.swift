import Dispatch
import SteadyCore
import Testing

/// The one block-and-wait primitive: a waiter sleeps until a change on another thread lets it
/// go, no change is lost between threads, and a timed wait gives up on time. The other
/// threads are Dispatch's (never the test's own pool, which a blocked waiter could starve);
/// each test ends when its waiter has seen everything they do.
@Suite("WaitableMutex", .timeLimit(.minutes(1)))
struct WaitableMutexTests {
    @Test("a waiter sleeps until another thread's change says go")
    func waitsForAChange() {
        let box = WaitableMutex<[Int]>([])
        DispatchQueue.global().async {
            for i in 1...3 { box.withLock { $0.append(i) } }
        }
        let seen = box.wait { $0.count == 3 ? $0 : nil }
        #expect(seen == [1, 2, 3])
    }

    @Test("four producers, one consumer taking items as they come: none lost, none twice")
    func producersAndConsumer() {
        let queue = WaitableMutex<[Int]>([])
        for p in 0..<4 {
            DispatchQueue.global().async {
                for i in 0..<2_000 { queue.withLock { $0.append(p * 10_000 + i) } }
            }
        }
        var taken: [Int] = []
        while taken.count < 8_000 {
            taken.append(queue.wait { $0.isEmpty ? nil : $0.removeFirst() })
        }
        #expect(Set(taken).count == 8_000)
        #expect(queue.withLock { $0.isEmpty })
        for p in 0..<4 {
            let mine = taken.filter { $0 / 10_000 == p }
            #expect(mine == mine.sorted(), "producer \(p)'s items in the order it queued them")
        }
    }

    @Test("a timed wait answers at once when ready, and gives up with nil after its time")
    func timedWait() {
        let box = WaitableMutex(7)
        #expect(box.wait(timeoutMs: 60_000) { $0 == 7 ? $0 : nil } == 7)
        let start = SteadyClock.monotonicMillis()
        let none: Int? = box.wait(timeoutMs: 120) { $0 == 8 ? $0 : nil }
        let waited = SteadyClock.monotonicMillis() - start
        #expect(none == nil)
        #expect(waited >= 119 && waited < 10_000, "waited \(waited) ms")
        #expect(box.wait(timeoutMs: 0) { $0 == 7 ? $0 : nil } == 7, "a zero timeout still asks once")
    }

    @Test("a timed wait is woken by a change before its time")
    func timedWaitWoken() {
        let box = WaitableMutex(false)
        DispatchQueue.global().async { box.withLock { $0 = true } }
        let got = box.wait(timeoutMs: 60_000) { $0 ? "set" : nil }
        #expect(got == "set")
    }
}
