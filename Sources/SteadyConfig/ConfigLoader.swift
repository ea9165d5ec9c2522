import Glibc
import SteadyCore

extension Config {
    /// The largest config file accepted.
    public static let maxFileSize = 4 << 20

    /// Reads, parses and validates the file at `path`.
    ///
    /// Throws every problem found (a file that cannot be read or has a TOML syntax error gives
    /// exactly one diagnostic; otherwise every invalid key is reported), sorted by line.
    public static func load(path: String) throws(ConfigError) -> Config {
        let text: String
        switch ConfigFile.read(path) {
        case .success(let contents): text = contents
        case .failure(let problem):
            throw ConfigError(diagnostics: [ConfigDiagnostic(path: path, line: 0, key: "-", message: problem.message)])
        }
        return try parse(text, path: path)
    }

    /// Parses and validates `text` as if read from `path`; relative paths in it are resolved
    /// against `path`'s directory (itself resolved against the working directory).
    public static func parse(_ text: String, path: String) throws(ConfigError) -> Config {
        let root: TOMLTable
        do throws(TOMLParseError) {
            root = try TOMLParser.parse(text)
        } catch {
            throw ConfigError(diagnostics: [ConfigDiagnostic(path: path, line: error.line, key: "-", message: error.message)])
        }
        var decoder = ConfigDecoder(path: path, baseDirectory: ConfigPaths.directory(of: path))
        let config = decoder.decode(root)
        if !decoder.diagnostics.isEmpty {
            let sorted = decoder.diagnostics.enumerated()
                .sorted { ($0.element.line, $0.offset) < ($1.element.line, $1.offset) }
                .map(\.element)
            throw ConfigError(diagnostics: sorted)
        }
        return config
    }
}

// MARK: - Ranges

/// The accepted range of every bounded setting, shared by validation and documentation.
enum Limits {
    static let shutdownTimeout: ClosedRange<Int64> = 100...3_600_000
    static let quota: ClosedRange<Int64> = 0...1_000_000
    static let memoryMax: ClosedRange<UInt64> = (8 * ByteSize.mebibyte)...ByteSize.tebibyte
    static let pidsMax: ClosedRange<Int64> = 1...4_194_304
    static let openFilesMax: ClosedRange<Int64> = 16...1_048_576
    static let heartbeatInterval: ClosedRange<Int64> = 10...60_000
    static let hangTimeout: ClosedRange<Int64> = 30...3_600_000
    static let termGrace: ClosedRange<Int64> = 0...600_000
    static let drainTimeout: ClosedRange<Int64> = 0...600_000
    static let restartDelay: ClosedRange<Int64> = 0...3_600_000
    static let restartIntensity: ClosedRange<Int64> = 1...10_000
    static let restartWindow: ClosedRange<Int64> = 1000...86_400_000
    static let stableAfter: ClosedRange<Int64> = 0...86_400_000
    static let concurrency: ClosedRange<Int64> = 1...1024
    static let healthWindow: ClosedRange<Int64> = 60_000...2_592_000_000
    static let stuckAfter: ClosedRange<Int64> = 1000...86_400_000
    static let healthDuration: ClosedRange<Int64> = 0...86_400_000
    static let healthCount: ClosedRange<Int64> = 0...1_000_000
    static let headerTimeout: ClosedRange<Int64> = 100...600_000
    static let idleTimeout: ClosedRange<Int64> = 100...3_600_000
    static let maxConnections: ClosedRange<Int64> = 1...1_048_576
    static let accountName = 1...64
    static let groupName = 1...32
    /// `sockaddr_un.sun_path` holds 108 bytes including the terminating NUL.
    static let socketPathBytes = 107
}

// MARK: - Decoding

enum Conversion<T> {
    case ok(T)
    case bad(String)
}

/// A table being decoded: its contents, the dotted key path used in diagnostics, and its line.
struct Section {
    var table: TOMLTable
    var prefix: String
    var line: Int

    func keyPath(_ key: String) -> String {
        prefix.isEmpty ? tomlKeyText(key) : prefix + "." + tomlKeyText(key)
    }
}

struct ConfigDecoder {
    let path: String
    let baseDirectory: String
    var diagnostics: [ConfigDiagnostic] = []

    init(path: String, baseDirectory: String) {
        self.path = path
        self.baseDirectory = baseDirectory
    }

    mutating func report(_ line: Int, _ key: String, _ message: String) {
        diagnostics.append(ConfigDiagnostic(path: path, line: line, key: key, message: message))
    }

