import Glibc
import SteadyCore
import SteadySystem

// What every process-level test target needs: errors, the built executables, temporary
// directories, waiting for a state with a deadline, and ending a process by its pid.

public struct TestFailure: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}

/// The older name some targets use.
public typealias TestError = TestFailure

/// This process's environment as `NAME=value` lines, for a child's.
public func currentEnvironment() -> [String] {
    var env: [String] = []
    var p = environ
    while let entry = p.pointee {
        env.append(String(cString: entry))
        p += 1
    }
    return env
}

/// Where the built executables are: `STEADYPOST_BIN_DIR`, else the nearest directory above
/// the test bundle that holds them (`swift build` puts every product in one directory).
public enum TestBinaries {
    /// The directory holding `name`, or nil when it is not built.
    public static func directory(holding name: String) -> String? {
        if let dir = getenv("STEADYPOST_BIN_DIR") {
            let d = String(cString: dir)
            return access(d + "/" + name, X_OK) == 0 ? d : nil
        }
        var buf = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buf, buf.count - 1)
        guard n > 0 else { return nil }
        var dir = String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
        while let slash = dir.lastIndex(of: "/"), !dir.isEmpty {
            dir = String(dir[..<slash])
            if access(dir + "/" + name, X_OK) == 0 { return dir }
        }
        return nil
    }

    /// The path of the executable `name`, or nil when it is not built.
    public static func path(_ name: String) -> String? {
        directory(holding: name).map { $0 + "/" + name }
    }

    /// The directory of the built daemon and its siblings ("." when not built: a spawn fails).
    public static let directory: String = directory(holding: "steadypostd") ?? "."
    public static var daemon: String { directory + "/steadypostd" }
    public static var cli: String { directory + "/steadypost" }
    public static var bench: String { directory + "/steadypost-bench" }
}

/// A temporary directory under /tmp, removed by `remove()` or when released.
public final class TempDir: @unchecked Sendable {
    public let path: String
    public init(_ prefix: String = "steadypost-test") {
        var template = Array("/tmp/\(prefix).XXXXXX".utf8CString)
        let p = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        path = p.map { String(cString: $0) } ?? "/tmp/\(prefix).\(getpid())"
        _ = chmod(path, 0o755)
    }
    public func remove() { removeTree(path) }
    deinit { remove() }
}

/// Removes a directory tree below /tmp (never anything else), without following links.
public func removeTree(_ path: String) {
    guard path.hasPrefix("/tmp/"), !path.contains("/../") else { return }
    func remove(_ p: String) {
        var st = stat()
        guard lstat(p, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            _ = chmod(p, 0o700)
            for name in Files.list(p) ?? [] { remove(p + "/" + name) }
            _ = rmdir(p)
        } else {
            _ = unlink(p)
        }
    }
    remove(path)
}

/// Samples `condition` until it gives a value or the deadline passes (waiting for a state,
/// not guessing a time).
public func waitFor<T>(_ what: String, timeoutMillis: Int64, _ condition: () throws -> T?) throws -> T {
    let deadline = SteadyClock.monotonicMillis() + timeoutMillis
    var lastError = ""
    while SteadyClock.monotonicMillis() < deadline {
        do {
            if let value = try condition() { return value }
        } catch {
            lastError = " (last error: \(error))"
        }
        var ts = timespec(tv_sec: 0, tv_nsec: 10_000_000)
        _ = nanosleep(&ts, nil)
    }
    throw TestFailure("timed out after \(timeoutMillis) ms waiting for \(what)\(lastError)")
}

/// Whether `pid` is a live process (a zombie is not).
public func isAlive(_ pid: Int32) -> Bool {
    guard kill(pid, 0) == 0 else { return false }
    guard let stat = Files.read("/proc/\(pid)/stat"), let close = stat.lastIndex(of: ")") else { return false }
    return !stat[stat.index(after: close)...].hasPrefix(" Z")
}

/// Spawns `argv` with its stdout and stderr going to the file `logPath` (created, or
/// appended to with `append`); the environment is this process's, without backtraces.
public func spawnLogged(_ argv: [String], log logPath: String, append: Bool = false,
                        environment: [String] = currentEnvironment() + ["SWIFT_BACKTRACE=enable=no"], passFds: [Descriptor] = []) throws -> SpawnedProcess {
    let fd = open(logPath, O_WRONLY | O_CREAT | O_CLOEXEC | (append ? O_APPEND : O_TRUNC), 0o644)
    guard fd >= 0 else { throw TestFailure("cannot open \(logPath): errno \(errno)") }
    let log = Descriptor(fd)
    defer { log.close() }
    return try spawnProcess(path: argv[0], arguments: argv, environment: environment, passFds: passFds, stdout: log, stderr: log)
}

/// Waits up to `timeoutMillis` (its pidfd) for a child to exit and reaps it; nil when it is
/// still running at the deadline.
public func waitExit(_ process: SpawnedProcess, timeoutMillis: Int64) -> ExitStatus? {
    let deadline = SteadyClock.monotonicMillis() + timeoutMillis
    while true {
        do {
            if let status = try reap(pid: process.pid) { return status }
        } catch {
            return nil  // not our child (already reaped)
        }
        let left = deadline - SteadyClock.monotonicMillis()
        if left <= 0 { return nil }
        var pfd = pollfd(fd: process.pidfd.raw, events: Int16(POLLIN), revents: 0)
        _ = poll(&pfd, 1, Int32(min(left, 1000)))
    }
}

/// Ends a child by its pid: SIGTERM, up to `graceMillis` for the exit (its pidfd), then
/// SIGKILL; always reaped. Returns how it ended (nil: it had been reaped already).
@discardableResult
public func endProcess(_ process: SpawnedProcess, graceMillis: Int64 = 5000) -> ExitStatus? {
    signalProcess(process, SIGTERM)
    defer { process.pidfd.close() }
    if let status = waitExit(process, timeoutMillis: graceMillis) { return status }
    return killProcess(process)
}

/// SIGKILL by pid(fd), reap, close the pidfd; how it ended (nil: it had been reaped already).
@discardableResult
public func killProcess(_ process: SpawnedProcess) -> ExitStatus? {
    signalProcess(process, SIGKILL)
    defer { process.pidfd.close() }
    var raw: Int32 = 0
    while true {
        if waitpid(process.pid, &raw, 0) >= 0 { return .signaled(SIGKILL) }
        if errno != EINTR { return nil }
    }
}

/// What a command run to completion did: its exit code (minus the signal when killed) and output.
public typealias CommandResult = (code: Int32, stdout: String, stderr: String)

/// Runs a command to completion with a deadline (SIGKILL by pid past it); returns exit code
/// and output.
@discardableResult
public func spawnAndWait(_ argv: [String], environment: [String]? = nil, timeoutMillis: Int64 = 30_000) -> CommandResult {
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
            killProcess(process)
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
