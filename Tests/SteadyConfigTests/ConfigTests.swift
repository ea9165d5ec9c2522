import Glibc
import SteadyCore
import Testing

@testable import SteadyConfig

/// The checkout's root, from this file's path (Tests/SteadyConfigTests/ConfigTests.swift).
let repositoryRoot: String = {
    var parts = String(#filePath).split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

let examplePath = repositoryRoot + "/Config/steadypost.example.toml"
let demoPath = repositoryRoot + "/Config/demo.toml"

func readText(_ path: String) throws -> String {
    switch ConfigFile.read(path) {
    case .success(let text): return text
    case .failure(let problem): throw problem
    }
}

@Suite("Config loading")
struct ConfigTests {
    @Test func emptyFileGivesDefaults() throws {
        let config = try Config.parse("", path: "/etc/steadypost/steadypost.toml")
        #expect(config == Config.defaults(path: "/etc/steadypost/steadypost.toml"))
        #expect(config.daemon.stateDir == "/var/lib/steadypost")
        #expect(config.daemon.runtimeDir == "/run/steadypost")
        #expect(config.daemon.credentialsDir == "/etc/steadypost/credentials")
        #expect(config.daemon.controlGroup == nil)
        #expect(config.daemon.allowFaultInjection == false)
        #expect(config.daemon.shutdownTimeoutMs == 10_000)
        #expect(config.daemon.controlSocketPath == "/run/steadypost/control.sock")
        #expect(config.api.listen == "127.0.0.1:8787")
        #expect(config.api.host == "127.0.0.1")
        #expect(config.api.port == 8787)
        #expect(config.accounts.isEmpty)
        #expect(Set(config.workers.keys) == Set(Role.allCases))
        for role in Role.allCases {
            let worker = try #require(config.workers[role])
            #expect(worker.role == role)
            #expect(worker.enabled)
            #expect(worker.memoryMax == (role == .browser ? 2 << 30 : 256 << 20))
            #expect(worker.pidsMax == (role == .browser ? 512 : 64))
            #expect(worker.openFilesMax == 1024)
            #expect(worker.heartbeatIntervalMs == 2000)
            #expect(worker.hangTimeoutMs == 10_000)
            #expect(worker.termGraceMs == 3000)
            #expect(worker.drainTimeoutMs == 5000)
            #expect(
                worker.restart
                    == RestartPolicy(
                        baseDelayMs: 250, maxDelayMs: 30_000, intensity: 5, windowMs: 60_000, stableAfterMs: 30_000))
            #expect(worker.concurrency == (role == .posting ? 4 : 1))
        }
    }

    @Test func commentsOnlyFileGivesDefaults() throws {
        let config = try Config.parse("# nothing here\n\n", path: "/x.toml")
        #expect(config == Config.defaults(path: "/x.toml"))
    }

    @Test func exampleFileParsesClean() throws {
        let config = try Config.load(path: examplePath)
        #expect(config.path == examplePath)
        #expect(config.daemon == DaemonConfig())
        #expect(config.api == APIConfig())
        // The example shows every worker key at its default.
        #expect(config.workers == WorkerConfig.allDefaults())
        #expect(config.posting == PostingConfig())
        #expect(config.media == MediaConfig())
        #expect(config.accounts.map(\.name) == ["news-x", "news-mastodon", "news-bluesky", "news-facebook"])
        #expect(config.accounts.map(\.platform) == [.x, .mastodon, .bluesky, .facebook])
        #expect(config.accounts.map(\.baseURL) == ["https://api.x.com", "https://mastodon.social", "https://bsky.social", "https://graph.facebook.com"])
        #expect(config.accounts.map(\.credentials) == ["news-x.json", "news-mastodon.json", "news-bluesky.json", "news-facebook.json"])
        #expect(config.accounts.allSatisfy { $0.quota == Quota(hourly: 30, daily: 300) })
        #expect(config.credentialsPath(for: config.accounts[0]) == "/etc/steadypost/credentials/news-x.json")
        #expect(config.credentialsPath(for: config.accounts[0], directory: "/run/credentials/x/") == "/run/credentials/x/news-x.json")
    }

    /// Every key the loader accepts appears in the example, with a comment above it.
    @Test(arguments: [
        "state_dir", "runtime_dir", "credentials_dir", "control_group", "allow_fault_injection", "shutdown_timeout",
        "listen", "name", "platform", "base_url", "credentials", "quota", "hourly", "daily", "enabled", "memory_max",
        "pids_max", "open_files_max", "heartbeat_interval", "hang_timeout", "term_grace", "drain_timeout",
        "restart_base_delay", "restart_max_delay", "restart_intensity", "restart_window", "stable_after", "concurrency",
        "allow_insecure_http", "lease", "chunk_bytes", "retain_after_final", "public_base_url",
    ])
    func exampleDocumentsKey(key: String) throws {
        let lines = try readText(examplePath).split(separator: "\n", omittingEmptySubsequences: false)
        let index = try #require(
            lines.firstIndex { line in
                var text = line.drop { $0 == " " || $0 == "#" }
                guard text.hasPrefix(key) else { return false }
                text = text.dropFirst(key.count).drop { $0 == " " }
                return text.hasPrefix("=")
            }, "\(key) is not in the example")
        // Above it, past the other keys of its group, is a comment.
        var above = index - 1
        while above >= 0, lines[above].contains("="), !lines[above].hasPrefix("#") { above -= 1 }
        #expect(above >= 0 && lines[above].hasPrefix("#"), "\(key) has no comment above it")
    }

    @Test func demoFileParsesClean() throws {
        let config = try Config.load(path: demoPath)
        #expect(config.daemon.stateDir == repositoryRoot + "/.demo/state")
        #expect(config.daemon.runtimeDir == repositoryRoot + "/.demo/run")
        #expect(config.daemon.credentialsDir == repositoryRoot + "/.demo/credentials")
        #expect(config.daemon.controlSocketPath == repositoryRoot + "/.demo/run/control.sock")
        #expect(config.daemon.allowFaultInjection)
        #expect(config.api.listen == "127.0.0.1:8787")
        #expect(config.accounts.isEmpty)
        #expect(Set(config.workers.keys) == Set(Role.allCases))
        for worker in config.workers.values {
            #expect(worker.enabled)
            #expect(worker.heartbeatIntervalMs == 500)
            #expect(worker.hangTimeoutMs == 5000)
        }
        // scripts/demo.sh runs a release build, which has no STEADYPOST_POSTING_LEASE_MS: a
        // post whose worker it kills is resolved within seconds through this short lease.
        #expect(config.posting.leaseMs == 10_000)
    }

    @Test func relativePathsResolveAgainstTheFilesDirectory() throws {
        let text = """
            [daemon]
            state_dir = "state"
            runtime_dir = "./run/"
            credentials_dir = "../creds"
            """
        let config = try Config.parse(text, path: "/etc/steadypost/steadypost.toml")
        #expect(config.daemon.stateDir == "/etc/steadypost/state")
        #expect(config.daemon.runtimeDir == "/etc/steadypost/run")
        #expect(config.daemon.credentialsDir == "/etc/creds")
        #expect(config.daemon.controlSocketPath == "/etc/steadypost/run/control.sock")

        let relative = try Config.parse(text, path: "conf/sp.toml")
        #expect(relative.path == "conf/sp.toml")
        #expect(relative.daemon.stateDir == ConfigPaths.currentDirectory().normalizedForTest + "/conf/state")
        let absolute = try Config.parse("[daemon]\nstate_dir = \"/srv//sp/./state\"", path: "/x/y.toml")
        #expect(absolute.daemon.stateDir == "/srv/sp/state")
    }

    @Test func everySettingIsRead() throws {
        let text = """
            [daemon]
            control_group = "steadypost-ops"
            allow_fault_injection = true
            shutdown_timeout = 2500

            [api]
            listen = "[::1]:0"

            [[accounts]]
            name = "a-1"
            platform = "bluesky"
            base_url = "http://127.0.0.1:4000/"
            credentials = "a.json"
            quota = { hourly = 0, daily = 0 }

            [workers.browser]
            enabled = false
            memory_max = "1.5G"
            pids_max = 100
            open_files_max = 4096
            heartbeat_interval = 200
            hang_timeout = "1m30s"
            term_grace = "0s"
            drain_timeout = "2m"
            restart_base_delay = "10ms"
            restart_max_delay = "1h"
            restart_intensity = 3
            restart_window = "5m"
            stable_after = "0"
            concurrency = 8

            [workers]
            api.memory_max = 67108864
            """
        let config = try Config.parse(text, path: "/t.toml")
        #expect(config.daemon.controlGroup == "steadypost-ops")
        #expect(config.daemon.allowFaultInjection)
        #expect(config.daemon.shutdownTimeoutMs == 2500)
        #expect(config.api == APIConfig(host: "::1", port: 0))
        #expect(config.api.listen == "[::1]:0")
        #expect(
            config.accounts == [
                AccountConfig(
                    name: "a-1", platform: .bluesky, baseURL: "http://127.0.0.1:4000", credentials: "a.json",
                    quota: Quota(hourly: 0, daily: 0), line: 9)
            ])
        let browser = try #require(config.workers[.browser])
        #expect(
            browser
                == WorkerConfig(
                    role: .browser, enabled: false, memoryMax: 1536 << 20, pidsMax: 100, openFilesMax: 4096,
                    heartbeatIntervalMs: 200, hangTimeoutMs: 90_000, termGraceMs: 0, drainTimeoutMs: 120_000,
                    restart: RestartPolicy(
                        baseDelayMs: 10, maxDelayMs: 3_600_000, intensity: 3, windowMs: 300_000, stableAfterMs: 0),
                    concurrency: 8))
        #expect(config.workers[.api]?.memoryMax == 64 << 20)
        #expect(config.workers[.posting] == WorkerConfig.defaults(for: .posting))
        #expect(config.worker(.metrics) == WorkerConfig.defaults(for: .metrics))
        #expect(config.account(named: "a-1")?.platform == .bluesky)
        #expect(config.account(named: "nobody") == nil)
    }

    @Test func quotaAsSubTableAndAccountLines() throws {
        let text = """
            [[accounts]]
            name = "one"
            platform = "x"
            base_url = "https://api.x.com"
            credentials = "one.json"
            [accounts.quota]
            hourly = 5

            [[accounts]]
            name = "two"
            platform = "mastodon"
            base_url = "https://mastodon.social"
            credentials = "two.json"
            """
        let config = try Config.parse(text, path: "/t.toml")
        #expect(config.accounts.map(\.line) == [1, 9])
        #expect(config.accounts[0].quota == Quota(hourly: 5, daily: 300))
        #expect(config.accounts[1].quota == Quota())
    }

    @Test func systemdDirectoriesOverrideTheFile() throws {
        let config = try Config.parse("[daemon]\nstate_dir = \"/s\"\nruntime_dir = \"/r\"", path: "/t.toml")
        let applied = config.applyingEnvironment([
            "STATE_DIRECTORY": "/var/lib/steadypost:/var/lib/other", "RUNTIME_DIRECTORY": "relative",
            "CREDENTIALS_DIRECTORY": "/run/credentials/steadypost.service",
        ])
        #expect(applied.daemon.stateDir == "/var/lib/steadypost")
        #expect(applied.daemon.runtimeDir == "/r")
        #expect(applied.daemon.credentialsDir == "/run/credentials/steadypost.service")
        #expect(config.applyingEnvironment([:]) == config)
    }

    @Test func loadReportsUnreadableFiles() {
        #expect(
            throws: ConfigError(diagnostics: [
                ConfigDiagnostic(
                    path: "/nonexistent/steadypost.toml", line: 0, key: "-",
                    message: "cannot open config file: No such file or directory")
            ])
        ) {
            try Config.load(path: "/nonexistent/steadypost.toml")
        }
        let error = ConfigDiagnostic(path: "/p.toml", line: 0, key: "-", message: "cannot open config file: x")
        #expect(error.description == "/p.toml:0: -: cannot open config file: x")
    }

    @Test func loadRejectsInvalidUTF8() throws {
        let path = "/tmp/steadyconfig-test-\(getpid()).toml"
        defer { unlink(path) }
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        try #require(fd >= 0)
        let bytes: [UInt8] = [0x61, 0x20, 0x3D, 0x20, 0x22, 0xFF, 0x22, 0x0A]
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
        #expect(
            throws: ConfigError(diagnostics: [
                ConfigDiagnostic(path: path, line: 0, key: "-", message: "config file is not valid UTF-8")
            ])
        ) {
            try Config.load(path: path)
        }
    }

    @Test func syntaxErrorsBecomeOneDiagnostic() {
        #expect(
            throws: ConfigError(diagnostics: [
                ConfigDiagnostic(path: "/t.toml", line: 3, key: "-", message: "unterminated string")
            ])
        ) {
            try Config.parse("[daemon]\n\nstate_dir = \"/var", path: "/t.toml")
        }
    }

    @Test func errorDescriptionHasOneLinePerDiagnostic() {
        let error = ConfigError(diagnostics: [
            ConfigDiagnostic(path: "a.toml", line: 1, key: "x", message: "one"),
            ConfigDiagnostic(path: "a.toml", line: 2, key: "y.z", message: "two"),
        ])
        #expect(error.description == "a.toml:1: x: one\na.toml:2: y.z: two")
    }
}

extension String {
    /// The working directory as `ConfigPaths` normalises it.
    fileprivate var normalizedForTest: String { ConfigPaths.normalize(self) == "/" ? "" : ConfigPaths.normalize(self) }
}
