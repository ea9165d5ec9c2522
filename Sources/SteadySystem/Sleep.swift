import Glibc

/// Blocks the calling thread for `millis` ms (a job thread's backoff, never an event loop).
/// A signal does not cut it short: `nanosleep` is resumed with the time it had left.
public func sleepMillis(_ millis: Int64) {
    guard millis > 0 else { return }
    var request = timespec(tv_sec: Int(millis / 1000), tv_nsec: Int(millis % 1000) * 1_000_000)
    var remaining = timespec()
    while nanosleep(&request, &remaining) == -1 && errno == EINTR {
        request = remaining
    }
}
