import SteadyCore

/// A validated steadypost configuration: every key has a value (defaults filled in), every
/// path is absolute (relative paths are resolved against the config file's directory), every
/// `Role` has a `WorkerConfig`, and every value is within its documented range.
public struct Config: Sendable, Equatable {
    /// Where the daemon looks when no `--config` is given.
    public static let defaultPath = "/etc/steadypost/steadypost.toml"

    /// The config file's path as given to `load` or `parse`; diagnostics name it.
    public var path: String
    public var daemon: DaemonConfig
    public var api: APIConfig
    /// `[health]`: the health figures' window and thresholds.
    public var health: HealthConfig
    /// `[media]`: the media store's chunk size and how long media of final posts is kept.
    public var media = MediaConfig()
    /// In file order.
    public var accounts: [AccountConfig]
    /// Every role is present.
    public var workers: [Role: WorkerConfig]
    /// `[workers.posting]`'s own keys: the claim lease.
    public var posting = PostingConfig()
    /// `[workers.metrics]`'s own keys: the scrape schedule and its retries.
    public var metrics = MetricsConfig()
    /// `[workers.replies]`'s own keys: which mentions to answer, the quota, the generator.
    public var replies = RepliesConfig()
    /// `[workers.reconciler]`'s own keys.
    public var reconciler = ReconcilerConfig()

    public init(
        path: String, daemon: DaemonConfig = DaemonConfig(), api: APIConfig = APIConfig(),
        health: HealthConfig = HealthConfig(),
        accounts: [AccountConfig] = [], workers: [Role: WorkerConfig] = WorkerConfig.allDefaults()
    ) {
        self.path = path
        self.daemon = daemon
        self.api = api
        self.health = health
        self.accounts = accounts
        self.workers = workers
    }

    /// What an empty file gives.
    public static func defaults(path: String) -> Config {
        Config(path: path)
    }

    /// The worker settings of `role` (its defaults if the dictionary was edited to lack it).
    public func worker(_ role: Role) -> WorkerConfig {
        workers[role] ?? WorkerConfig.defaults(for: role)
    }

    /// How many HTTP connections the api worker keeps open at most: `api.max_connections`,
    /// else `APIConfig.defaultMaxConnections` but never more than the api worker's
    /// `open_files_max` less `APIConfig.reservedDescriptors` (at least 1); validation refuses
    /// a configured `max_connections` above that bound.
    /// `descriptorLimit` (the process's RLIMIT_NOFILE, when known) bounds it the same way.
    public func apiConnectionLimit(descriptorLimit: Int? = nil) -> Int {
        var limit = api.maxConnections
            ?? min(APIConfig.defaultMaxConnections, worker(.api).openFilesMax - APIConfig.reservedDescriptors)
        if let descriptorLimit { limit = min(limit, descriptorLimit - APIConfig.reservedDescriptors) }
        return max(1, limit)
    }

    /// The account named `name`, if any.
    public func account(named name: String) -> AccountConfig? {
        accounts.first { $0.name == name }
    }

    /// The config with systemd's directory variables applied: `STATE_DIRECTORY`,
    /// `RUNTIME_DIRECTORY` and `CREDENTIALS_DIRECTORY` replace `state_dir`, `runtime_dir` and
    /// `credentials_dir` (the first entry when systemd passes a colon-separated list). Empty or
    /// relative values are ignored.
    public func applyingEnvironment(_ environment: [String: String]) -> Config {
        func directory(_ name: String) -> String? {
            guard let value = environment[name],
                let first = value.split(separator: ":", omittingEmptySubsequences: true).first,
                first.hasPrefix("/")
            else { return nil }
            return String(first)
        }
        var config = self
        if let dir = directory("STATE_DIRECTORY") { config.daemon.stateDir = dir }
        if let dir = directory("RUNTIME_DIRECTORY") { config.daemon.runtimeDir = dir }
        if let dir = directory("CREDENTIALS_DIRECTORY") {
            config.daemon.credentialsDir = dir
            config.daemon.credentialsFromSystemd = true
        }
        return config
    }

    /// The credentials file of `account`: its `credentials` name inside `credentialsDir`, or
    /// inside `directory` when given (systemd's `CREDENTIALS_DIRECTORY`).
    public func credentialsPath(for account: AccountConfig, directory: String? = nil) -> String {
        let dir = directory ?? daemon.credentialsDir
        return dir.hasSuffix("/") ? dir + account.credentials : dir + "/" + account.credentials
    }
}

