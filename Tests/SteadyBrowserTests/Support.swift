import Glibc
import CShim
import Logging
import SteadyCore
import SteadyJSON
import SteadySystem
import SteadyTestSupport
import Testing

@testable import SteadyBrowser

let chromiumPath = "/usr/bin/chromium"
let chromiumInstalled = access(chromiumPath, X_OK) == 0

let quietLogger: Logger = {
    var l = Logger(label: "steadypost.browser.test")
    l.logLevel = getenv("STEADYPOST_TEST_LOG") != nil ? .debug : .critical
    return l
}()

/// Pool settings for tests: profiles in `dir`, the real Chromium.
func testSettings(dir: String, browsers: Int = 1, queue: Int = 4) -> BrowserPoolSettings {
    var s = BrowserPoolSettings()
    s.chromiumPath = chromiumPath
    s.maxBrowsers = browsers
    s.queueLimit = queue
    s.profileRoot = dir + "/profiles"
    s.environment = currentEnvironment()
    return s
}

/// Runs the pool's loop on this thread (as the worker loop would) until `done` or the
/// deadline; waits on the pool's descriptor and its `wakeAt`, never sleeps blindly.
func drive(_ pool: BrowserPool, timeoutMs: Int64, until done: () -> Bool) throws {
    let deadline = SteadyClock.monotonicMillis() + timeoutMs
    while !done() {
        let now = SteadyClock.monotonicMillis()
        if now >= deadline { throw TestError("pool did not get there within \(timeoutMs) ms: \(pool.statusJSON().serialized)") }
        let wake = min(pool.wakeAt ?? deadline, deadline)
        _ = pool.poller.wait(timeoutMillis: Int32(clamping: max(0, wake - now)))
        pool.processEvents()
        pool.tick(now: SteadyClock.monotonicMillis())
    }
}

/// Collects lease answers with the time each came.
final class Answers {
    var results: [Int: (Result<JSON, LeaseError>, Int64)] = [:]
    func completion(_ i: Int) -> LeaseCompletion {
        { [unowned self] r in
            precondition(self.results[i] == nil, "lease \(i) answered twice")
            self.results[i] = (r, SteadyClock.monotonicMillis())
        }
    }
    func value(_ i: Int) -> JSON? { if case .success(let v)? = results[i]?.0 { return v } else { return nil } }
    func error(_ i: Int) -> LeaseError? { if case .failure(let e)? = results[i]?.0 { return e } else { return nil } }
    func at(_ i: Int) -> Int64? { results[i]?.1 }
}

/// Every process of a browser group, and every pid seen in it, is gone.
func groupGone(_ pgid: Int32, pids: [Int32]) -> Bool {
    ProcessGroup.members(pgid).isEmpty && pids.allSatisfy { kill($0, 0) != 0 && errno == ESRCH }
}

// MARK: - A page server (python3's http.server with a few extra paths)

/// A small HTTP server on 127.0.0.1 serving test pages: `/page/NAME` (title, metrics, a
/// list), `/hangimg` (a page whose image never loads: no load event), `/hang` (never
/// answers), `/hits?path=P` (how often P was asked for). Ended by pid.
final class PageServer {
    let tmp = TempDir("steadypost-pages")
    var dir: String { tmp.path }
    let process: SpawnedProcess
    let port: Int
    private var stopped = false
    var base: String { "http://127.0.0.1:\(port)" }