    // MARK: Generic readers

    /// Reports every key of `section` not in `known`.
    mutating func checkKnown(_ section: Section, _ known: [String]) {
        for (key, node) in section.table.entries where !known.contains(key) {
            report(node.line, section.keyPath(key), Self.unknownKeyMessage(key, known: known))
        }
    }

    static func unknownKeyMessage(_ key: String, known: [String]) -> String {
        if let suggestion = closestMatch(to: key, in: known) {
            return "unknown key (did you mean \"\(suggestion)\"?)"
        }
        return "unknown key (expected one of: \(known.joined(separator: ", ")))"
    }

    /// The value of `key` converted, or nil when absent or invalid (invalid is reported).
    mutating func read<T>(_ section: Section, _ key: String, _ convert: (TOMLValue) -> Conversion<T>) -> T? {
        guard let node = section.table[key] else { return nil }
        switch convert(node.value) {
        case .ok(let value): return value
        case .bad(let message):
            report(node.line, section.keyPath(key), message)
            return nil
        }
    }

    /// Like `read`, but a missing key is reported too.
    mutating func require<T>(_ section: Section, _ key: String, _ convert: (TOMLValue) -> Conversion<T>) -> T? {
        guard section.table[key] != nil else {
            report(section.line, section.keyPath(key), "required key is missing")
            return nil
        }
        return read(section, key, convert)
    }

    /// The table under `key`, or nil when absent or not a table (reported).
    mutating func subsection(_ parent: Section, _ key: String, expected: String = "a table") -> Section? {
        guard let node = parent.table[key] else { return nil }
        guard case .table(let table) = node.value else {
            report(node.line, parent.keyPath(key), "expected \(expected), got \(node.value.typeName)")
            return nil
        }
        return Section(table: table, prefix: parent.keyPath(key), line: node.line)
    }

    // MARK: Document

    mutating func decode(_ root: TOMLTable) -> Config {
        var config = Config.defaults(path: path)
        let top = Section(table: root, prefix: "", line: 1)
        checkKnown(top, ["daemon", "api", "health", "media", "accounts", "workers"])
        if let section = subsection(top, "daemon") { config.daemon = decodeDaemon(section) }
        if let section = subsection(top, "api") { config.api = decodeAPI(section) }
        if let section = subsection(top, "health") { config.health = decodeHealth(section) }
        if let section = subsection(top, "media") { config.media = decodeMedia(section) }
        config.accounts = decodeAccounts(top)
        if let section = subsection(top, "workers") {
            for (key, node) in section.table.entries {
                let keyPath = section.keyPath(key)
                guard let role = Role(rawValue: key) else {
                    let valid = Role.allCases.map(\.rawValue).joined(separator: ", ")
                    report(node.line, keyPath, "unknown worker role \"\(key)\" (valid roles: \(valid))")
                    continue
                }
                guard case .table(let table) = node.value else {
                    report(node.line, keyPath, "expected a table, got \(node.value.typeName)")
                    continue
                }
                let worker = Section(table: table, prefix: keyPath, line: node.line)
                config.workers[role] = decodeWorker(role, worker)
                decodeRoleKeys(role, worker, into: &config)
            }
        }
        checkConnectionLimit(config, top)
        return config
    }

    /// `api.max_connections` must leave the api worker descriptors of its own under its
    /// `open_files_max` (RLIMIT_NOFILE): past it, accept fails with EMFILE and the worker
    /// stops answering anyone.
    mutating func checkConnectionLimit(_ config: Config, _ top: Section) {
        guard let configured = config.api.maxConnections,
              case .table(let api)? = top.table["api"]?.value, let node = api["max_connections"] else { return }
        let files = config.worker(.api).openFilesMax
        let bound = files - APIConfig.reservedDescriptors
        if configured > bound {
            report(node.line, "api.max_connections",
                   "must be at most workers.api.open_files_max (\(files)) less \(APIConfig.reservedDescriptors) descriptors the worker needs for itself, i.e. \(max(bound, 0)), got \(configured)")
        }
    }

    // MARK: [daemon]