/// `[daemon]`: where the daemon keeps its files and how it may be controlled.
public struct DaemonConfig: Sendable, Equatable {
    /// The SQLite database and the outcome journal.
    public var stateDir: String
    /// Holds `control.sock`.
    public var runtimeDir: String
    /// Account credential files (overridden by `CREDENTIALS_DIRECTORY` under systemd).
    public var credentialsDir: String
    /// The credentials directory is systemd's (`CREDENTIALS_DIRECTORY`): systemd sets its
    /// files' mode and owner, so `SecretFile` does not judge them.
    public var credentialsFromSystemd = false
    /// A Unix group allowed on the control socket besides root and the service user.
    public var controlGroup: String?
    /// Test-only: lets the control socket inject faults into workers (kill, hang, leak).
    public var allowFaultInjection: Bool
    /// How long an orderly shutdown may take before remaining children are killed.
    public var shutdownTimeoutMs: Int64

    public init(
        stateDir: String = "/var/lib/steadypost", runtimeDir: String = "/run/steadypost",
        credentialsDir: String = "/etc/steadypost/credentials", controlGroup: String? = nil,
        allowFaultInjection: Bool = false, shutdownTimeoutMs: Int64 = 10_000
    ) {
        self.stateDir = stateDir
        self.runtimeDir = runtimeDir
        self.credentialsDir = credentialsDir
        self.controlGroup = controlGroup
        self.allowFaultInjection = allowFaultInjection
        self.shutdownTimeoutMs = shutdownTimeoutMs
    }

    /// `runtimeDir/control.sock`; always fits in `sockaddr_un.sun_path` for a validated config.
    public var controlSocketPath: String {
        runtimeDir.hasSuffix("/") ? runtimeDir + "control.sock" : runtimeDir + "/control.sock"
    }
}

/// `[api]`: the HTTP API, `/health`, `/metrics` and dashboard listener.
public struct APIConfig: Sendable, Equatable {
    /// A host name or IP address; an IPv6 address without brackets.
    public var host: String
    /// 0 asks the kernel for a free port.
    public var port: Int
    /// `/health` and `/metrics` answer peers other than loopback only when true.
    public var healthPublic: Bool
    /// How long a client may take to send a request's head: from connecting, and on a
    /// kept-alive connection from the first byte of its next request. Past it the connection
    /// is closed.
    public var headerTimeoutMs: Int64
    /// A connection with no request in flight is closed after this long.
    public var idleTimeoutMs: Int64
    /// Open connections at most, as configured; nil: `defaultMaxConnections`, bounded by the
    /// api worker's `open_files_max` (see `Config.apiConnectionLimit`).
    public var maxConnections: Int?
    /// `Host` header values accepted, as configured: `HOST` (any port) or `HOST:PORT`, IPv6
    /// in brackets, `"*"` for any. nil: the listen address, `localhost`, `127.0.0.1` and
    /// `[::1]`, each with the listen port.
    public var allowedHosts: [String]?

    public static let defaultHeaderTimeoutMs: Int64 = 10_000
    public static let defaultIdleTimeoutMs: Int64 = 60_000
    public static let defaultMaxConnections = 512
    /// Descriptors the api worker keeps for itself beside its connections (the store, its
    /// supervisor socket, NIO's epoll and wake-up descriptors, logs, a spare for each accept).
    public static let reservedDescriptors = 64

    public init(host: String = "127.0.0.1", port: Int = 8787, healthPublic: Bool = false,
                headerTimeoutMs: Int64 = APIConfig.defaultHeaderTimeoutMs, idleTimeoutMs: Int64 = APIConfig.defaultIdleTimeoutMs,
                maxConnections: Int? = nil, allowedHosts: [String]? = nil) {
        self.host = host
        self.port = port
        self.healthPublic = healthPublic
        self.headerTimeoutMs = headerTimeoutMs
        self.idleTimeoutMs = idleTimeoutMs
        self.maxConnections = maxConnections
        self.allowedHosts = allowedHosts
    }

