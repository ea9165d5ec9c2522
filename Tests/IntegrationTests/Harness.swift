import Glibc
import SteadyControl
import SteadyCore
import SteadyProtocol
import SteadySystem

/// The built executables (`TestBinaries`: beside the test bundle, or STEADYPOST_BIN_DIR).
enum Binaries {
    static let directory: String = TestBinaries.directory(holding: "steadypostd") ?? "."
    static var daemon: String { directory + "/steadypostd" }
    static var cli: String { directory + "/steadypost" }
    static var bench: String { directory + "/steadypost-bench" }
}

/// Runs a command to completion with a deadline (SIGKILL by pid past it); returns exit code
/// and output.
@discardableResult
func spawnAndWait(_ argv: [String], environment: [String]? = nil, timeoutMillis: Int64 = 30_000) -> (code: Int32, stdout: String, stderr: String) {
    guard let (outR, outW) = try? Sockets.streamPair(), let (errR, errW) = try? Sockets.streamPair() else { return (-1, "", "socketpair failed") }
    let env = environment ?? currentEnvironment()
    guard let process = try? spawnProcess(path: argv[0], arguments: argv, environment: env, passFds: [], stdout: outW, stderr: errW) else {
        return (-1, "", "spawn \(argv[0]) failed")
    }
    outW.close()
    errW.close()
    try? outR.setNonBlocking()
    try? errR.setNonBlocking()
    var out: [UInt8] = []
    var err: [UInt8] = []
    let deadline = SteadyClock.monotonicMillis() + timeoutMillis
    var status: ExitStatus?
    while status == nil {
        var fds = [pollfd(fd: outR.raw, events: Int16(POLLIN), revents: 0), pollfd(fd: errR.raw, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: process.pidfd.raw, events: Int16(POLLIN), revents: 0)]
        let left = deadline - SteadyClock.monotonicMillis()
        if left <= 0 {
            signalProcess(process, SIGKILL)
            _ = waitpid(process.pid, nil, 0)
            return (-9, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self) + "\n[killed at the test deadline]")
        }
        _ = poll(&fds, 3, Int32(min(left, 1000)))
        _ = try? Sockets.readAvailable(outR, into: &out)
        _ = try? Sockets.readAvailable(errR, into: &err)
        if fds[2].revents != 0 { status = try? reap(pid: process.pid) }
    }
    while let n = try? Sockets.readAvailable(outR, into: &out), n > 0 {}
    while let n = try? Sockets.readAvailable(errR, into: &err), n > 0 {}
    let code: Int32
    switch status! {
    case .exited(let c): code = c
    case .signaled(let s): code = -s
    }
    return (code, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
}

/// A real `steadypostd run` in a temporary directory, with fast heartbeats; ended by its pid
/// (and every worker by theirs) when the test is done.
final class Daemon {
    let dir: TempDir
    let configPath: String
    let logPath: String
    let process: SpawnedProcess
    var exited: ExitStatus?
    var knownWorkerPids: Set<Int32> = []

    var socketPath: String { dir.path + "/run/control.sock" }
    var client: ControlClient { ControlClient(socketPath: socketPath, timeoutMillis: 20_000) }

