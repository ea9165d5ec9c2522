import SteadyConfig
import SteadyCore
import SteadyHTTP
import SteadyMedia

/// The posting worker's timing, from the config (`[workers.posting] lease`: the claim lease,
/// an attempt's lease runs this long from its start; default 2 min) and, in a build with the
/// test hooks only (`TestHooks`), these environment variables read once at start, which let
/// tests shorten it:
///
/// | variable | default | what |
/// |---|---|---|
/// | `STEADYPOST_POSTING_LEASE_MS` | `[workers.posting] lease` | claim lease; wins over the config |
/// | `STEADYPOST_POSTING_HTTP_TIMEOUT_MS` | lease / 4, at most 30000 | total time of one platform request |
/// | `STEADYPOST_POSTING_QUOTA_HOUR_MS` | 3600000 | the quota's hour (the day is 24 of them); tests shorten it |
/// | `STEADYPOST_POSTING_SETTLE_MS` | 30000 | a complete timeline scan proves absence only this long after the attempt began |
/// | `STEADYPOST_POSTING_BREAKER_OPEN_MS` | 30000 | a circuit breaker's first open time (doubling on re-opening) |
///
/// The lease always exceeds the longest attempt (create, refresh, create again: three
/// request timeouts), so a live attempt's lease never runs out under it. A refresh that
/// waits for another renewer's lock or retries after a transient failure starts no try
/// later than two request timeouts and a second before the lease ends (`AttemptRunner`).
public struct PostingSettings: Sendable, Equatable {
    public var leaseMillis: Int64
    public var httpTimeoutMillis: Int64
    public var connectTimeoutMillis: Int64
    public var hourMillis: Int64
    public var dayMillis: Int64
    public var settleMillis: Int64
    /// How long after an unknown outcome the first verification runs.
    public var firstVerifyDelayMillis: Int64
    /// Where to look for a post on the timeline: from the attempt's start minus this.
    public var timelineSlackMillis: Int64
    /// Attempts and verifications running at once, over all accounts.
    public var concurrency: Int
    /// How long an account whose credentials are refused stays paused before one attempt
    /// tests them again (a worker restart, which re-reads the credentials, also lifts it).
    public var authPauseMillis: Int64
    /// Attempts in a row whose freshly refreshed token is refused as well before the account
    /// pauses (the refresh succeeding shows the credentials are good; one refusal right
    /// after it is a glitch, several are not).
    public var authRefusalsAfterRefresh: Int
    /// A worker that died holding a post this many times parks it (F27).
    public var poisonLimit: Int
    /// A circuit breaker's first open time.
    public var breakerOpenMillis: Int64
    /// Whether the previous posting worker's death is evidence against the posts it held
    /// (`STEADYPOST_PREVIOUS_EXIT`, from the supervisor: `crash`, `oom`, `hang`). A lease lost
    /// to an outside SIGKILL, a supervisor that died, or a clean exit does not count toward
    /// poison parking: the post did nothing wrong.
    public var leaseLossIsEvidence: Bool
    /// The lease owner of the previous posting worker when the supervisor reaped it
    /// (`STEADYPOST_PREVIOUS_EXIT` other than `none`, `STEADYPOST_PREVIOUS_PID`): provably
    /// dead, so its leases are expired at start instead of waited out (its posts are due, or
    /// `unknown` and verified, at once). nil after a supervisor restart: the old workers may
    /// still be finishing, and only their leases' expiry is proof.
    public var predecessorOwner: String?
    /// The most an upload holds in memory at once: the media store's read chunk and the
    /// largest X segment (at most 5 MB): the config's `[media] chunk_bytes`, default 1 MiB.
    public var mediaChunkBytes: Int
    /// The longest wait between two processing polls of an upload (X's `check_after_secs`
    /// is honoured up to this; Mastodon suggests nothing: its polls wait this long).
    public var mediaPollMaxMillis: Int64
    /// The slowest upload rate a media request is given time for: its timeout is the request
    /// timeout plus its bytes at this rate (a 1 MiB segment 4 s more, a 99 MB video 6.5 min).
    public var mediaMinBytesPerSecond: Int64 = 256 << 10

    /// The total time allowed to one upload request of `bytes`.
    public func mediaTimeoutMillis(bytes: Int64) -> Int64 {
        httpTimeoutMillis + max(0, bytes) * 1000 / max(1, mediaMinBytesPerSecond)
    }

