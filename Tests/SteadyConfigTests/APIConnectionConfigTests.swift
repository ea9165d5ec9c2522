import SteadyCore
import Testing

@testable import SteadyConfig

/// `[api]`'s connection limits and Host allow-list: defaults, bounds, and the one
/// cross-check (the cap under the api worker's descriptor limit).
@Suite("[api] connection limits and allowed hosts")
struct APIConnectionConfigTests {
    @Test("defaults: 10 s for a request head, 60 s idle, 512 connections, the default hosts")
    func defaults() throws {
        let c = try Config.parse("", path: "/etc/t.toml")
        #expect(c.api.headerTimeoutMs == 10_000 && c.api.idleTimeoutMs == 60_000)
        #expect(c.api.maxConnections == nil && c.api.allowedHosts == nil)
        #expect(c.apiConnectionLimit() == 512)
        // A smaller descriptor limit, configured or found at run time, lowers the default cap.
        let small = try Config.parse("[workers.api]\nopen_files_max = 256", path: "/etc/t.toml")
        #expect(small.apiConnectionLimit() == 192)
        #expect(c.apiConnectionLimit(descriptorLimit: 100) == 36)
        #expect(c.apiConnectionLimit(descriptorLimit: 10) == 1)
    }

    @Test("every key is read")
    func everyKeyRead() throws {
        let c = try Config.parse("""
            [api]
            header_timeout = "2s"
            idle_timeout = "5m"
            max_connections = 900
            allowed_hosts = ["Dash.Example", "[::1]:8787", "*"]
            [workers.api]
            open_files_max = 2048
            """, path: "/etc/t.toml")
        #expect(c.api.headerTimeoutMs == 2000 && c.api.idleTimeoutMs == 300_000)
        #expect(c.api.maxConnections == 900 && c.apiConnectionLimit() == 900)
        #expect(c.api.allowedHosts == ["dash.example", "[::1]:8787", "*"])
    }

    @Test("bad values are refused, naming the key and the bound", arguments: [
        ("[api]\nheader_timeout = \"50ms\"", "t.toml:2: api.header_timeout: must be between 100ms and 10m, got 50ms"),
        ("[api]\nidle_timeout = \"2h\"", "t.toml:2: api.idle_timeout: must be between 100ms and 1h, got 2h"),
        ("[api]\nmax_connections = 0", "t.toml:2: api.max_connections: must be between 1 and 1048576, got 0"),
        ("[api]\nmax_connections = 1000",
         "t.toml:2: api.max_connections: must be at most workers.api.open_files_max (1024) less 64 descriptors the worker needs for itself, i.e. 960, got 1000"),
        ("[api]\nmax_connections = 200\n[workers.api]\nopen_files_max = 256",
         "t.toml:2: api.max_connections: must be at most workers.api.open_files_max (256) less 64 descriptors the worker needs for itself, i.e. 192, got 200"),
        ("[api]\nallowed_hosts = \"localhost\"", "t.toml:2: api.allowed_hosts: expected an array, got a string"),
        ("[api]\nallowed_hosts = [\"ok.example\", \"http://x\"]",
         "t.toml:2: api.allowed_hosts: [1]: expected a host name or address, optionally with :PORT (IPv6 in brackets), or \"*\"; got \"http://x\""),
        ("[api]\nallowed_hosts = [\"::1\"]",
         "t.toml:2: api.allowed_hosts: [0]: expected a host name or address, optionally with :PORT (IPv6 in brackets), or \"*\"; got \"::1\""),
    ])
    func refused(_ text: String, _ expected: String) {
        #expect(diagnostics(text) == [expected])
    }

    @Test("which Host headers the defaults and a list allow")
    func hostRules() {
        let api = APIConfig(host: "127.0.0.1", port: 0)
        #expect(api.allowsHost("127.0.0.1:8123", boundPort: 8123))
        #expect(api.allowsHost("LOCALHOST:8123", boundPort: 8123))
        #expect(api.allowsHost("[::1]:8123", boundPort: 8123))
        #expect(!api.allowsHost("127.0.0.1", boundPort: 8123))          // means port 80
        #expect(!api.allowsHost("evil.example:8123", boundPort: 8123))
        #expect(!api.allowsHost(nil, boundPort: 8123))
        #expect(APIConfig(host: "127.0.0.1", port: 80).allowsHost("localhost", boundPort: 80))
        #expect(APIConfig(host: "10.0.0.5", port: 8787).allowsHost("10.0.0.5:8787", boundPort: 8787))
        let listed = APIConfig(allowedHosts: ["dash.example", "m.example:9100"])
        #expect(listed.allowsHost("dash.example:1", boundPort: 8787) && listed.allowsHost("DASH.example", boundPort: 8787))
        #expect(listed.allowsHost("m.example:9100", boundPort: 8787) && !listed.allowsHost("m.example", boundPort: 8787))
        #expect(!listed.allowsHost("localhost:8787", boundPort: 8787))
        #expect(APIConfig(allowedHosts: ["*"]).allowsHost("anything", boundPort: 1))
    }
}