    /// `workers` is extra TOML appended to the config; `environment` extra variables.
    init(extraConfig: String = "", daemonConfig: String = "", allowFaults: Bool = true, environment: [String] = [],
         heartbeat: String = "100ms", hangTimeout: String = "1500ms",
         launcher: ((String, String, [String]) throws -> SpawnedProcess)? = nil) throws {
        dir = TempDir()
        configPath = dir.path + "/steadypost.toml"
        logPath = dir.path + "/daemon.log"
        var toml = """
        [daemon]
        state_dir = "\(dir.path)/state"
        runtime_dir = "\(dir.path)/run"
        credentials_dir = "\(dir.path)/credentials"
        allow_fault_injection = \(allowFaults)
        shutdown_timeout = "10s"
        \(daemonConfig)

        """
        for role in Role.allCases where !extraConfig.contains("[workers.\(role.rawValue)]") {
            toml += "[workers.\(role.rawValue)]\nheartbeat_interval = \"\(heartbeat)\"\nhang_timeout = \"\(hangTimeout)\"\nterm_grace = \"500ms\"\nrestart_base_delay = \"50ms\"\n\n"
        }
        // The api worker listens on a free port, never on the default 8787 another daemon may hold.
        if !extraConfig.contains("[api]") { toml += "[api]\nlisten = \"127.0.0.1:0\"\n\n" }
        toml += extraConfig
        try Files.writeAtomically(configPath, toml)
        let log = open(logPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard log >= 0 else { throw TestFailure("cannot open \(logPath)") }
        let logFd = Descriptor(log)
        let env = currentEnvironment().filter { !$0.hasPrefix("NOTIFY_SOCKET=") && !$0.hasPrefix("LISTEN_") } + ["SWIFT_BACKTRACE=enable=no"] + environment
        if let launcher {
            process = try launcher(configPath, logPath, env)
        } else {
            process = try spawnProcess(path: Binaries.daemon, arguments: [Binaries.daemon, "run", "--config", configPath],
                                       environment: env, passFds: [], stdout: logFd, stderr: logFd)
        }
        logFd.close()
    }

    /// Waits until every enabled worker is running (status over the control socket).
    @discardableResult
    func waitAllRunning(timeoutMillis: Int64 = 20_000, expect count: Int = Role.allCases.count) throws -> StatusReport {
        try waitFor("all workers running", timeoutMillis: timeoutMillis) { report in
            report.workers.filter { $0.state == "running" }.count == count ? report : nil
        }
    }

    /// Samples status until `condition` gives a value or the deadline passes. Sampling the
    /// daemon's own figures is the measurement here, not a guess at timing.
    func waitFor<T>(_ what: String, timeoutMillis: Int64 = 20_000, _ condition: (StatusReport) -> T?) throws -> T {
        let deadline = SteadyClock.monotonicMillis() + timeoutMillis
        var last: String = "no answer"
        while SteadyClock.monotonicMillis() < deadline {
            if let dead = try? reap(pid: process.pid) {
                exited = dead
                throw TestFailure("daemon \(dead) while waiting for \(what)\n\(log())")
            }
            do {
                let report = try client.status()
                for w in report.workers { if let pid = w.pid { knownWorkerPids.insert(pid) } }
                if let value = condition(report) { return value }
                last = report.workers.map { "\($0.role.rawValue)=\($0.state)" }.joined(separator: " ")
            } catch {
                last = "\(error)"
            }
            var ts = timespec(tv_sec: 0, tv_nsec: 20_000_000)
            _ = nanosleep(&ts, nil)
        }
        throw TestFailure("timed out waiting for \(what); last: \(last)\n\(log())")
    }

    func status() throws -> StatusReport {
        let report = try client.status()
        for w in report.workers { if let pid = w.pid { knownWorkerPids.insert(pid) } }
        return report
    }

    func worker(_ role: Role) throws -> WorkerStatus {
        try status().workers.first { $0.role == role }!
    }

    /// Blocks (event-driven, in the daemon) until `role` is running with a pid other than `notPid`.
    func waitReady(_ role: Role, notPid: Int32?) throws -> String {
        let body = try client.call(.waitReady, body: try JSONCoding.encode(WaitReadyRequest(role: role, not_pid: notPid)))
        return try JSONCoding.decode(MessageBody.self, body, type: "answer").message
    }

    func cli(_ args: [String], environment: [String]? = nil) -> (code: Int32, stdout: String, stderr: String) {
        spawnAndWait([Binaries.cli] + args + ["--socket", socketPath], environment: environment)
    }

    func log() -> String { Files.read(logPath) ?? "" }

    /// SIGTERM, wait up to `timeoutMillis` for the exit; returns how it ended.
    func terminate(timeoutMillis: Int64 = 15_000) -> ExitStatus? {
        if let exited { return exited }
        signalProcess(process, SIGTERM)
        let deadline = SteadyClock.monotonicMillis() + timeoutMillis
        while SteadyClock.monotonicMillis() < deadline {
            if let s = try? reap(pid: process.pid) {
                exited = s
                return s
            }
            var pfd = pollfd(fd: process.pidfd.raw, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 200)
        }
        return nil
    }

    /// Ends everything this daemon started, by pid.
    func cleanUp() {
        if exited == nil, terminate(timeoutMillis: 5000) == nil {
            signalProcess(process, SIGKILL)
            _ = waitpid(process.pid, nil, 0)
        }
        for pid in knownWorkerPids where isAlive(pid) && isOurWorker(pid) { kill(pid, SIGKILL) }
        dir.remove()
    }

    func isOurWorker(_ pid: Int32) -> Bool {
        (Files.read("/proc/\(pid)/cmdline") ?? "").contains(configPath)
    }

    deinit { cleanUp() }
}
