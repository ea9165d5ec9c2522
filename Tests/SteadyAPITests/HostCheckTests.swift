import SteadyConfig
import SteadyCore
import SteadyPlatforms
import Testing
import class SteadyTestSupport.LoopbackConnection
@testable import SteadyAPI

/// DNS rebinding: a page on `evil.example`, whose name is made to point at 127.0.0.1, sends
/// `Host: evil.example`. The server answers only the names it listens on (or those
/// configured), before routing, with security headers on every answer.
@Suite("Host check and response headers, on the live server", .serialized, .timeLimit(.minutes(1)))
struct HostCheckTests {
    func get(_ port: Int, _ path: String, host: String?) throws -> (status: Int, headers: [String: String], body: String) {
        let hostLine = host.map { "Host: \($0)\r\n" } ?? ""
        return try LoopbackConnection(port: port).exchange("GET \(path) HTTP/1.1\r\n\(hostLine)Connection: close\r\n\r\n")
    }

    @Test("by default only the listen address, localhost, 127.0.0.1 and [::1] with the port are answered; others get 421 naming the Host",
          arguments: ["/", "/health", "/metrics", "/api/quotas", "/no-such-page"])
    func defaultHostsOnly(path: String) throws {
        let f = try APIFixture()
        let port = try f.serve()
        for host in ["127.0.0.1:\(port)", "localhost:\(port)", "LOCALHOST:\(port)", "[::1]:\(port)"] {
            let r = try get(port, path, host: host)
            #expect(r.status != 421 && r.status != 400, "\(host) \(path): \(r.status) \(r.body.prefix(200))")
        }
        for host in ["evil.example", "evil.example:\(port)", "127.0.0.1", "127.0.0.1:\(port + 1)", "localhost.evil.example:\(port)",
                     "127.0.0.1:\(port)@evil.example", "0x7f.1:\(port)", "[::1]"] {
            let r = try get(port, path, host: host)
            #expect(r.status == 421, "\(host) \(path): \(r.status) \(r.body.prefix(200))")
            let error = try JSON.parse(r.body)["error"]
            #expect(error?["code"]?.string == "misdirected" && error?["field"]?.string == "Host")
            #expect(error?["message"]?.string?.contains("api.allowed_hosts") == true, "\(r.body)")
            // Nothing of the page leaks into the refusal.
            #expect(!r.body.contains("steadypost_") && !r.body.contains("<html") && !r.body.contains("figures"))
        }
        let missing = try LoopbackConnection(port: port).exchange("GET \(path) HTTP/1.0\r\nConnection: close\r\n\r\n")
        #expect(missing.status == 400 && missing.body.contains("no Host header"), "\(missing)")
    }

    @Test("api.allowed_hosts replaces the defaults; a name without a port allows any port; \"*\" allows all")
    func configuredHosts() throws {
        let f = try APIFixture(apiTOML: "allowed_hosts = [\"dash.example\", \"Metrics.Example:9100\"]")
        let port = try f.serve()
        #expect(try get(port, "/health", host: "dash.example:\(port)").status == 200)
        #expect(try get(port, "/health", host: "dash.example").status == 200)
        #expect(try get(port, "/health", host: "metrics.example:9100").status == 200)
        #expect(try get(port, "/health", host: "metrics.example:\(port)").status == 421)
        #expect(try get(port, "/health", host: "127.0.0.1:\(port)").status == 421)
        let r = try get(port, "/health", host: "evil.example")
        #expect(try JSON.parse(r.body)["error"]?["message"]?.string?.contains("dash.example, metrics.example:9100") == true, "\(r.body)")

        let open = try APIFixture(apiTOML: "allowed_hosts = [\"*\"]")
        let openPort = try open.serve()
        #expect(try get(openPort, "/health", host: "anything.example").status == 200)
    }

    @Test("every answer carries the CSP and nosniff: pages, JSON, errors, refusals",
          arguments: ["/", "/health", "/metrics", "/api/quotas", "/api/posts/p_none", "/no-such-page"])
    func securityHeadersEverywhere(path: String) throws {
        let f = try APIFixture()
        let port = try f.serve()
        for host in ["127.0.0.1:\(port)", "evil.example"] {
            let r = try get(port, path, host: host)
            #expect(r.headers["content-security-policy"]?.hasPrefix("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:") == true,
                    "\(path) via \(host): \(r.status) \(r.headers)")
            #expect(r.headers["x-content-type-options"] == "nosniff", "\(path) via \(host)")
        }
    }

    @Test("Host values parse strictly", arguments: [
        ("localhost:8787", "localhost", 8787), ("LocalHost", "localhost", nil), ("[::1]:80", "::1", 80), ("a-b.c_d", "a-b.c_d", nil),
    ] as [(String, String, Int?)])
    func hostParsing(_ text: String, _ host: String, _ port: Int?) {
        let parsed = APIConfig.parseHostHeader(text)
        #expect(parsed?.host == host && parsed?.port == port)
    }

    @Test("malformed Host values are refused", arguments: [
        "", ":80", "host:", "host:0", "host:65536", "host:80:80", "[::1", "[zz]:1", "a b", "a/b", "u@h", "h\r\n", "h\u{0301}",
    ])
    func hostParsingRefuses(_ text: String) {
        #expect(APIConfig.parseHostHeader(text) == nil, "\(text.debugDescription)")
    }
}
