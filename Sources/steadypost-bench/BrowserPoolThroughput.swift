import Glibc
import SteadyCore
import SteadyHTTP
import SteadyProtocol
import SteadySystem

/// P8: the browser pool as its callers see it. The real daemon with `[workers.browser]
/// concurrency = 2` and real headless Chromium scrapes the simulator's post page through
/// routed `browser.scrape` requests on the control socket (the path another worker's lease
/// takes, less one hop):
/// - one caller at a time on warm browsers: a lease's own latency;
/// - 4 callers on 2 browsers (each browser busy, a lease waiting behind it): pages per second
///   and the latency callers see, recycles after 50 leases included;
/// - PSS, RSS and process count of each browser (the pool's own measurement);
/// - the cost of a recycle: each browser SIGKILLed and reaped, then one lease that has to
///   start a new Chromium, beside the warm lease.
enum P8 {
    struct PoolStatus: Decodable {
        struct Browser: Decodable {
            let pid: Int32
            let pss_bytes: UInt64
            let rss_bytes: UInt64
            let processes: Int
        }
        let browsers: Int
        let reaping: Int
        let recycles: Int
        let refusals: Int
        let failed: Int
        let browser_list: [Browser]
    }

    /// One routed scrape in flight on its own control connection.
    final class Scrape {
        let fd: Descriptor
        let sentNs: UInt64
        var decoder = FrameDecoder()

        init(socket: String, url: String, timeoutMs: Int64) throws {
            fd = try Sockets.connectStream(path: socket)
            try fd.setNonBlocking()
            sentNs = SteadyClock.monotonicNanos()
            let body = #"{"url":"\#(url)","extract":{"likes":"document.querySelector('[data-metric=likes]').textContent"},"deadline_ms":\#(timeoutMs)}"#
            let deadline = SteadyClock.monotonicMillis() + timeoutMs + 2_000
            try fd.writeAll(try Message.request(method: "browser.scrape", body: Array(body.utf8)).encoded(correlation: 1, deadline: deadline),
                            deadlineMillis: deadline)
        }

        /// The answer's status ("ok" or the error code), once it is complete.
        func poll() throws -> String? {
            var buffer: [UInt8] = []
            while let n = try Sockets.readAvailable(fd, into: &buffer), n > 0 {}
            decoder.feed(buffer)
            guard let frame = try decoder.next(), case .response(let status, let body) = try Message(frame) else { return nil }
            fd.close()
            if status == "ok" { return "ok" }
            return (try? JSONCoding.decode(ErrorBody.self, body, type: "error"))?.code ?? "error"
        }
    }

    struct Run {
        var latenciesMs: [Double] = []
        var seconds = 0.0
        var errors: [String: Int] = [:]
    }

    /// `total` scrapes, `parallel` in flight at a time, each of its own URL (no single-flight).
    static func drive(_ socket: String, page: String, total: Int, parallel: Int, tag: String) throws -> Run {
        var run = Run()
        var inFlight: [Scrape] = []
        var started = 0
        let t0 = SteadyClock.monotonicNanos()
        while started < total || !inFlight.isEmpty {
            while inFlight.count < parallel && started < total {
                inFlight.append(try Scrape(socket: socket, url: "\(page)?\(tag)=\(started)", timeoutMs: 30_000))
                started += 1
            }
            var fds = inFlight.map { pollfd(fd: $0.fd.raw, events: Int16(POLLIN), revents: 0) }
            _ = Glibc.poll(&fds, nfds_t(fds.count), 1_000)
            var still: [Scrape] = []
            for s in inFlight {
                if let status = try s.poll() {
                    let ms = Double(SteadyClock.monotonicNanos() - s.sentNs) / 1_000_000
                    if status == "ok" { run.latenciesMs.append(ms) } else { run.errors[status, default: 0] += 1 }
                } else {
                    still.append(s)
                }
            }
            inFlight = still
        }
        run.seconds = Double(SteadyClock.monotonicNanos() - t0) / 1_000_000_000
        return run
    }

    /// Whole milliseconds.
    static func ms(_ v: Double) -> String { v.isFinite ? String(Int(v.rounded())) : "n/a" }

    static func status(_ d: BenchDaemon) throws -> PoolStatus {
        try JSONCoding.decode(PoolStatus.self, try d.client.call(method: "browser.status"), type: "browser.status")
    }

