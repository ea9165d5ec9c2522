import SteadyCore
import Testing

@testable import SteadyConfig

/// The diagnostics of `text` as printed by check-config, or [] when it is valid.
func diagnostics(_ text: String, path: String = "t.toml") -> [String] {
    do {
        _ = try Config.parse(text, path: path)
        return []
    } catch {
        return error.diagnostics.map(\.description)
    }
}

/// A valid account table to build on.
func account(_ extra: String = "", name: String = "a", omitting omitted: Set<String> = []) -> String {
    var lines = ["[[accounts]]"]
    let fields = [
        ("name", "\"\(name)\""), ("platform", "\"x\""), ("base_url", "\"https://api.x.com\""),
        ("credentials", "\"a.json\""),
    ]
    for (key, value) in fields where !omitted.contains(key) { lines.append("\(key) = \(value)") }
    if !extra.isEmpty { lines.append(extra) }
    return lines.joined(separator: "\n")
}

private let roles = "posting, metrics, replies, browser, reconciler, api"
private let durationHint = "(use a number and ms, s, m or h, e.g. \"250ms\", \"1.5s\", \"2m\")"

@Suite("Config validation")
struct ConfigValidationTests {
    @Test(arguments: [
        // Unknown keys and tables.
        ("nope = 1", "t.toml:1: nope: unknown key (expected one of: daemon, api, health, media, accounts, workers)"),
        ("[bogus]\nx = 1", "t.toml:1: bogus: unknown key (expected one of: daemon, api, health, media, accounts, workers)"),
        ("[deamon]", "t.toml:1: deamon: unknown key (did you mean \"daemon\"?)"),
        ("[daemon]\nstate_dirr = \"/x\"", "t.toml:2: daemon.state_dirr: unknown key (did you mean \"state_dir\"?)"),
        ("[api]\nport = 1", "t.toml:2: api.port: unknown key (expected one of: listen, health_public, header_timeout, idle_timeout, max_connections, allowed_hosts)"),
        ("[workers.posting]\nhang = 1", "t.toml:2: workers.posting.hang: unknown key (did you mean \"hang_timeout\"?)"),
        ("[workers.poster]", "t.toml:1: workers.poster: unknown worker role \"poster\" (valid roles: \(roles))"),
        ("[workers]\n\"a b\" = {}", "t.toml:2: workers.\"a b\": unknown worker role \"a b\" (valid roles: \(roles))"),
        // Wrong types.
        ("daemon = 1", "t.toml:1: daemon: expected a table, got an integer"),
        ("workers = []", "t.toml:1: workers: expected a table, got an array"),
        ("workers = { posting = 5 }", "t.toml:1: workers.posting: expected a table, got an integer"),
        ("[daemon]\nstate_dir = 5", "t.toml:2: daemon.state_dir: expected a string, got an integer"),
        ("[daemon]\nallow_fault_injection = \"yes\"", "t.toml:2: daemon.allow_fault_injection: expected a boolean, got a string"),
        ("[daemon]\ncontrol_group = true", "t.toml:2: daemon.control_group: expected a string, got a boolean"),
        ("[api]\nlisten = 8787", "t.toml:2: api.listen: expected a string, got an integer"),
        ("[workers.posting]\nenabled = 1", "t.toml:2: workers.posting.enabled: expected a boolean, got an integer"),
        ("[workers.posting]\npids_max = \"64\"", "t.toml:2: workers.posting.pids_max: expected an integer, got a string"),
        ("[workers.posting]\nconcurrency = 1.0", "t.toml:2: workers.posting.concurrency: expected an integer, got a float"),
        (
            "[workers.posting]\nterm_grace = 1.5",
            "t.toml:2: workers.posting.term_grace: expected a duration (a string such as \"1.5s\" or integer milliseconds), got a float"
        ),
        (
            "[workers.posting]\nmemory_max = [1]",
            "t.toml:2: workers.posting.memory_max: expected a byte size (integer bytes or a string such as \"256M\"), got an array"
        ),
        // Bad values and ranges.
        ("[daemon]\nstate_dir = \"\"", "t.toml:2: daemon.state_dir: must not be empty"),
        ("[daemon]\nshutdown_timeout = \"abc\"", "t.toml:2: daemon.shutdown_timeout: invalid duration \"abc\" \(durationHint)"),
        ("[daemon]\nshutdown_timeout = \"5\"", "t.toml:2: daemon.shutdown_timeout: invalid duration \"5\" \(durationHint)"),
        ("[daemon]\nshutdown_timeout = 50", "t.toml:2: daemon.shutdown_timeout: must be between 100ms and 1h, got 50ms"),
        ("[daemon]\nshutdown_timeout = \"2h\"", "t.toml:2: daemon.shutdown_timeout: must be between 100ms and 1h, got 2h"),
        (
            "[daemon]\ncontrol_group = \"ops team\"",
            "t.toml:2: daemon.control_group: invalid group name \"ops team\" (1-32 characters: a letter or '_', then letters, digits, '_', '-', '.')"
        ),
        (
            "[daemon]\nruntime_dir = \"/\(String(repeating: "r", count: 100))\"",
            "t.toml:2: daemon.runtime_dir: the control socket path /\(String(repeating: "r", count: 100))/control.sock is 114 bytes; at most 107 fit in a Unix socket address"
        ),
        ("[api]\nlisten = \"localhost\"", "t.toml:2: api.listen: expected HOST:PORT with a port from 0 to 65535, got \"localhost\""),
        ("[api]\nlisten = \"127.0.0.1:65536\"", "t.toml:2: api.listen: expected HOST:PORT with a port from 0 to 65535, got \"127.0.0.1:65536\""),
        ("[api]\nlisten = \":80\"", "t.toml:2: api.listen: expected HOST:PORT with a port from 0 to 65535, got \":80\""),
        ("[api]\nlisten = \"::1:80\"", "t.toml:2: api.listen: expected HOST:PORT with a port from 0 to 65535, got \"::1:80\""),
        ("[api]\nlisten = \"host:-1\"", "t.toml:2: api.listen: expected HOST:PORT with a port from 0 to 65535, got \"host:-1\""),
        ("[workers.posting]\npids_max = 0", "t.toml:2: workers.posting.pids_max: must be between 1 and 4194304, got 0"),
        ("[workers.posting]\nopen_files_max = 8", "t.toml:2: workers.posting.open_files_max: must be between 16 and 1048576, got 8"),
        ("[workers.posting]\nconcurrency = 0", "t.toml:2: workers.posting.concurrency: must be between 1 and 1024, got 0"),
        ("[workers.posting]\nrestart_intensity = -1", "t.toml:2: workers.posting.restart_intensity: must be between 1 and 10000, got -1"),
        ("[workers.posting]\nrestart_window = \"500ms\"", "t.toml:2: workers.posting.restart_window: must be between 1s and 24h, got 500ms"),
        ("[workers.posting]\nstable_after = -5", "t.toml:2: workers.posting.stable_after: must be between 0s and 24h, got -5ms"),
        ("[workers.posting]\nheartbeat_interval = \"0.5ms\"", "t.toml:2: workers.posting.heartbeat_interval: invalid duration \"0.5ms\" \(durationHint)"),
        ("[workers.posting]\nheartbeat_interval = \"5ms\"", "t.toml:2: workers.posting.heartbeat_interval: must be between 10ms and 1m, got 5ms"),
        ("[workers.posting]\ndrain_timeout = \"11m\"", "t.toml:2: workers.posting.drain_timeout: must be between 0s and 10m, got 11m"),
        (
            "[workers.posting]\nmemory_max = \"1X\"",
            "t.toml:2: workers.posting.memory_max: invalid byte size \"1X\" (use bytes or a number and K, M, G or T, e.g. \"256M\", \"1G\")"
        ),
        ("[workers.posting]\nmemory_max = \"1M\"", "t.toml:2: workers.posting.memory_max: must be between 8M and 1T, got 1M"),
        ("[workers.posting]\nmemory_max = -1", "t.toml:2: workers.posting.memory_max: must be between 8M and 1T, got -1"),
        ("[workers.browser]\nmemory_max = \"2T\"", "t.toml:2: workers.browser.memory_max: must be between 8M and 1T, got 2T"),
        // Cross-checks.
        (
            "[workers.posting]\nhang_timeout = \"2s\"\nheartbeat_interval = \"1s\"",
            "t.toml:2: workers.posting.hang_timeout: must be more than twice heartbeat_interval (1s), got 2s"
        ),
        (
            "[workers.posting]\nheartbeat_interval = \"6s\"",
            "t.toml:2: workers.posting.heartbeat_interval: must be less than half of hang_timeout (10s), got 6s"
        ),
        (
            "[workers.replies]\n\nhang_timeout = 1500",
            "t.toml:3: workers.replies.hang_timeout: must be more than twice heartbeat_interval (2s), got 1.5s"
        ),
        (
            "[workers.posting]\nrestart_base_delay = \"1m\"\nrestart_max_delay = \"30s\"",
            "t.toml:3: workers.posting.restart_max_delay: must be at least restart_base_delay (1m), got 30s"
        ),
        (
            "[workers.posting]\nrestart_base_delay = \"1m\"",
            "t.toml:2: workers.posting.restart_base_delay: must not exceed restart_max_delay (30s), got 1m"
        ),
        // Accounts.
        ("accounts = 1", "t.toml:1: accounts: expected an array of tables ([[accounts]]), got an integer"),
        ("accounts = [1]", "t.toml:1: accounts[0]: expected a table, got an integer"),
        (account(omitting: ["name"]), "t.toml:1: accounts[0].name: required key is missing"),
        (account(omitting: ["platform"]), "t.toml:1: accounts[0].platform: required key is missing"),
        (account(omitting: ["base_url"]), "t.toml:1: accounts[0].base_url: required key is missing"),
        (account(omitting: ["credentials"]), "t.toml:1: accounts[0].credentials: required key is missing"),
        (account(name: "News_X"), "t.toml:2: accounts[0].name: invalid account name \"News_X\" (1-64 characters of a-z, 0-9 and '-')"),
        (account(name: ""), "t.toml:2: accounts[0].name: invalid account name \"\" (1-64 characters of a-z, 0-9 and '-')"),
        (
            account(name: String(repeating: "a", count: 65)),
            "t.toml:2: accounts[0].name: invalid account name \"\(String(repeating: "a", count: 65))\" (1-64 characters of a-z, 0-9 and '-')"
        ),
        (
            account(omitting: ["platform"]) + "\nplatform = \"myspace\"",
            "t.toml:5: accounts[0].platform: unknown platform \"myspace\" (valid platforms: x, mastodon, bluesky, facebook)"
        ),
        (account(omitting: ["platform"]) + "\nplatform = 1", "t.toml:5: accounts[0].platform: expected a string, got an integer"),
        (
            account(omitting: ["base_url"]) + "\nbase_url = \"ftp://example.com\"",
            "t.toml:5: accounts[0].base_url: must start with http:// or https://, got \"ftp://example.com\""
        ),
        (
            account(omitting: ["base_url"]) + "\nbase_url = \"https://\"",
            "t.toml:5: accounts[0].base_url: invalid URL \"https://\" (expected http://HOST[:PORT][/PATH])"
        ),
        (
            account(omitting: ["credentials"]) + "\ncredentials = \"../secrets.json\"",
            "t.toml:5: accounts[0].credentials: must be a file name in credentials_dir (no '/'), got \"../secrets.json\""
        ),
        (
            account(omitting: ["credentials"]) + "\ncredentials = \"..\"",
            "t.toml:5: accounts[0].credentials: must be a file name in credentials_dir (no '/'), got \"..\""
        ),
        (
            account("quota = 5"),
            "t.toml:6: accounts[0].quota: expected a table such as { hourly = 30, daily = 300 }, got an integer"
        ),
        (account("quota = { hourly = -1 }"), "t.toml:6: accounts[0].quota.hourly: must be between 0 and 1000000, got -1"),
        (account("quota = { hourly = \"1\" }"), "t.toml:6: accounts[0].quota.hourly: expected an integer, got a string"),
        (account("quota = { weekly = 1 }"), "t.toml:6: accounts[0].quota.weekly: unknown key (expected one of: hourly, daily)"),
        (account("quota = { hourly = 500 }"), "t.toml:6: accounts[0].quota.hourly: must not exceed daily (300), got 500"),
        (account("quota = { daily = 10 }"), "t.toml:6: accounts[0].quota.daily: must be at least hourly (30), got 10"),
        (account("[accounts.quota]\n\nhourly = 40\ndaily = 20"), "t.toml:8: accounts[0].quota.hourly: must not exceed daily (20), got 40"),
        (account("nmae = \"x\""), "t.toml:6: accounts[0].nmae: unknown key (did you mean \"name\"?)"),
        (
            account(name: "dup") + "\n" + account(name: "other") + "\n" + account(name: "dup"),
            "t.toml:12: accounts[2].name: duplicate account name \"dup\" (first on line 2)"
        ),
    ] as [(String, String)])
    func singleError(text: String, expected: String) {
        #expect(diagnostics(text) == [expected])
    }

