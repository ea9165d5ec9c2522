import Glibc

/// The store's bounded retry of transient failures (F16), for any backend and for the fault
/// wrapper alike: a failure whose `isTransient` says retrying can help (a lock held by another
/// process, a momentary I/O error) is tried again after 10, 20, 40, … ms, at most `limit`
/// times; anything else, or the last failure, is thrown.
public struct TransientRetry: Sendable, Equatable {
    public var limit: Int
    public var baseMillis: Int64

    public init(limit: Int, baseMillis: Int64) {
        self.limit = limit
        self.baseMillis = baseMillis
    }

    /// Six retries from 10 ms: about 0.6 s in all before a persistent failure surfaces.
    public static let standard = TransientRetry(limit: 6, baseMillis: 10)

    /// Runs `body` (one whole try: a backend's transaction, rolled back when it fails) until it
    /// succeeds or fails for good; `retried` is told of each retry.
    func run<T>(retried: () -> Void, _ body: () -> Result<T, StoreError>) throws(StoreError) -> T {
        var attempt = 0
        while true {
            switch body() {
            case .success(let value):
                return value
            case .failure(.database(let e)) where e.isTransient && attempt < limit:
                attempt += 1
                retried()
                let delay = baseMillis << (attempt - 1)
                var ts = timespec(tv_sec: Int(delay / 1000), tv_nsec: Int(delay % 1000) * 1_000_000)
                nanosleep(&ts, nil)
            case .failure(let e):
                throw e
            }
        }
    }
}