    /// `HOST:PORT`, with an IPv6 host in brackets.
    public var listen: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }

    /// A `Host` header value (or an `allowed_hosts` entry) split into its host, lowercased,
    /// without brackets, and its port (nil when absent). nil when malformed: a name must be
    /// letters, digits, `-`, `.` and `_`; an IPv6 address is in brackets; a port is 1-65535.
    public static func parseHostHeader(_ text: String) -> (host: String, port: Int?)? {
        let lower = text.lowercased()
        var host: Substring
        var rest: Substring
        if lower.hasPrefix("[") {
            guard let close = lower.firstIndex(of: "]") else { return nil }
            host = lower[lower.index(after: lower.startIndex)..<close]
            rest = lower[lower.index(after: close)...]
            guard !host.isEmpty, host.contains(":"),
                  host.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) || ("a"..."f").contains($0) || $0 == ":" || $0 == "." })
            else { return nil }
        } else {
            let colon = lower.firstIndex(of: ":") ?? lower.endIndex
            host = lower[..<colon]
            rest = lower[colon...]
            guard !host.isEmpty, host.utf8.count <= 253,
                  host.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "." || $0 == "_" })
            else { return nil }
        }
        guard !rest.isEmpty else { return (String(host), nil) }
        guard rest.hasPrefix(":") else { return nil }
        let digits = rest.dropFirst()
        guard !digits.isEmpty, digits.count <= 5, digits.unicodeScalars.allSatisfy({ ("0"..."9").contains($0) }),
              let port = Int(digits), (1...65535).contains(port) else { return nil }
        return (String(host), port)
    }

    /// Whether a request's `Host` header may be answered by the server listening on
    /// `boundPort` (the port actually bound, when `port` is 0): an entry of `allowedHosts`
    /// (`HOST` matching any port), or by default the listen host, `localhost`, `127.0.0.1`
    /// or `::1` with `boundPort` (a header without a port means 80). Refusing every other
    /// name is what stops DNS rebinding: a page on `evil.example` whose name now points at
    /// 127.0.0.1 still sends `Host: evil.example`.
    public func allowsHost(_ header: String?, boundPort: Int) -> Bool {
        guard let header, let (host, port) = Self.parseHostHeader(header) else { return allowedHosts?.contains("*") == true }
        if let allowedHosts {
            for entry in allowedHosts {
                if entry == "*" { return true }
                guard let allowed = Self.parseHostHeader(entry), allowed.host == host else { continue }
                if allowed.port == nil || allowed.port == (port ?? 80) { return true }
            }
            return false
        }
        guard (port ?? 80) == boundPort else { return false }
        return [self.host.lowercased(), "localhost", "127.0.0.1", "::1"].contains(host)
    }

    /// Splits `HOST:PORT` (`[v6]:PORT` for IPv6); nil when malformed or the port is not 0-65535.
    public static func parseListen(_ text: String) -> (host: String, port: Int)? {
        guard let colon = text.lastIndex(of: ":") else { return nil }
        var host = String(text[..<colon])
        let portText = text[text.index(after: colon)...]
        if host.hasPrefix("[") {
            guard host.hasSuffix("]"), host.count > 2 else { return nil }
            host = String(host.dropFirst().dropLast())
            guard host.contains(":") else { return nil }
        } else if host.contains(":") {
            return nil  // IPv6 needs brackets
        }
        guard !host.isEmpty, !host.contains(where: { $0 == " " || $0 == "\t" || $0 == "/" || $0 == "[" || $0 == "]" })
        else { return nil }
        guard !portText.isEmpty, portText.count <= 5, portText.allSatisfy({ $0.isASCII && $0.isNumber }),
            let port = Int(portText), port <= 65535
        else { return nil }
        return (host, port)
    }
}

/// `[[accounts]]`: one social account steadypost posts as.
public struct AccountConfig: Sendable, Equatable {
    /// Unique, 1-64 characters of `a-z`, `0-9` and `-`.
    public var name: String
    public var platform: Platform
    /// `http://` or `https://`, without a trailing slash.
    public var baseURL: String
    /// A file name inside the credentials directory.
    public var credentials: String
    public var quota: Quota
    /// How posts are published: the platform's API, or its web pages through the browser
    /// worker's `submit` lease (accounts without API write access).
    public var mode: PostingMode
    /// The line of the account's `[[accounts]]` header (0 when built in code).
    public var line: Int

    public init(
        name: String, platform: Platform, baseURL: String, credentials: String, quota: Quota = Quota(),
        mode: PostingMode = .api, line: Int = 0
    ) {
        self.name = name
        self.platform = platform
        self.baseURL = baseURL
        self.credentials = credentials
        self.quota = quota
        self.mode = mode
        self.line = line
    }
}