    mutating func decodeDaemon(_ s: Section) -> DaemonConfig {
        var daemon = DaemonConfig()
        checkKnown(
            s,
            [
                "state_dir", "runtime_dir", "credentials_dir", "control_group", "allow_fault_injection",
                "shutdown_timeout",
            ])
        let base = baseDirectory
        if let v = read(s, "state_dir", { Self.path($0, base: base) }) { daemon.stateDir = v }
        if let v = read(s, "runtime_dir", { (value: TOMLValue) -> Conversion<String> in
            switch Self.path(value, base: base) {
            case .bad(let message): return .bad(message)
            case .ok(let dir):
                let socket = DaemonConfig(runtimeDir: dir).controlSocketPath
                if socket.utf8.count > Limits.socketPathBytes {
                    return .bad(
                        "the control socket path \(socket) is \(socket.utf8.count) bytes; at most \(Limits.socketPathBytes) fit in a Unix socket address"
                    )
                }
                return .ok(dir)
            }
        }) {
            daemon.runtimeDir = v
        }
        if let v = read(s, "credentials_dir", { Self.path($0, base: base) }) { daemon.credentialsDir = v }
        if let v = read(s, "control_group", Self.groupName) { daemon.controlGroup = v }
        if let v = read(s, "allow_fault_injection", Self.bool) { daemon.allowFaultInjection = v }
        if let v = read(s, "shutdown_timeout", { Self.duration($0, Limits.shutdownTimeout) }) {
            daemon.shutdownTimeoutMs = v
        }
        return daemon
    }

    // MARK: [api]

    mutating func decodeAPI(_ s: Section) -> APIConfig {
        var api = APIConfig()
        checkKnown(s, ["listen", "health_public", "header_timeout", "idle_timeout", "max_connections", "allowed_hosts"])
        if let v = read(s, "health_public", Self.bool) { api.healthPublic = v }
        if let v = read(s, "header_timeout", { Self.duration($0, Limits.headerTimeout) }) { api.headerTimeoutMs = v }
        if let v = read(s, "idle_timeout", { Self.duration($0, Limits.idleTimeout) }) { api.idleTimeoutMs = v }
        if let v = read(s, "max_connections", { Self.integer($0, Limits.maxConnections) }) { api.maxConnections = Int(v) }
        if let v = read(s, "allowed_hosts", { Self.list($0, Self.allowedHost) }) { api.allowedHosts = v }
        if let (host, port) = read(s, "listen", { value -> Conversion<(String, Int)> in
            switch Self.string(value) {
            case .bad(let message): return .bad(message)
            case .ok(let text):
                guard let parsed = APIConfig.parseListen(text) else {
                    return .bad("expected HOST:PORT with a port from 0 to 65535, got \"\(text)\"")
                }
                return .ok(parsed)
            }
        }) {
            api.host = host
            api.port = port
        }
        return api
    }

    // MARK: [health]

    mutating func decodeHealth(_ s: Section) -> HealthConfig {
        var health = HealthConfig()
        let figures = health.rules.map(\.figure)
        checkKnown(s, ["window", "stuck_after"] + figures.flatMap { ["\($0)_degraded", "\($0)_unhealthy"] })
        if let v = read(s, "window", { Self.duration($0, Limits.healthWindow) }) { health.windowMs = v }
        if let v = read(s, "stuck_after", { Self.duration($0, Limits.stuckAfter) }) { health.stuckAfterMs = v }
        for (i, rule) in health.rules.enumerated() {
            var updated = rule
            for level in ["degraded", "unhealthy"] {
                let key = "\(rule.figure)_\(level)"
                guard let v = read(s, key, { Self.threshold($0, rule.unit) }) else { continue }
                if level == "degraded" { updated.degraded = v } else { updated.unhealthy = v }
            }
            let worse = updated.direction == .below
                ? updated.unhealthy <= updated.degraded
                : (updated.unhealthy == 0 || updated.degraded == 0 || updated.unhealthy >= updated.degraded)
            if !worse, let node = s.table["\(rule.figure)_unhealthy"] ?? s.table["\(rule.figure)_degraded"] {
                let relation = updated.direction == .below ? "at most" : "at least"
                report(node.line, s.keyPath("\(rule.figure)_unhealthy"),
                       "must be \(relation) \(rule.figure)_degraded (\(Self.thresholdText(updated.degraded, rule.unit))), got \(Self.thresholdText(updated.unhealthy, rule.unit))")
            }
            health.rules[i] = updated
        }
        return health
    }

