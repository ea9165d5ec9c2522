import Glibc
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadySystem
import Testing

/// The api worker against clients that connect and say nothing, or half of something: the
/// real daemon, the real `steadypost-api`, real sockets on 127.0.0.1.
@Suite("HTTP connection limits, through the real daemon", .serialized, .timeLimit(.minutes(4)))
struct APIConnectionTests {
    /// The api worker's pid and its last heartbeat's figures.
    func apiWorker(_ d: APIDaemon) throws -> (pid: Int32, counters: [String: Int64]) {
        let w = try #require(try d.daemon.client.status().workers.first { $0.role == .api })
        return (try #require(w.pid), w.counters ?? [:])
    }

    func openDescriptors(_ pid: Int32) -> Int { Files.list("/proc/\(pid)/fd")?.count ?? -1 }

    /// Which of `connections` the server has closed (end of file or reset), looked at now.
    func closedByServer(_ connections: [LoopbackConnection]) -> Int {
        var closed = 0
        var buffer = [UInt8](repeating: 0, count: 64)
        for c in connections where c.fd >= 0 {
            var p = pollfd(fd: c.fd, events: Int16(POLLIN), revents: 0)
            guard poll(&p, 1, 0) == 1 else { continue }
            if recv(c.fd, &buffer, buffer.count, Int32(MSG_DONTWAIT)) <= 0 { closed += 1 }
        }
        return closed
    }

    @Test("2,000 silent connections: /health still answers within 5 s, the worker stays under its descriptor limit and is not restarted")
    func silentConnectionFloodLeavesHealthAnswering() throws {
        // Defaults for the cap (512) and the worker's open_files_max (1024); the header
        // timeout is long, so within this test only the cap can make room.
        let d = try APIDaemon(api: "header_timeout = \"10m\"\nidle_timeout = \"1h\"")
        defer { d.cleanUp() }
        let quick = HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 5000, totalTimeoutMillis: 5000))
        let before = try apiWorker(d)
        #expect(before.counters["http_connection_limit"] == 512, "\(before.counters)")
        let fdsBefore = openDescriptors(before.pid)

