import Synchronization

/// Waits that held responses, delays and hangs go through: each ends at its deadline, when
/// released (tests), when the server stops, or when its task is cancelled. A wait never holds a
/// lock, so other requests go on.
final class HoldRegistry: Sendable {
    private struct State {
        var nextID = 0
        var stopped = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var finished: Set<Int> = []
    }

    private let state = Mutex(State())

    /// Waits `milliseconds` (nil: until released or stopped). Returns true when the wait was cut
    /// short by `releaseAll`, `stop` or cancellation.
    func hold(milliseconds: Int64?) async -> Bool {
        if state.withLock({ $0.stopped }) { return true }
        let released = await withTaskGroup(of: Bool.self) { group in
            if let milliseconds {
                group.addTask {
                    try? await Task.sleep(for: .milliseconds(milliseconds))
                    return Task.isCancelled
                }
            }
            group.addTask {
                await self.waitForRelease()
                return true
            }
            let first = await group.next() ?? true
            group.cancelAll()
            return first
        }
        return released || Task.isCancelled
    }

    /// Ends every wait in progress (later ones still wait).
    func releaseAll() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            let all = Array(state.waiters.values)
            state.waiters.removeAll()
            return all
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Ends every wait, now and later, and wakes `waitUntilStopped`.
    func stop() {
        state.withLock { $0.stopped = true }
        releaseAll()
    }

    var isStopped: Bool { state.withLock { $0.stopped } }

    /// Returns once `stop` has been called (or the task is cancelled).
    func waitUntilStopped() async {
        while !isStopped, !Task.isCancelled {
            await waitForRelease()
        }
    }

    private func waitForRelease() async {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.stopped || state.finished.contains(id) {
                        state.finished.remove(id)
                        return true
                    }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                if let waiter = state.waiters.removeValue(forKey: id) { return waiter }
                state.finished.insert(id)
                return nil
            }
            waiter?.resume()
        }
    }
}
