import Glibc
import SteadyCore
import SteadyHTTP
import Testing

/// The libcurl client against a scripted server on 127.0.0.1: what "sent" means, the caps,
/// and connection reuse.
@Suite("HTTP client", .serialized, .timeLimit(.minutes(1)))
struct HTTPClientTests {
    func ok(_ body: String = "{}", headers: [String] = []) -> ScriptedServer.Action {
        .respond(status: 200, headers: headers, body: Array(body.utf8))
    }

    @Test("a refused connection is not-sent")
    func refused() throws {
        // A bound socket that does not listen: connect gets RST at once.
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        let port = localPort(fd)
        let client = HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 2000, totalTimeoutMillis: 3000))
        let error = #expect(throws: HTTPError.self) {
            try client.send(HTTPRequest(method: .post, url: "http://127.0.0.1:\(port)/2/tweets", body: Array("{}".utf8)))
        }
        #expect(error?.kind == .connectionRefused)
        #expect(error?.delivery == .notSent)
    }

    @Test("a connect timeout is not-sent")
    func connectTimeout() throws {
        // A listener whose accept queue is full drops further SYNs: the connect never completes.
        let server = try ScriptedServer(script: [], backlog: 0)
        defer { server.stop() }
        // The server thread accepts one connection and then waits for its request, so fill the
        // queue behind it: Linux keeps backlog + 1 established connections queued.
        var fillers: [Int32] = []
        defer { for f in fillers { close(f) } }
        for _ in 0..<4 {
            let f = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = in_port_t(UInt16(server.port).bigEndian)
            _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(f, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            fillers.append(f)
        }
        let client = HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 300, totalTimeoutMillis: 5000))
        let started = SteadyClock.monotonicMillis()
        let error = #expect(throws: HTTPError.self) {
            try client.send(HTTPRequest(method: .post, url: "\(server.url)/x", body: [1]))
        }
        #expect(error?.kind == .connectTimeout)
        #expect(error?.delivery == .notSent)
        #expect(SteadyClock.monotonicMillis() - started < 4000)
    }

    @Test("a timeout after the request was sent is maybe-sent")
    func timeoutAfterSend() throws {
        let server = try ScriptedServer(script: [.hold])
        defer { server.stop() }
        let client = HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 1000, totalTimeoutMillis: 300))
        let error = #expect(throws: HTTPError.self) {
            try client.send(HTTPRequest(method: .post, url: "\(server.url)/2/tweets", body: Array("{\"text\":\"hi\"}".utf8)))
        }
        #expect(error?.kind == .timeout)
        #expect(error?.delivery == .maybeSent)
        #expect(server.requests.count == 1)
    }

    @Test("an empty reply is maybe-sent")
    func emptyReply() throws {
        let server = try ScriptedServer(script: [.closeWithoutResponse])
        defer { server.stop() }
        let client = HTTPClient()
        let error = #expect(throws: HTTPError.self) {
            try client.send(HTTPRequest(method: .post, url: "\(server.url)/p", body: [1, 2, 3]))
        }
        #expect(error?.kind == .emptyReply)
        #expect(error?.delivery == .maybeSent)
    }

    @Test("a reset connection is maybe-sent")
    func reset() throws {
        let server = try ScriptedServer(script: [.reset])
        defer { server.stop() }
        let client = HTTPClient()
        let error = #expect(throws: HTTPError.self) {
            try client.send(HTTPRequest(method: .post, url: "\(server.url)/p", body: [1]))
        }
        #expect(error?.delivery == .maybeSent)
        #expect(error?.kind == .connectionLost || error?.kind == .emptyReply)
    }

    @Test("a response over the cap aborts, with and without Content-Length")
    func responseCap() throws {
        let big = [UInt8](repeating: 66, count: 200_000)
        let server = try ScriptedServer(script: [.respond(status: 200, headers: [], body: big), .respondChunked(size: 200_000)])
        defer { server.stop() }
        let client = HTTPClient(options: HTTPClientOptions(maxResponseBytes: 64 * 1024))
        for _ in 0..<2 {
            let error = #expect(throws: HTTPError.self) {
                try client.send(HTTPRequest(method: .get, url: "\(server.url)/big"))
            }
            #expect(error?.kind == .responseTooLarge)
            #expect(error?.delivery == .maybeSent)
        }
    }

    @Test("two requests share one TCP connection")
    func connectionReuse() throws {
        let server = try ScriptedServer(script: [ok("one"), ok("two"), ok("three")])
        defer { server.stop() }
        let client = HTTPClient()
        let first = try client.send(HTTPRequest(method: .get, url: "\(server.url)/a"))
        let second = try client.send(HTTPRequest(method: .post, url: "\(server.url)/b", body: Array("x=1".utf8)))
        let third = try client.send(HTTPRequest(method: .get, url: "\(server.url)/c"))
        #expect(first.text == "one" && second.text == "two" && third.text == "three")
        #expect(server.connectionCount == 1)
        #expect(first.newConnections == 1)
        #expect(second.newConnections == 0 && third.newConnections == 0)
        #expect(first.localPort == second.localPort)
    }

    @Test("2,000 requests through one client use one connection (bounded handles, F12)")
    func manyRequests() throws {
        let n = 2000
        let server = try ScriptedServer(script: Array(repeating: ok("{\"n\":1}"), count: n))
        defer { server.stop() }
        let client = HTTPClient()
        var fresh = 0
        for i in 0..<n {
            let r = try client.send(HTTPRequest(method: i % 2 == 0 ? .get : .post, url: "\(server.url)/r", body: i % 2 == 0 ? nil : [1]))
            fresh += r.newConnections
        }
        #expect(fresh == 1)
        #expect(server.connectionCount == 1)
        #expect(server.requests.count == n)
    }

    @Test("a POST is never re-sent by libcurl on a fresh connection after a reused one died")
    func noSilentResendOfPost() throws {
        // Request 1 answered (keep-alive); the POST on the reused connection is read and the
        // connection closed without an answer — the lose-response fault. libcurl would retry
        // it on a new connection; the client refuses and reports maybe-sent.
        let server = try ScriptedServer(script: [ok(), .closeWithoutResponse, ok("should not be reached")])
        defer { server.stop() }
        let client = HTTPClient()
        _ = try client.send(HTTPRequest(method: .get, url: "\(server.url)/warm"))
        let error = #expect(throws: HTTPError.self) {
            try client.send(HTTPRequest(method: .post, url: "\(server.url)/2/tweets", body: Array("{}".utf8)))
        }
        #expect(error?.delivery == .maybeSent)
        #expect(error?.kind == .resendRefused)
        #expect(server.requests.filter { $0.method == "POST" }.count == 1)
    }

    @Test("the hazard the guard exists for: allowed to, libcurl re-sends the POST")
    func resendHazard() throws {
        let server = try ScriptedServer(script: [ok(), .closeWithoutResponse, ok("second copy")])
        defer { server.stop() }
        let client = HTTPClient()
        _ = try client.send(HTTPRequest(method: .get, url: "\(server.url)/warm"))
        let response = try client.send(HTTPRequest(method: .post, url: "\(server.url)/2/tweets", body: Array("{}".utf8),
                                                   allowsTransparentResend: true))
        #expect(response.text == "second copy")
        #expect(server.requests.filter { $0.method == "POST" }.count == 2)
    }

    @Test("a GET may be re-sent on a fresh connection after a reused one died")
    func getIsResent() throws {
        let server = try ScriptedServer(script: [ok(), .closeWithoutResponse, ok("again")])
        defer { server.stop() }
        let client = HTTPClient()
        _ = try client.send(HTTPRequest(method: .get, url: "\(server.url)/warm"))
        let response = try client.send(HTTPRequest(method: .get, url: "\(server.url)/read"))
        #expect(response.text == "again")
        #expect(server.connectionCount == 2)
    }

    @Test("request headers and body arrive intact; response headers are case-insensitive; no Expect")
    func headersAndBody() throws {
        let server = try ScriptedServer(script: [ok("{\"ok\":true}", headers: ["X-Rate-Limit-Remaining: 7", "Link: <a>; rel=\"next\"", "link: <b>; rel=\"prev\""])])
        defer { server.stop() }
        let client = HTTPClient()
        let body = [UInt8](repeating: 97, count: 5000)
        var headers = HTTPHeaders()
        headers.add("Authorization", "Bearer secret-token-value")
        headers.add("Idempotency-Key", "attempt-1")
        let response = try client.send(HTTPRequest(method: .post, url: "\(server.url)/api/v1/statuses?x=1", headers: headers, body: body))
        #expect(response.status == 200)
        #expect(response.headers["x-rate-limit-remaining"] == "7")
        #expect(response.headers.values("LINK").count == 2)
        let seen = try #require(server.requests.first)
        #expect(seen.method == "POST")
        #expect(seen.path == "/api/v1/statuses?x=1")
        #expect(seen.body == body)
        #expect(seen.header("idempotency-key") == "attempt-1")
        #expect(seen.header("authorization") == "Bearer secret-token-value")
        #expect(seen.header("expect") == nil)
    }

    @Test("an empty POST body is sent as Content-Length 0")
    func emptyPost() throws {
        let server = try ScriptedServer(script: [ok()])
        defer { server.stop() }
        _ = try HTTPClient().send(HTTPRequest(method: .post, url: "\(server.url)/xrpc/com.atproto.server.refreshSession"))
        #expect(server.requests.first?.header("content-length") == "0")
    }

    @Test("non-http URLs and bad hosts are refused before anything is sent")
    func invalidRequests() throws {
        let client = HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 500, totalTimeoutMillis: 1000))
        let e1 = #expect(throws: HTTPError.self) { try client.send(HTTPRequest(method: .get, url: "file:///etc/passwd")) }
        #expect(e1?.kind == .invalidRequest && e1?.delivery == .notSent)
        let e2 = #expect(throws: HTTPError.self) { try client.send(HTTPRequest(method: .get, url: "http://no-such-host.invalid/")) }
        #expect(e2?.delivery == .notSent)
    }

    @Test("errors name the path but not the query")
    func errorTarget() throws {
        let server = try ScriptedServer(script: [.closeWithoutResponse])
        defer { server.stop() }
        let error = #expect(throws: HTTPError.self) {
            try HTTPClient().send(HTTPRequest(method: .get, url: "\(server.url)/path?refresh_token=abc", allowsTransparentResend: false))
        }
        #expect(error?.target == "GET \(server.url)/path")
        #expect(!(error?.description.contains("abc") ?? true))
    }
}
