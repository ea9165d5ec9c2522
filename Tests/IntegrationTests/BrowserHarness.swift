import Glibc
import SteadyCore
import SteadyPlatforms
import SteadyProtocol
import SteadySystem

/// The browser tests' additions to the posting harness: a daemon whose chosen accounts post
/// through the browser (`mode = "browser"`), routed `browser.*` requests kept in flight
/// side by side, and the Chromium processes the browser worker started (ended by process
/// group, never by name).

let browserTestsCanRun = access("/usr/bin/chromium", X_OK) == 0

extension DaemonProcess {
    /// A posting daemon (see `DaemonProcess.init`) whose `browserAccounts` have
    /// `mode = "browser"`, with `browsers` Chromium at most in the browser worker.
    static func withBrowser(sim: SimulatorProcess, accounts: [(Platform, String, String?)], browserAccounts: [String], browsers: Int = 1,
                            leaseMillis: Int64 = 16_000, environment: [String] = []) throws -> DaemonProcess {
        let d = try DaemonProcess(sim: sim, accounts: accounts, leaseMillis: leaseMillis, environment: environment)
        try d.editConfig { toml in
            var toml = toml
            for name in browserAccounts {
                let line = "name = \"\(name)\"\n"
                guard toml.contains(line) else { throw TestFailure("no account \(name) in the config") }
                toml = toml.replacing(line, with: line + "mode = \"browser\"\n")
            }
            return toml
        }
        try d.configure(.browser, "concurrency = \(browsers)")
        return d
    }

    /// Routed `browser.METHOD` through the control socket, answered by the browser worker.
    func browser(_ method: String, _ body: JSON = .obj([])) throws -> JSON { try routed("browser.\(method)", body) }
}

/// A scrape request body: `url`, one extraction, the lease's budget.
func scrapeBody(_ url: String, deadlineMs: Int) -> JSON {
    .obj([("url", JSON(url)), ("extract", .obj([("id", JSON("document.querySelector('article') && document.querySelector('article').getAttribute('data-post-id')"))])),
          ("deadline_ms", JSON(deadlineMs))])
}

/// One routed request on its own control connection, sent at once and answered later:
/// many can be in flight together from one thread.
final class RoutedCall {
    let fd: Descriptor
    let sentAt: Int64
    private var decoder = FrameDecoder()
    /// ok body or error code, and when it came (CLOCK_MONOTONIC ms).
    private(set) var answer: (ok: Bool, code: String, body: JSON?, at: Int64)?

    init(socket: String, method: String, body: JSON, timeoutMillis: Int64) throws {
        fd = try Sockets.connectStream(path: socket)
        try fd.setNonBlocking()
        sentAt = SteadyClock.monotonicMillis()
        try fd.writeAll(try Message.request(method: method, body: body.bytes).encoded(correlation: 1, deadline: sentAt + timeoutMillis),
                        deadlineMillis: sentAt + 5_000)
    }

    deinit { fd.close() }

    /// Reads what has arrived.
    func pump() throws {
        guard answer == nil else { return }
        var buffer: [UInt8] = []
        var closed = false
        while let n = try Sockets.readAvailable(fd, into: &buffer) {
            if n == 0 { closed = true; break }
        }
        decoder.feed(buffer)
        guard let frame = try decoder.next() else {
            if closed { throw TestFailure("the daemon closed a control connection without an answer") }
            return
        }
        guard case .response(let status, let body) = try Message(frame) else { throw TestFailure("not a response: \(frame.type)") }
        let at = SteadyClock.monotonicMillis()
        if status == "ok" {
            answer = (true, "ok", try? JSON.parse(body), at)
        } else {
            let json = try? JSON.parse(body)
            answer = (false, json?["code"]?.string ?? "?", json, at)
        }
    }

    /// Waits (poll on every connection, with a deadline) until `done(calls)`.
    static func collect(_ calls: [RoutedCall], timeoutMillis: Int64, until done: ([RoutedCall]) -> Bool) throws {
        let deadline = SteadyClock.monotonicMillis() + timeoutMillis
        while true {
            for c in calls { try c.pump() }
            if done(calls) { return }
            let left = deadline - SteadyClock.monotonicMillis()
            if left <= 0 {
                throw TestFailure("routed calls not answered in \(timeoutMillis) ms: \(calls.map { $0.answer?.code ?? "-" })")
            }
            var fds = calls.filter { $0.answer == nil }.map { pollfd(fd: $0.fd.raw, events: Int16(POLLIN), revents: 0) }
            _ = poll(&fds, nfds_t(fds.count), Int32(min(left, 1_000)))
        }
    }
}

/// The Chromium processes a daemon's browser worker ran: seen through `browser.status`,
/// each killed by its process group at the end if it is still there (a browser's profile is
/// inside the daemon's directory, which is how it is told apart from anyone else's).
final class BrowserProcesses {
    let daemonDir: String
    private(set) var seen: Set<Int32> = []

    init(daemonDir: String) { self.daemonDir = daemonDir }

    /// The pool's browsers now (pid → state), recorded for the cleanup.
    @discardableResult
    func list(_ d: DaemonProcess) throws -> [Int32: String] {
        var out: [Int32: String] = [:]
        for b in try d.browser("status")["browser_list"]?.array ?? [] {
            guard let pid = b["pid"]?.int.map(Int32.init) else { continue }
            out[pid] = b["state"]?.string ?? "?"
            seen.insert(pid)
        }
        return out
    }

    func isOurs(_ pid: Int32) -> Bool { (Files.read("/proc/\(pid)/cmdline") ?? "").contains(daemonDir) }

    /// Every browser seen and its group are gone; what is left is killed by process group.
    func cleanUp() {
        for pid in seen where isAlive(pid) && isOurs(pid) { kill(-pid, SIGKILL) }
    }

    deinit { cleanUp() }
}

/// The simulator and a started posting daemon with browser-mode accounts (see
/// `DaemonProcess.withBrowser`), its browser worker running; `prepare` runs before the start.
/// Everything is ended afterwards, Chromium included.
func withBrowserDaemon(accounts: [(Platform, String, String?)], browserAccounts: [String], browsers: Int = 1,
                       environment: [String] = [], prepare: (DaemonProcess) throws -> Void = { _ in },
                       _ body: (SimulatorProcess, DaemonProcess, BrowserProcesses) throws -> Void) throws {
    let sim = try SimulatorProcess()
    defer { sim.stop() }
    let d = try DaemonProcess.withBrowser(sim: sim, accounts: accounts, browserAccounts: browserAccounts, browsers: browsers,
                                          environment: environment)
    let processes = BrowserProcesses(daemonDir: d.dir.path)
    defer {
        d.cleanUp()
        processes.cleanUp()
    }
    try prepare(d)
    try d.start()
    try d.waitBrowserRunning()
    try body(sim, d, processes)
}

extension DaemonProcess {
    /// Waits until the browser worker runs (a submit before that is refused `unavailable`).
    func waitBrowserRunning() throws {
        try waitWorker(.browser, "the browser worker running") { w -> Bool? in w.state == "running" ? true : nil }
    }
}
