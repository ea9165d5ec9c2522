import Glibc

/// A value behind a mutex that a thread can also block on until the value says it may go
/// on: the product's one block-and-wait primitive (plain mutual exclusion is the standard
/// library's `Mutex`; ARCHITECTURE.md, "Plumbing"). Used where a thread must sleep until
/// another one hands it something: a background queue's thread waiting for work, a blocking
/// `WorkerOutbox.call` waiting for its answer, the api worker's start waiting for the listener.
///
/// Built on a pthread mutex and condition variable; the only file in the product that calls
/// `pthread_mutex_*` or `pthread_cond_*`. None of those calls fails with EINTR (POSIX does not
/// let them), so there is nothing to retry; a spurious wake-up only asks the caller's
/// condition again. Every `withLock` wakes every waiter afterwards, so a change can never be
/// missed for want of a signal, and a waiter's condition is always asked under the lock.
/// The condition's clock is CLOCK_MONOTONIC: a wall-clock step does not move a timed wait.
public final class WaitableMutex<State: Sendable>: @unchecked Sendable {
    // @unchecked: `state` is touched only with `mutex` held (every access is below).
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private var state: State

    public init(_ initial: State) {
        state = initial
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Runs `body` on the value with the lock held, then wakes every waiter (each asks its
    /// condition again).
    public func withLock<R, E: Error>(_ body: (inout State) throws(E) -> R) throws(E) -> R {
        pthread_mutex_lock(mutex)
        defer {
            pthread_cond_broadcast(condition)
            pthread_mutex_unlock(mutex)
        }
        return try body(&state)
    }

    /// Blocks until `ready` returns a value; it is asked with the lock held, at once and after
    /// every change, and may change the value (take an item, say) when it returns non-nil.
    public func wait<R>(until ready: (inout State) -> R?) -> R {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            if let value = ready(&state) { return value }
            pthread_cond_wait(condition, mutex)
        }
    }

    /// As `wait(until:)`, for at most `timeoutMs` milliseconds: nil if `ready` still says no then.
    public func wait<R>(timeoutMs: Int64, until ready: (inout State) -> R?) -> R? {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        let nanos = Int64(deadline.tv_nsec) + (max(0, timeoutMs) % 1000) * 1_000_000
        deadline.tv_sec += Int(max(0, timeoutMs) / 1000 + nanos / 1_000_000_000)
        deadline.tv_nsec = Int(nanos % 1_000_000_000)
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        while true {
            if let value = ready(&state) { return value }
            if pthread_cond_timedwait(condition, mutex, &deadline) == ETIMEDOUT { return ready(&state) }
        }
    }
}
