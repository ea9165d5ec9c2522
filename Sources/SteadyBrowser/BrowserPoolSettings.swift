import Glibc
import SteadyConfig

/// How the pool runs. Built from `[workers.browser]` (`concurrency` = most browsers,
/// `memory_max` = the budget) plus the environment (`STEADYPOST_CHROMIUM`); the rest are
/// defaults measured on this machine (see BENCHMARKS.md P8).
public struct BrowserPoolSettings: Sendable, Equatable {
    /// The Chromium executable (Debian's wrapper script execs the real binary in place).
    public var chromiumPath: String = "/usr/bin/chromium"
    /// At most this many browsers (`[workers.browser] concurrency`).
    public var maxBrowsers: Int = 1
    /// The worker's memory bound (`memory_max`): browsers are budgeted inside it.
    public var memoryMax: UInt64 = 2 << 30
    /// Kept for the worker process itself.
    public var workerReserveBytes: UInt64 = 64 << 20
    /// The expected PSS of one browser with one tab (measured ~386 MiB here); the larger of
    /// this and the largest PSS seen is what the budget divides by.
    public var expectedBrowserBytes: UInt64 = 400 << 20
    /// A browser whose process group's PSS passes this is recycled (when idle).
    public var browserMemoryMax: UInt64 = 1 << 30
    /// Leases waiting for a browser; one more is refused with `busy` at once.
    public var queueLimit: Int = 8
    /// A browser is restarted after this many leases.
    public var leasesPerBrowser: Int = 50
    /// A lease's budget when the caller gives none (and the frame has no deadline).
    public var defaultLeaseMs: Int64 = 30_000
    /// The longest budget a caller may ask for.
    public var maxLeaseMs: Int64 = 120_000
    /// A new browser must answer its first command within this.
    public var startTimeoutMs: Int64 = 15_000
    /// Closing a lease's tab must be answered within this, or the browser is recycled.
    public var closeTimeoutMs: Int64 = 2_000
    /// How often the browsers' memory is measured.
    public var memoryCheckIntervalMs: Int64 = 5_000
    /// Profiles live here (one directory per browser, removed when it is recycled).
    public var profileRoot: String = "/tmp/steadypost-browser"
    /// The bound on one DevTools message.
    public var maxMessageBytes: Int = 8 << 20
    public var extraArguments: [String] = []
    /// The browsers' environment (HOME and XDG dirs are pointed into the profile).
    public var environment: [String] = []
    /// `--no-sandbox` only then (Chromium's sandbox refuses to run as root).
    public var runningAsRoot: Bool = geteuid() == 0

    public init() {}

    public init(config: Config, environment: [String: String]) {
        let worker = config.worker(.browser)
        maxBrowsers = max(1, worker.concurrency)
        memoryMax = worker.memoryMax
        queueLimit = max(4, 4 * maxBrowsers)
        if let path = environment["STEADYPOST_CHROMIUM"], !path.isEmpty { chromiumPath = path }
        let state = config.daemon.stateDir
        profileRoot = (state.hasSuffix("/") ? state : state + "/") + "browser"
        self.environment = environment.map { "\($0.key)=\($0.value)" }.sorted()
    }

    /// How many browsers the memory budget allows, given the largest PSS seen so far.
    public func budgetedBrowsers(observedMaxBytes: UInt64) -> Int {
        let per = max(expectedBrowserBytes, observedMaxBytes, 1)
        let room = memoryMax > workerReserveBytes ? memoryMax - workerReserveBytes : 0
        return max(1, min(maxBrowsers, Int(room / per)))
    }
}