    /// A threshold in its figure's unit: a rate 0-1, a duration, or a count (0 = off).
    static func threshold(_ value: TOMLValue, _ unit: HealthConfig.Unit) -> Conversion<Double> {
        switch unit {
        case .rate:
            let number: Double
            switch value {
            case .float(let f): number = f
            case .integer(let i): number = Double(i)
            default: return .bad("expected a rate from 0 to 1 (e.g. 0.95), got \(value.typeName)")
            }
            guard number >= 0, number <= 1 else { return .bad("must be a rate from 0 to 1, got \(number)") }
            return .ok(number)
        case .duration:
            switch duration(value, Limits.healthDuration) {
            case .ok(let ms): return .ok(Double(ms))
            case .bad(let message): return .bad(message)
            }
        case .count:
            switch integer(value, Limits.healthCount) {
            case .ok(let n): return .ok(Double(n))
            case .bad(let message): return .bad(message + " (0 switches it off)")
            }
        }
    }

    static func thresholdText(_ value: Double, _ unit: HealthConfig.Unit) -> String {
        switch unit {
        case .rate: return "\(value)"
        case .duration: return DurationText.format(millis: Int64(value))
        case .count: return "\(Int64(value))"
        }
    }

    // MARK: [[accounts]]

    mutating func decodeAccounts(_ top: Section) -> [AccountConfig] {
        guard let node = top.table["accounts"] else { return [] }
        guard case .array(let items) = node.value else {
            report(node.line, "accounts", "expected an array of tables ([[accounts]]), got \(node.value.typeName)")
            return []
        }
        var accounts: [AccountConfig] = []
        var seen: [String: Int] = [:]
        for (index, item) in items.enumerated() {
            let prefix = "accounts[\(index)]"
            guard case .table(let table) = item.value else {
                report(item.line, prefix, "expected a table, got \(item.value.typeName)")
                continue
            }
            let section = Section(table: table, prefix: prefix, line: item.line)
            guard let account = decodeAccount(section) else { continue }
            if let first = seen[account.name] {
                let line = table["name"]?.line ?? item.line
                report(line, section.keyPath("name"), "duplicate account name \"\(account.name)\" (first on line \(first))")
                continue
            }
            seen[account.name] = table["name"]?.line ?? item.line
            accounts.append(account)
        }
        return accounts
    }

    mutating func decodeAccount(_ s: Section) -> AccountConfig? {
        checkKnown(s, ["name", "platform", "base_url", "credentials", "quota", "mode", "allow_insecure_http"])
        let name = require(s, "name", Self.accountName)
        let platform = require(s, "platform", Self.platform)
        let insecure = read(s, "allow_insecure_http", Self.bool) ?? false
        let baseURL = require(s, "base_url") { value -> Conversion<String> in
            guard case .ok(let url) = Self.baseURL(value) else { return Self.baseURL(value) }
            if !insecure, url.hasPrefix("http://"), !Self.isLoopbackURL(url) {
                return .bad("http:// to a host other than this machine sends the account's tokens in clear: use https://, or set allow_insecure_http = true")
            }
            return .ok(url)
        }
        let credentials = require(s, "credentials", Self.credentialsFile)
        let quota = decodeQuota(s)
        // A bad mode is reported (so the config is refused); the default keeps the rest checked.
        let mode = read(s, "mode", Self.postingMode) ?? .api
        guard let name, let platform, let baseURL, let credentials, let quota else { return nil }
        return AccountConfig(
            name: name, platform: platform, baseURL: baseURL, credentials: credentials, quota: quota, mode: mode, line: s.line)
    }

    mutating func decodeQuota(_ account: Section) -> Quota? {
        var quota = Quota()
        guard account.table["quota"] != nil else { return quota }
        guard let s = subsection(account, "quota", expected: "a table such as { hourly = 30, daily = 300 }") else {
            return nil
        }
        let errorsBefore = diagnostics.count
        checkKnown(s, ["hourly", "daily"])
        let hourly = read(s, "hourly") { Self.integer($0, Limits.quota) }
        let daily = read(s, "daily") { Self.integer($0, Limits.quota) }
        if let hourly { quota.hourly = Int(hourly) }
        if let daily { quota.daily = Int(daily) }
        guard diagnostics.count == errorsBefore else { return nil }
        if quota.hourly > quota.daily {
            if let node = s.table["hourly"] {
                report(node.line, s.keyPath("hourly"), "must not exceed daily (\(quota.daily)), got \(quota.hourly)")
            } else if let node = s.table["daily"] {
                report(node.line, s.keyPath("daily"), "must be at least hourly (\(quota.hourly)), got \(quota.daily)")
            }
            return nil
        }
        return quota
    }