    static let script = #"""
import http.server, socketserver, sys, threading, urllib.parse, collections
hits = collections.Counter()
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, body, ctype="text/html; charset=utf-8", status=200):
        b = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(b)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(b)
    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        with lock: hits[u.path] += 1
        if u.path == "/hang":
            threading.Event().wait()
        elif u.path == "/hangimg":
            self.send('<html><head><title>hanging</title></head><body><p id="x">half</p><img src="/hang"></body></html>')
        elif u.path.startswith("/page/"):
            name = u.path[6:]
            n = len(name)
            self.send(f'<html><head><title>Page {name}</title></head><body><article data-post-id="{name}">'
                      f'<span data-metric="likes">{n * 3}</span><span data-metric="reposts">{n}</span>'
                      f'<ul><li>a</li><li>b</li><li>c</li></ul></article></body></html>')
        elif u.path == "/hits":
            p = urllib.parse.parse_qs(u.query).get("path", [""])[0]
            with lock: self.send(str(hits[p]), "text/plain")
        else:
            self.send("not found", "text/plain", 404)
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
s = S(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
"""#

    init() throws {
        let scriptPath = tmp.path + "/server.py"
        try Files.writeAtomically(scriptPath, Self.script)
        var fds: [Int32] = [-1, -1]
        guard steady_pipe2_cloexec(&fds) == 0 else { throw TestError("pipe2") }
        let r = Descriptor(fds[0]), w = Descriptor(fds[1])
        process = try spawnProcess(path: "/usr/bin/python3", arguments: ["python3", "-u", scriptPath],
                                   environment: currentEnvironment(), passFds: [], stdout: w, stderr: nil)
        w.close()
        // The port is the first line on its stdout (poll with a deadline; the pipe's EOF means it died).
        var line: [UInt8] = []
        let deadline = SteadyClock.monotonicMillis() + 10_000
        while !line.contains(UInt8(ascii: "\n")) {
            let left = deadline - SteadyClock.monotonicMillis()
            var pfd = pollfd(fd: r.raw, events: Int16(POLLIN), revents: 0)
            guard left > 0, poll(&pfd, 1, Int32(left)) > 0 else { break }
            var buf = [UInt8](repeating: 0, count: 64)
            let n = read(r.raw, &buf, 64)
            if n <= 0 { break }
            line += buf[0..<n]
        }
        guard let p = Int(String(decoding: line, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)) else {
            killProcess(process)
            tmp.remove()
            throw TestError("the page server did not start")
        }
        port = p
    }

    deinit { stop() }

    func stop() {
        guard !stopped else { return }
        stopped = true
        killProcess(process)
        tmp.remove()
    }

    func hits(_ path: String) throws -> Int {
        let r = try httpRequest(port: port, method: "GET", path: "/hits?path=" + path)
        return Int(r.body) ?? -1
    }
}

extension String {
    func trimmingCharacters(in _: Whitespace) -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
    enum Whitespace { case whitespacesAndNewlines }
}

// MARK: - A blocking HTTP/1.1 client for loopback (admin calls only)

struct HTTPAnswer {
    var status: Int
    var body: String
    var json: JSON? { try? JSON.parse(body) }
}

func httpRequest(port: Int, method: String, path: String, json: JSON? = nil, timeoutMs: Int = 10_000) throws -> HTTPAnswer {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw TestError("socket") }
    let sock = Descriptor(fd)
    defer { sock.close() }
    var tv = timeval(tv_sec: timeoutMs / 1000, tv_usec: (timeoutMs % 1000) * 1000)
    _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = UInt32(0x7f00_0001).bigEndian
    let rc = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard rc == 0 else { throw TestError("connect 127.0.0.1:\(port): errno \(errno)") }
    let body = json?.bytes ?? []
    var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\nAccept: application/json\r\nContent-Length: \(body.count)\r\n"
    if json != nil { head += "Content-Type: application/json\r\n" }
    head += "\r\n"
    try sock.writeAll(Array(head.utf8) + body, deadlineMillis: SteadyClock.monotonicMillis() + Int64(timeoutMs))
    var data: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = read(fd, &chunk, chunk.count)
        if n < 0 { if errno == EINTR { continue }; throw TestError("read: errno \(errno)") }
        if n == 0 { break }
        data += chunk[0..<n]
    }
    guard let split = data.firstRange(of: Array("\r\n\r\n".utf8)) else { throw TestError("no HTTP header in \(data.count) bytes") }
    let header = String(decoding: data[..<split.lowerBound], as: UTF8.self)
    var payload = Array(data[split.upperBound...])
    let statusLine = header.split(separator: "\r\n").first ?? ""
    let status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0
    if header.lowercased().contains("transfer-encoding: chunked") {
        var out: [UInt8] = []
        var rest = payload[...]
        while let crlf = rest.firstRange(of: Array("\r\n".utf8)),
              let size = Int(String(decoding: rest[..<crlf.lowerBound], as: UTF8.self), radix: 16), size > 0 {
            let start = crlf.upperBound
            out += rest[start..<min(rest.endIndex, start + size)]
            rest = rest[min(rest.endIndex, start + size + 2)...]
        }
        payload = out
    }
    return HTTPAnswer(status: status, body: String(decoding: payload, as: UTF8.self))
}

// MARK: - The platform simulator (SteadyTestSupport's SimulatorProcess)

/// The simulator, its admin API spoken in `SteadyJSON`'s value.
final class Simulator {
    let process: SimulatorProcess
    var port: Int { process.port }
    var base: String { process.baseURL }

    init() throws { process = try SimulatorProcess() }

    func stop() { process.stop() }

    func admin(_ method: String, _ path: String, _ json: JSON? = nil) throws -> JSON {
        let r = try httpRequest(port: port, method: method, path: path, json: json)
        guard (200..<300).contains(r.status), let j = r.json else { throw TestError("sim \(method) \(path) → \(r.status): \(r.body.prefix(300))") }
        return j
    }
}