    @Test func everyErrorIsReportedSortedByLine() {
        let text = """
            [workers.posting]
            hang_timeout = "1s"
            pids_max = 0

            [daemon]
            shutdown_timeout = "forever"
            colour = "blue"

            [[accounts]]
            name = "BAD"
            platform = "myspace"

            [[accounts]]
            platform = "x"
            base_url = "https://api.x.com"
            credentials = "ok.json"

            [api]
            listen = "nowhere"

            [mystery]
            """
        #expect(
            diagnostics(text, path: "/etc/steadypost/steadypost.toml") == [
                "/etc/steadypost/steadypost.toml:2: workers.posting.hang_timeout: must be more than twice heartbeat_interval (2s), got 1s",
                "/etc/steadypost/steadypost.toml:3: workers.posting.pids_max: must be between 1 and 4194304, got 0",
                "/etc/steadypost/steadypost.toml:6: daemon.shutdown_timeout: invalid duration \"forever\" \(durationHint)",
                "/etc/steadypost/steadypost.toml:7: daemon.colour: unknown key (expected one of: state_dir, runtime_dir, credentials_dir, control_group, allow_fault_injection, shutdown_timeout)",
                "/etc/steadypost/steadypost.toml:9: accounts[0].base_url: required key is missing",
                "/etc/steadypost/steadypost.toml:9: accounts[0].credentials: required key is missing",
                "/etc/steadypost/steadypost.toml:10: accounts[0].name: invalid account name \"BAD\" (1-64 characters of a-z, 0-9 and '-')",
                "/etc/steadypost/steadypost.toml:11: accounts[0].platform: unknown platform \"myspace\" (valid platforms: x, mastodon, bluesky, facebook)",
                "/etc/steadypost/steadypost.toml:13: accounts[1].name: required key is missing",
                "/etc/steadypost/steadypost.toml:19: api.listen: expected HOST:PORT with a port from 0 to 65535, got \"nowhere\"",
                "/etc/steadypost/steadypost.toml:21: mystery: unknown key (expected one of: daemon, api, health, media, accounts, workers)",
            ])
    }

    @Test func errorsAreStructured() throws {
        do {
            _ = try Config.parse("[workers.metrics]\nconcurrency = 0", path: "c.toml")
            Issue.record("expected an error")
        } catch {
            #expect(
                error.diagnostics == [
                    ConfigDiagnostic(
                        path: "c.toml", line: 2, key: "workers.metrics.concurrency",
                        message: "must be between 1 and 1024, got 0")
                ])
        }
    }

    @Test(arguments: [
        "[workers.posting]\nheartbeat_interval = \"5ms\"\nhang_timeout = \"5ms\"",
        "[workers.posting]\nrestart_base_delay = \"2h\"\nrestart_max_delay = \"1s\"",
    ])
    func crossChecksSkipInvalidValues(text: String) {
        // Only the range errors, no cross-check built on an invalid value.
        #expect(diagnostics(text).allSatisfy { $0.contains("must be between") })
    }

    @Test(arguments: [
        "[api]\nlisten = \"0.0.0.0:0\"",
        "[api]\nlisten = \"[::]:65535\"",
        "[api]\nlisten = \"localhost:8080\"",
        "[daemon]\ncontrol_group = \"_ops.team-1\"",
        "[workers.posting]\nheartbeat_interval = \"1s\"\nhang_timeout = 2001",
        "[workers.posting]\nmemory_max = \"8M\"",
        "[workers.posting]\nmemory_max = \"1T\"",
        "[workers.posting]\nrestart_base_delay = \"30s\"",
        "[workers.posting]\nrestart_base_delay = 0\nrestart_max_delay = 0",
        "workers.posting.enabled = false",
        "[workers]\nposting = { enabled = false, memory_max = \"64MiB\" }",
        "accounts = []",
        "accounts = [{ name = \"a\", platform = \"x\", base_url = \"https://h\", credentials = \"c\" }]",
        account(omitting: ["base_url"]) + "\nbase_url = \"http://127.0.0.2:80/api\"",
        account(omitting: ["base_url"]) + "\nbase_url = \"http://localhost\"",
        account(omitting: ["base_url"]) + "\nbase_url = \"http://[::1]:8700\"",
        account(omitting: ["base_url"]) + "\nbase_url = \"http://10.1.2.3\"\nallow_insecure_http = true",
    ])
    func validEdgeCases(text: String) {
        #expect(diagnostics(text) == [])
    }

    @Test("plain http:// to another host is refused unless allowed; exposed listeners and insecure accounts are warned about")
    func insecureTransportsAndExposure() throws {
        #expect(diagnostics(account(omitting: ["base_url"]) + "\nbase_url = \"http://api.example.com\"") == [
            "t.toml:5: accounts[0].base_url: http:// to a host other than this machine sends the account's tokens in clear: use https://, or set allow_insecure_http = true",
        ])
        #expect(diagnostics(account(omitting: ["base_url"]) + "\nbase_url = \"http://127.0.0.1.evil.example\"").count == 1)
        #expect(try Config.parse(account(), path: "t.toml").warnings.isEmpty, "the defaults warn of nothing")
        let exposed = try Config.parse("[api]\nlisten = \"0.0.0.0:8787\"\nhealth_public = true\n" + account(omitting: ["base_url"])
                                       + "\nbase_url = \"http://10.1.2.3\"\nallow_insecure_http = true", path: "t.toml")
        #expect(exposed.warnings.count == 3)
        #expect(exposed.warnings.contains { $0.contains("every address of this machine") && $0.contains("in clear") })
        #expect(exposed.warnings.contains { $0.hasPrefix("api.health_public = true") })
        #expect(exposed.warnings.contains { $0.contains("accounts a: base_url http://10.1.2.3 is plain HTTP") })
    }
}