    // MARK: [workers.ROLE]

    mutating func decodeWorker(_ role: Role, _ s: Section) -> WorkerConfig {
        var worker = WorkerConfig.defaults(for: role)
        checkKnown(
            s,
            [
                "enabled", "memory_max", "pids_max", "open_files_max", "heartbeat_interval", "hang_timeout",
                "term_grace", "drain_timeout", "restart_base_delay", "restart_max_delay", "restart_intensity",
                "restart_window", "stable_after", "concurrency",
            ] + Self.roleKeys(role))
        func duration(_ range: ClosedRange<Int64>) -> (TOMLValue) -> Conversion<Int64> {
            { Self.duration($0, range) }
        }
        func integer(_ range: ClosedRange<Int64>) -> (TOMLValue) -> Conversion<Int> {
            { value in
                switch Self.integer(value, range) {
                case .ok(let i): .ok(Int(i))
                case .bad(let message): .bad(message)
                }
            }
        }
        if let v = read(s, "enabled", Self.bool) { worker.enabled = v }
        if let v = read(s, "memory_max", { Self.byteSize($0, Limits.memoryMax) }) { worker.memoryMax = v }
        if let v = read(s, "pids_max", integer(Limits.pidsMax)) { worker.pidsMax = v }
        if let v = read(s, "open_files_max", integer(Limits.openFilesMax)) { worker.openFilesMax = v }
        let heartbeat = read(s, "heartbeat_interval", duration(Limits.heartbeatInterval))
        let hang = read(s, "hang_timeout", duration(Limits.hangTimeout))
        if let v = read(s, "term_grace", duration(Limits.termGrace)) { worker.termGraceMs = v }
        if let v = read(s, "drain_timeout", duration(Limits.drainTimeout)) { worker.drainTimeoutMs = v }
        let baseDelay = read(s, "restart_base_delay", duration(Limits.restartDelay))
        let maxDelay = read(s, "restart_max_delay", duration(Limits.restartDelay))
        if let v = read(s, "restart_intensity", integer(Limits.restartIntensity)) { worker.restart.intensity = v }
        if let v = read(s, "restart_window", duration(Limits.restartWindow)) { worker.restart.windowMs = v }
        if let v = read(s, "stable_after", duration(Limits.stableAfter)) { worker.restart.stableAfterMs = v }
        if let v = read(s, "concurrency", integer(Limits.concurrency)) { worker.concurrency = v }

        // Cross-checks, only between values that are themselves valid.
        let heartbeatValid = heartbeat != nil || s.table["heartbeat_interval"] == nil
        let hangValid = hang != nil || s.table["hang_timeout"] == nil
        if let heartbeat { worker.heartbeatIntervalMs = heartbeat }
        if let hang { worker.hangTimeoutMs = hang }
        if heartbeatValid && hangValid && worker.hangTimeoutMs <= 2 * worker.heartbeatIntervalMs {
            let hb = DurationText.format(millis: worker.heartbeatIntervalMs)
            let ht = DurationText.format(millis: worker.hangTimeoutMs)
            if let node = s.table["hang_timeout"] {
                report(
                    node.line, s.keyPath("hang_timeout"),
                    "must be more than twice heartbeat_interval (\(hb)), got \(ht)")
            } else if let node = s.table["heartbeat_interval"] {
                report(
                    node.line, s.keyPath("heartbeat_interval"),
                    "must be less than half of hang_timeout (\(ht)), got \(hb)")
            }
        }

        let baseValid = baseDelay != nil || s.table["restart_base_delay"] == nil
        let maxValid = maxDelay != nil || s.table["restart_max_delay"] == nil
        if let baseDelay { worker.restart.baseDelayMs = baseDelay }
        if let maxDelay { worker.restart.maxDelayMs = maxDelay }
        if baseValid && maxValid && worker.restart.baseDelayMs > worker.restart.maxDelayMs {
            let base = DurationText.format(millis: worker.restart.baseDelayMs)
            let max = DurationText.format(millis: worker.restart.maxDelayMs)
            if let node = s.table["restart_max_delay"] {
                report(
                    node.line, s.keyPath("restart_max_delay"),
                    "must be at least restart_base_delay (\(base)), got \(max)")
            } else if let node = s.table["restart_base_delay"] {
                report(
                    node.line, s.keyPath("restart_base_delay"),
                    "must not exceed restart_max_delay (\(max)), got \(base)")
            }
        }
        return worker
    }
}