/// An account's `mode`: `api` (default) or `browser`.
public enum PostingMode: String, Sendable, Equatable, CaseIterable {
    case api
    case browser
}

/// Posting quota of one account: at most `hourly` posts in any hour and `daily` in any day;
/// `hourly <= daily`.
public struct Quota: Sendable, Equatable {
    public var hourly: Int
    public var daily: Int

    public init(hourly: Int = 30, daily: Int = 300) {
        self.hourly = hourly
        self.daily = daily
    }
}

/// How a worker is restarted after it dies: exponential backoff from `baseDelayMs` capped at
/// `maxDelayMs`; more than `intensity` restarts within `windowMs` parks the worker as failed;
/// a child that stays up `stableAfterMs` has its backoff reset.
public struct RestartPolicy: Sendable, Equatable {
    public var baseDelayMs: Int64
    public var maxDelayMs: Int64
    public var intensity: Int
    public var windowMs: Int64
    public var stableAfterMs: Int64

    public init(
        baseDelayMs: Int64 = 250, maxDelayMs: Int64 = 30_000, intensity: Int = 5, windowMs: Int64 = 60_000,
        stableAfterMs: Int64 = 30_000
    ) {
        self.baseDelayMs = baseDelayMs
        self.maxDelayMs = maxDelayMs
        self.intensity = intensity
        self.windowMs = windowMs
        self.stableAfterMs = stableAfterMs
    }
}

/// `[workers.ROLE]`: one worker's switch, resource limits, liveness timing and restart policy.
/// For a validated config `hangTimeoutMs > 2 × heartbeatIntervalMs` and
/// `restart.baseDelayMs <= restart.maxDelayMs`.
public struct WorkerConfig: Sendable, Equatable {
    public var role: Role
    public var enabled: Bool
    /// cgroup `memory.max` / RLIMIT_AS-style cap, bytes.
    public var memoryMax: UInt64
    /// cgroup `pids.max` / RLIMIT_NPROC-style cap.
    public var pidsMax: Int
    /// RLIMIT_NOFILE.
    public var openFilesMax: Int
    /// How often the worker sends a heartbeat.
    public var heartbeatIntervalMs: Int64
    /// No heartbeat for this long means the worker is hung and is killed.
    public var hangTimeoutMs: Int64
    /// SIGTERM → SIGKILL grace.
    public var termGraceMs: Int64
    /// How long a stopping worker may take to finish its current jobs.
    public var drainTimeoutMs: Int64
    public var restart: RestartPolicy
    /// Jobs the worker runs at once.
    public var concurrency: Int

    public init(
        role: Role, enabled: Bool = true, memoryMax: UInt64? = nil, pidsMax: Int? = nil, openFilesMax: Int = 1024,
        heartbeatIntervalMs: Int64 = 2000, hangTimeoutMs: Int64 = 10_000, termGraceMs: Int64 = 3000,
        drainTimeoutMs: Int64 = 5000, restart: RestartPolicy = RestartPolicy(), concurrency: Int? = nil
    ) {
        self.role = role
        self.enabled = enabled
        self.memoryMax = memoryMax ?? (role == .browser ? 2 * ByteSize.gibibyte : 256 * ByteSize.mebibyte)
        self.pidsMax = pidsMax ?? (role == .browser ? 512 : 64)
        self.openFilesMax = openFilesMax
        self.heartbeatIntervalMs = heartbeatIntervalMs
        self.hangTimeoutMs = hangTimeoutMs
        self.termGraceMs = termGraceMs
        self.drainTimeoutMs = drainTimeoutMs
        self.restart = restart
        // Posting: one attempt per account at a time, up to 4 accounts at once (a single
        // attempt over every account made a slow platform delay all the others).
        self.concurrency = concurrency ?? (role == .posting ? 4 : 1)
    }

    /// The settings of `role` when its table is absent.
    public static func defaults(for role: Role) -> WorkerConfig {
        WorkerConfig(role: role)
    }

    /// Defaults for every role.
    public static func allDefaults() -> [Role: WorkerConfig] {
        var all: [Role: WorkerConfig] = [:]
        for role in Role.allCases { all[role] = defaults(for: role) }
        return all
    }
}