    static func run(leases: Int) {
        let d = BenchDaemon(workerToml: "", extraToml: "[workers.browser]\nconcurrency = 2\n")
        _ = d.waitAllRunning()
        let sim = BenchSim(accounts: ["mastodon:p8-pages"], credentialsDir: d.dir + "/credentials")
        func fail(_ why: String) -> Never {
            sim.stop()
            die("P8: \(why); see \(d.dir)/daemon.log")
        }
        struct Created: Decodable { let id: String }
        guard let created = try? sim.http.send(HTTPRequest(method: .post, url: sim.base + "/_sim/posts", headers: ["Content-Type": "application/json"],
                                                           body: Array(#"{"account":"p8-pages","text":"a page for P8"}"#.utf8))),
              let id = try? JSONCoding.decode(Created.self, created.body, type: "post").id
        else { fail("cannot create the page's post") }
        let page = sim.base + "/web/posts/" + id
        let socket = d.socket
        do {
            // Both browsers started (their cold starts are not in the figures below).
            _ = try drive(socket, page: page, total: 2, parallel: 2, tag: "start")
            let warm = try drive(socket, page: page, total: 40, parallel: 1, tag: "warm")
            let loaded = try drive(socket, page: page, total: leases, parallel: 4, tag: "load")
            let afterLoad = try status(d)
            // The pool measures PSS every 5 s: wait for a measurement of each browser.
            var pool = afterLoad
            let pssDeadline = SteadyClock.monotonicMillis() + 15_000
            while pool.browser_list.count < 2 || pool.browser_list.contains(where: { $0.pss_bytes == 0 }) {
                if SteadyClock.monotonicMillis() > pssDeadline { break }
                var ts = timespec(tv_sec: 0, tv_nsec: 200_000_000)
                nanosleep(&ts, nil)
                pool = try status(d)
            }
            // Recycles: kill every browser, wait until reaped, then one lease on a new one.
            var cold: [Double] = []
            var reapMs: [Double] = []
            for round in 0..<5 {
                let victims = try status(d).browser_list.map(\.pid)
                let k0 = SteadyClock.monotonicNanos()
                for pid in victims { kill(pid, SIGKILL) }
                while true {
                    let s = try status(d)
                    if s.browsers == 0 && s.reaping == 0 { break }
                    if Double(SteadyClock.monotonicNanos() - k0) > 20e9 { fail("killed browsers not reaped in 20 s") }
                    var ts = timespec(tv_sec: 0, tv_nsec: 2_000_000)
                    nanosleep(&ts, nil)
                }
                reapMs.append(Double(SteadyClock.monotonicNanos() - k0) / 1_000_000)
                let one = try drive(socket, page: page, total: 1, parallel: 1, tag: "cold\(round)")
                cold += one.latenciesMs
            }
            let w = Sample(warm.latenciesMs)
            let l = Sample(loaded.latenciesMs)
            let c = Sample(cold)
            let r = Sample(reapMs)
            let errors = loaded.errors.isEmpty ? "none" : loaded.errors.map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", ")
            out("| P8 pages scraped per second, 2 browsers, 4 callers | \(fmt(Double(loaded.latenciesMs.count) / loaded.seconds, 1)) pages/s | \(leases) leases in \(fmt(loaded.seconds, 1)) s | \(afterLoad.recycles) recycles (after 50 leases each) | errors: \(errors) |")
            out("| P8 lease latency, 4 callers on 2 browsers (queue wait included) | p50 \(ms(l.p(0.5))) ms | p99 \(ms(l.p(0.99))) ms | max \(ms(l.max)) ms | n \(l.count) |")
            out("| P8 lease latency, one caller, warm browser | p50 \(ms(w.p(0.5))) ms | p99 \(ms(w.p(0.99))) ms | max \(ms(w.max)) ms | n \(w.count) |")
            for (i, b) in pool.browser_list.enumerated() {
                out("| P8 browser \(i + 1) memory (one tab between leases) | PSS \(b.pss_bytes >> 20) MiB | RSS summed \(b.rss_bytes >> 20) MiB | \(b.processes) processes | |")
            }
            out("| P8 recycle: SIGKILL → group reaped | p50 \(ms(r.p(0.5))) ms | max \(ms(r.max)) ms | | n \(r.count) |")
            out("| P8 recycle: first lease on a new Chromium (start + page) | p50 \(ms(c.p(0.5))) ms | max \(ms(c.max)) ms | cost over a warm lease: \(ms(c.p(0.5) - w.p(0.5))) ms | n \(c.count) |")
        } catch {
            fail("\(error)")
        }
        sim.stop()
        d.stop()
    }
}
