import Glibc
import CShim

/// A child process started by `spawnProcess`: its pid and a pidfd that becomes readable the
/// moment it exits (no polling, no SIGCHLD races).
public struct SpawnedProcess: Sendable {
    public let pid: Int32
    public let pidfd: Descriptor
}

/// How a child ended.
public enum ExitStatus: Equatable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)

    public init(waitStatus: Int32) {
        if steady_wifsignaled(waitStatus) != 0 {
            self = .signaled(steady_wtermsig(waitStatus))
        } else {
            self = .exited(steady_wexitstatus(waitStatus))
        }
    }

    public var description: String {
        switch self {
        case .exited(let code): return "exited with status \(code)"
        case .signaled(let sig): return "killed by signal \(sig) (\(signalName(sig)))"
        }
    }
}

public func signalName(_ sig: Int32) -> String {
    switch sig {
    case SIGKILL: return "SIGKILL"
    case SIGTERM: return "SIGTERM"
    case SIGABRT: return "SIGABRT"
    case SIGSEGV: return "SIGSEGV"
    case SIGILL: return "SIGILL"
    case SIGTRAP: return "SIGTRAP"
    case SIGBUS: return "SIGBUS"
    case SIGINT: return "SIGINT"
    case SIGHUP: return "SIGHUP"
    case SIGPIPE: return "SIGPIPE"
    default: return "signal \(sig)"
    }
}

public struct SpawnError: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var errno: Int32
    public var description: String { "cannot start \(path): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// Spawns `path` with `arguments` (argv[0] included) and `environment`: `passFds[i]` becomes
/// fd 3+i in the child, `stdout`/`stderr` (if given) its 1 and 2, stdin /dev/null; every other
/// descriptor is closed, the child gets its own session, an empty signal mask and default
/// signal dispositions. An exec failure is returned as an error, not a dead child.
public func spawnProcess(
    path: String, arguments: [String], environment: [String],
    passFds: [Descriptor], stdout: Descriptor? = nil, stderr: Descriptor? = nil
) throws -> SpawnedProcess {
    let devnull = try syscall("open(/dev/null)") { open("/dev/null", O_RDONLY | O_CLOEXEC) }
    defer { _ = close(devnull) }
    var cArgs: [UnsafeMutablePointer<CChar>?] = arguments.map { strdup($0) } + [nil]
    var cEnv: [UnsafeMutablePointer<CChar>?] = environment.map { strdup($0) } + [nil]
    defer {
        for p in cArgs { free(p) }
        for p in cEnv { free(p) }
    }
    let keep = passFds.map(\.raw)
    var pid: pid_t = 0
    let rc = keep.withUnsafeBufferPointer { keepBuf in
        steady_spawn(path, &cArgs, &cEnv, devnull, stdout?.raw ?? -1, stderr?.raw ?? -1,
                     keepBuf.baseAddress, Int32(keepBuf.count), &pid)
    }
    if rc != 0 { throw SpawnError(path: path, errno: rc) }
    // A pidfd opened on a zombie still works, so a child that died at once is not missed.
    let pidfd = try syscall("pidfd_open") { steady_pidfd_open(pid) }
    return SpawnedProcess(pid: pid, pidfd: Descriptor(pidfd))
}

/// Reaps `pid` if it has exited; nil while it runs.
public func reap(pid: Int32) throws(SystemError) -> ExitStatus? {
    var status: Int32 = 0
    let r = try syscall("waitpid") { waitpid(pid, &status, WNOHANG) }
    if r == 0 { return nil }
    return ExitStatus(waitStatus: status)
}

/// Sends `signal` through the pidfd, so a recycled pid can never be hit.
public func signalProcess(_ process: SpawnedProcess, _ signal: Int32) {
    _ = steady_pidfd_send_signal(process.pidfd.raw, signal)
}

/// Sets a resource limit on another process (the setrlimit bulkhead).
public func setResourceLimit(pid: Int32, resource: Int32, value: UInt64) throws(SystemError) {
    _ = try syscall("prlimit") { steady_prlimit(pid, resource, value, value) }
}

/// This process's soft limit on open descriptors (RLIMIT_NOFILE, what the supervisor's
/// `open_files_max` set); nil when unlimited.
public func openFilesLimit() throws(SystemError) -> Int? {
    var limit = rlimit()
    _ = try syscall("getrlimit") { getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) }
    return limit.rlim_cur == rlim_t.max ? nil : Int(clamping: limit.rlim_cur)
}

/// A pidfd for a process this one did not necessarily start (readable once it exits).
public func openPidfd(_ pid: Int32) throws(SystemError) -> Descriptor {
    Descriptor(try syscall("pidfd_open") { steady_pidfd_open(pid) })
}
