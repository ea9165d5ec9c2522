import Glibc
import SteadyCore
import SteadyPlatforms
import Testing
import class SteadyTestSupport.LoopbackConnection
import func SteadyTestSupport.waitFor
@testable import SteadyAPI

/// The connection cap's choice, with a cap of 2 so every case is visible: a newcomer closes
/// the connection idle longest; when every other one is busy with a request, the newcomer
/// is closed at once; a busy one that finishes is idle (and evictable) again.
@Suite("the connection cap, on the live server", .serialized, .timeLimit(.minutes(1)))
struct ConnectionCapTests {
    func counters(_ f: APIFixture) -> [String: Int64] { f.server?.connectionCounters ?? [:] }

    /// `condition` within 5 s (sampled by `waitFor`), else an error with the server's figures.
    func waitUntil(_ what: String, server: APIServer?, _ condition: () -> Bool) throws {
        do { _ = try waitFor(what, timeoutMillis: 5000) { condition() ? true : nil } } catch {
            throw TestFailure("\(error); server: \(server?.connectionCounters ?? [:]), in flight \(server?.inFlight ?? -1)")
        }
    }

    func isOpen(_ c: LoopbackConnection) -> Bool {
        var p = pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0)
        return poll(&p, 1, 0) == 0
    }

    @Test("at the cap the idlest connection is closed for a newcomer; with all busy the newcomer is closed at once")
    func capEvictsIdlestElseRefusesNewcomer() throws {
        let f = try APIFixture(apiTOML: "max_connections = 2")
        let port = try f.serve()
        guard case .ok(let created) = f.service.tokenCreate(Array(#"{"name":"ci"}"#.utf8)) else { throw TestFailure("token refused") }
        let token = try #require(try JSON.parse(created)["token"]?.string)
        #expect(counters(f)["http_connection_limit"] == 2)
        let host = "Host: 127.0.0.1:\(port)\r\n"

        // Two silent connections fill the cap; a third closes the older one.
        let a = try LoopbackConnection(port: port)
        try waitUntil("a counted", server: f.server) { counters(f)["http_connections_open"] == 1 }
        let b = try LoopbackConnection(port: port)
        try waitUntil("b counted", server: f.server) { counters(f)["http_connections_open"] == 2 }
        let c = try LoopbackConnection(port: port)
        #expect(a.readUntilClosed(timeoutMillis: 5000).closed, "the idlest connection was not closed")
        #expect(isOpen(b))
        #expect(try c.exchange("GET /health HTTP/1.1\r\n\(host)Connection: close\r\n\r\n").status == 200)
        c.close()  // the server only half-closes after `Connection: close`
        try waitUntil("c gone", server: f.server) { counters(f)["http_connections_open"] == 1 }

        // Two requests in flight (each waiting for the rest of its body) fill the cap; b,
        // idle, made room for the second.
        let body = #"{"account":"news-x","text":"hello"}"#
        let head = "POST /api/posts HTTP/1.1\r\n\(host)Authorization: Bearer \(token)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
        let p1 = try LoopbackConnection(port: port)
        try p1.send(head + "{")
        try waitUntil("p1 in flight", server: f.server) { f.server?.inFlight == 1 }
        let p2 = try LoopbackConnection(port: port)
        try p2.send(head + "{")
        try waitUntil("p2 in flight", server: f.server) { f.server?.inFlight == 2 }
        #expect(b.readUntilClosed(timeoutMillis: 5000).closed, "the idle connection was not closed for a busy newcomer")

        // Every connection busy: a newcomer is closed at once, with nothing written.
        let d = try LoopbackConnection(port: port)
        let refused = d.readUntilClosed(timeoutMillis: 5000)
        #expect(refused.closed && refused.bytes.isEmpty)
        #expect(counters(f)["http_connections_refused"] == 1)
        #expect(isOpen(p1) && isOpen(p2), "a busy connection was closed")

        // p1's request completes (503: no posting worker in this test); it is idle again, and
        // the next newcomer takes its place.
        try p1.send(String(body.dropFirst()))
        let answer = String(decoding: p1.readUntilClosed(timeoutMillis: 1000).bytes, as: UTF8.self)
        #expect(answer.hasPrefix("HTTP/1.1 503"), "\(answer.prefix(120))")
        let e = try LoopbackConnection(port: port)
        #expect(try e.exchange("GET /health HTTP/1.1\r\n\(host)Connection: close\r\n\r\n").status == 200)
        #expect(!isOpen(p1) && isOpen(p2))
        #expect(counters(f)["http_connections_evicted"] == 3)
        p2.close()
    }
}