    public init(leaseMillis: Int64 = PostingConfig.defaultLeaseMs, httpTimeoutMillis: Int64? = nil, hourMillis: Int64 = 3_600_000,
                settleMillis: Int64 = 30_000, firstVerifyDelayMillis: Int64 = 1_000, timelineSlackMillis: Int64 = 60_000,
                concurrency: Int = 1, authPauseMillis: Int64 = 6 * 3_600_000, authRefusalsAfterRefresh: Int = 3, poisonLimit: Int = 2,
                breakerOpenMillis: Int64 = 30_000, leaseLossIsEvidence: Bool = true, predecessorOwner: String? = nil,
                mediaChunkBytes: Int = MediaStore.defaultChunkSize, mediaPollMaxMillis: Int64 = 30_000) {
        self.mediaChunkBytes = max(MediaType.sniffLength, mediaChunkBytes)
        self.mediaPollMaxMillis = max(1, mediaPollMaxMillis)
        self.leaseMillis = max(leaseMillis, 1_000)
        let http = httpTimeoutMillis ?? min(30_000, self.leaseMillis / 4)
        // Three requests (create, refresh, create) must fit in the lease with room to record.
        self.httpTimeoutMillis = max(200, min(http, (self.leaseMillis - 500) / 3))
        self.connectTimeoutMillis = min(5_000, self.httpTimeoutMillis)
        self.hourMillis = max(hourMillis, 1)
        self.dayMillis = self.hourMillis * 24
        self.settleMillis = settleMillis
        self.firstVerifyDelayMillis = firstVerifyDelayMillis
        self.timelineSlackMillis = timelineSlackMillis
        self.concurrency = max(1, concurrency)
        self.authPauseMillis = authPauseMillis
        self.authRefusalsAfterRefresh = max(1, authRefusalsAfterRefresh)
        self.poisonLimit = poisonLimit
        self.breakerOpenMillis = max(1, breakerOpenMillis)
        self.leaseLossIsEvidence = leaseLossIsEvidence
        self.predecessorOwner = predecessorOwner
    }

    /// `posting:PID` of the previous worker, when the supervisor saw it die.
    static func predecessor(_ environment: [String: String]) -> String? {
        guard let exit = environment["STEADYPOST_PREVIOUS_EXIT"], ["crash", "oom", "hang", "killed", "exited"].contains(exit),
              let text = environment["STEADYPOST_PREVIOUS_PID"], let pid = Int32(text), pid > 0 else { return nil }
        return "posting:\(pid)"
    }

    /// A closed breaker with these settings' open time.
    public var breaker: CircuitBreaker { CircuitBreaker(baseOpenMillis: breakerOpenMillis) }

    /// From the config's `[workers.posting]`, the supervisor's `STEADYPOST_PREVIOUS_*`, and
    /// (in a build with the test hooks only) the test hooks above, which win over the config.
    public static func from(config: Config, environment: [String: String]) -> PostingSettings {
        func ms(_ hook: TestHooks.Variable) -> Int64? {
            guard let text = TestHooks.value(hook, in: environment), let v = Int64(text), v > 0 else { return nil }
            return v
        }
        return PostingSettings(leaseMillis: ms(.postingLeaseMillis) ?? config.posting.leaseMs,
                               httpTimeoutMillis: ms(.postingHTTPTimeoutMillis),
                               hourMillis: ms(.postingQuotaHourMillis) ?? 3_600_000,
                               settleMillis: ms(.postingSettleMillis) ?? 30_000,
                               concurrency: maxConcurrency(config.worker(.posting)),
                               breakerOpenMillis: ms(.postingBreakerOpenMillis) ?? 30_000,
                               leaseLossIsEvidence: ["crash", "oom", "hang"].contains(environment["STEADYPOST_PREVIOUS_EXIT"] ?? "crash"),
                               predecessorOwner: predecessor(environment),
                               mediaChunkBytes: config.media.chunkBytes)
    }

    /// Each job is a thread, and threads count against the worker's `pids_max`: leave room
    /// for the loop and libcurl's resolver threads.
    static func maxConcurrency(_ worker: WorkerConfig) -> Int {
        max(1, min(worker.concurrency, worker.pidsMax / 2 - 4))
    }

    public var httpOptions: HTTPClientOptions {
        HTTPClientOptions(connectTimeoutMillis: Int(connectTimeoutMillis), totalTimeoutMillis: Int(httpTimeoutMillis))
    }
}