        let wanted = 2000
        // This process holds them all: make sure its own descriptor limit allows it.
        var limit = rlimit()
        try #require(getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        if limit.rlim_cur < rlim_t(wanted + 256) {
            try #require(limit.rlim_max >= rlim_t(wanted + 256), "this process may hold at most \(limit.rlim_max) descriptors; the test needs \(wanted + 256)")
            limit.rlim_cur = rlim_t(wanted + 256)
            try #require(setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0)
        }
        var held: [LoopbackConnection] = []
        defer { for c in held { c.close() } }
        var refusedConnects = 0
        var maxFds = 0
        let started = SteadyClock.monotonicMillis()
        // Bounded: without the cap the worker stops accepting at its descriptor limit, the
        // backlog fills and every further connect waits out its 2 s; give up after 10 of those
        // or a minute.
        for i in 0..<wanted {
            do { held.append(try LoopbackConnection(port: d.port, timeoutMillis: 2000)) } catch { refusedConnects += 1 }
            if i % 100 == 99 { maxFds = max(maxFds, openDescriptors(before.pid)) }
            if refusedConnects >= 10 || SteadyClock.monotonicMillis() - started > 60_000 { break }
        }
        let openedIn = SteadyClock.monotonicMillis() - started
        try #require(refusedConnects == 0 && held.count == wanted,
                     "\(held.count) of \(wanted) connects made in \(openedIn) ms, \(refusedConnects) timed out: the server stopped accepting")

        // With every one of them still held by this process: /health, five times, each
        // within the client's 5 s deadline.
        var latencies: [Int64] = []
        for _ in 0..<5 {
            let t = SteadyClock.monotonicMillis()
            let r = try quick.send(HTTPRequest(method: .get, url: d.base + "/health"))
            latencies.append(SteadyClock.monotonicMillis() - t)
            #expect(r.status == 200 || r.status == 503, "/health: \(r.status)")
            #expect(try JSON.parse(r.body)["figures"] != nil)
            maxFds = max(maxFds, openDescriptors(before.pid))
        }
        let after = try waitFor("the api worker's heartbeat counting the evictions", timeoutMillis: 10_000) { () -> (pid: Int32, counters: [String: Int64])? in
            let w = try apiWorker(d)
            return (w.counters["http_connections_accepted"] ?? 0) >= Int64(wanted) ? w : nil
        }
        let closed = closedByServer(held)
        let open = after.counters["http_connections_open"] ?? -1
        print("""
            API flood: \(held.count) silent connections opened in \(openedIn) ms; /health latencies \(latencies) ms; \
            api worker fds \(fdsBefore) before, at most \(maxFds) during (limit 1024); server closed \(closed) of ours; \
            counters \(after.counters.filter { $0.key.hasPrefix("http_conn") })
            """)
        #expect(after.pid == before.pid, "the api worker was restarted")
        #expect(maxFds < 1024 - 16, "the api worker came within 16 descriptors of its limit: \(maxFds)")
        #expect(open <= 512, "\(open) connections open past the cap")
        #expect((after.counters["http_connections_evicted"] ?? 0) >= Int64(wanted - 512), "\(after.counters)")
        #expect(closed >= wanted - 512, "the server closed only \(closed) of \(wanted) silent connections")
        // The operator is told, once (a flood logs once a minute, not once a connection).
        let notices = d.daemon.log().split(separator: "\n").filter { $0.contains("at the HTTP connection cap (512)") }.count
        #expect(notices == 1, "\(notices) cap notices in the log")

        for c in held { c.close() }
        held.removeAll()
        #expect(try quick.send(HTTPRequest(method: .get, url: d.base + "/health")).status != 0)
        #expect(try apiWorker(d).pid == before.pid)
    }

    @Test("half-sent headers and silent connections are closed after header_timeout; a kept-alive idle one after idle_timeout")
    func headerAndIdleTimeouts() throws {
        let d = try APIDaemon(api: "header_timeout = \"1s\"\nidle_timeout = \"3s\"")
        defer { d.cleanUp() }
        let host = "Host: 127.0.0.1:\(d.port)\r\n"

        // Half a request head: closed at about 1 s, long before the 3 s idle timeout.
        let half = try LoopbackConnection(port: d.port)
        defer { half.close() }
        var t = SteadyClock.monotonicMillis()
        try half.send("GET /health HTTP/1.1\r\n\(host)X-Slow: ")
        let halfResult = half.readUntilClosed(timeoutMillis: 10_000)
        let halfClosedAfter = SteadyClock.monotonicMillis() - t
        #expect(halfResult.closed && halfResult.bytes.isEmpty, "half a head: closed \(halfResult.closed), \(halfResult.bytes.count) bytes")
        #expect(halfClosedAfter >= 900 && halfClosedAfter < 2900, "half a head closed after \(halfClosedAfter) ms")

        // Nothing at all: the same.
        let silent = try LoopbackConnection(port: d.port)
        defer { silent.close() }
        t = SteadyClock.monotonicMillis()
        let silentResult = silent.readUntilClosed(timeoutMillis: 10_000)
        let silentClosedAfter = SteadyClock.monotonicMillis() - t
        #expect(silentResult.closed && silentClosedAfter < 2900, "silent: closed \(silentResult.closed) after \(silentClosedAfter) ms")

        // A whole request is answered; the connection stays (idle, not cut by the header
        // timeout) until the idle timeout, or until it starts a next request and stalls.
        let kept = try LoopbackConnection(port: d.port)
        defer { kept.close() }
        try kept.send("GET /health HTTP/1.1\r\n\(host)\r\n")
        let answered = kept.readUntilClosed(timeoutMillis: 2000)
        #expect(String(decoding: answered.bytes, as: UTF8.self).hasPrefix("HTTP/1.1 200") && !answered.closed)
        t = SteadyClock.monotonicMillis()
        let idle = kept.readUntilClosed(timeoutMillis: 10_000)
        let idleClosedAfter = SteadyClock.monotonicMillis() + 2000 - t
        #expect(idle.closed && idleClosedAfter >= 2900 && idleClosedAfter < 6000, "kept-alive idle closed after about \(idleClosedAfter) ms")

        let stalled = try LoopbackConnection(port: d.port)
        defer { stalled.close() }
        try stalled.send("GET /health HTTP/1.1\r\n\(host)\r\n")
        _ = try waitFor("the first answer", timeoutMillis: 5000) { () -> Bool? in
            var p = pollfd(fd: stalled.fd, events: Int16(POLLIN), revents: 0)
            return poll(&p, 1, 100) == 1 ? true : nil
        }
        t = SteadyClock.monotonicMillis()
        try stalled.send("GET /metrics HTTP/1.1\r\n\(host)")
        let stalledResult = stalled.readUntilClosed(timeoutMillis: 10_000)
        let stalledClosedAfter = SteadyClock.monotonicMillis() - t
        #expect(stalledResult.closed && stalledClosedAfter < 2900, "a stalled second head closed after \(stalledClosedAfter) ms")
        // Counted by the worker (its next heartbeat brings the figure).
        _ = try waitFor("three header timeouts in the api worker's figures", timeoutMillis: 5000) { () -> Bool? in
            (try apiWorker(d).counters["http_header_timeouts"] ?? 0) >= 3 ? true : nil
        }
        print("API timeouts: half head closed after \(halfClosedAfter) ms, silent after \(silentClosedAfter) ms, idle kept-alive after ~\(idleClosedAfter) ms, stalled second head after \(stalledClosedAfter) ms")
    }
}
