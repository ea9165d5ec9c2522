import Glibc
import SteadyControl
import SteadyCore
import SteadyProtocol
import SteadySystem

/// A steadypostd run from the same build directory, in a temporary directory.
final class BenchDaemon {
    let dir: String
    let config: String
    let process: SpawnedProcess
    var socket: String { dir + "/run/control.sock" }

    /// `reuse`: start on an existing directory and config (a restart, or one prepared earlier).
    init(workerToml: String, extraToml: String = "", reuse: (dir: String, config: String)? = nil, environment: [String] = []) {
        if let reuse {
            dir = reuse.dir
            config = reuse.config
        } else {
            var template = Array("/tmp/steadypost-bench.XXXXXX".utf8CString)
            dir = template.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
            config = dir + "/steadypost.toml"
            var toml = "[daemon]\nstate_dir = \"\(dir)/state\"\nruntime_dir = \"\(dir)/run\"\ncredentials_dir = \"\(dir)/credentials\"\n\n"
            // The api worker on a free port: a benchmark must not need 8787 to be free.
            toml += "[api]\nlisten = \"127.0.0.1:0\"\n\n"
            for role in Role.allCases where !extraToml.contains("[workers.\(role.rawValue)]") {
                toml += "[workers.\(role.rawValue)]\n\(workerToml)\n\n"
            }
            toml += extraToml
            do {
                try Files.makeDirectories(dir + "/credentials", mode: 0o700)
                try Files.writeAtomically(config, toml)
            } catch { die("\(error)") }
        }
        let log = Descriptor(open(dir + "/daemon.log", O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644))
        // Only the variables named here: no test hook reaches the daemon unless a caller
        // passes one in `environment` (the chaos run does, on its debug build); a release
        // build without the hooks refuses to start with one (TestHooks).
        var env = ["SWIFT_BACKTRACE=enable=no", "PATH=/usr/bin:/bin"]
        if let v = getenv("STEADYPOST_NO_CGROUPS") { env.append("STEADYPOST_NO_CGROUPS=\(String(cString: v))") }
        env += environment
        do {
            process = try spawnProcess(path: here + "/steadypostd", arguments: [here + "/steadypostd", "run", "--config", config],
                                       environment: env, passFds: [], stdout: log, stderr: log)
        } catch { die("cannot start steadypostd: \(error)") }
        log.close()
        activeDaemon = self
        childPids[1] = process.pid
    }

    /// SIGKILL, as a crash would; the directory stays for the next start.
    func kill() {
        signalProcess(process, SIGKILL)
        _ = waitpid(process.pid, nil, 0)
    }

    var client: ControlClient { ControlClient(socketPath: socket, timeoutMillis: 10_000) }

    func waitAllRunning() -> StatusReport {
        let deadline = SteadyClock.monotonicMillis() + 30_000
        while SteadyClock.monotonicMillis() < deadline {
            if let status = try? reap(pid: process.pid) {
                die("steadypostd ended (\(status)) before its workers ran; its log:\n\(Files.read(dir + "/daemon.log") ?? "")")
            }
            if let r = try? client.status(), r.workers.allSatisfy({ $0.state == "running" }) { return r }
            var ts = timespec(tv_sec: 0, tv_nsec: 20_000_000)
            nanosleep(&ts, nil)
        }
        die("daemon did not come up; see \(dir)/daemon.log")
    }

    func stop() {
        activeDaemon = nil
        signalProcess(process, SIGTERM)
        var pfd = pollfd(fd: process.pidfd.raw, events: Int16(POLLIN), revents: 0)
        if poll(&pfd, 1, 15_000) != 1 { signalProcess(process, SIGKILL) }
        _ = waitpid(process.pid, nil, 0)
        var argv: [UnsafeMutablePointer<CChar>?] = [strdup("/bin/rm"), strdup("-rf"), strdup(dir), nil]
        var pid: pid_t = 0
        posix_spawn(&pid, "/bin/rm", nil, nil, &argv, nil)
        waitpid(pid, nil, 0)
    }
}

/// Sends one control request without waiting; the answer is read later with `receive`.
final class PendingCall {
    let fd: Descriptor
    init(socket: String, method: ControlMethod, body: [UInt8]) {
        do {
            fd = try Sockets.connectStream(path: socket)
            try fd.writeAll(try Message.request(method: method.rawValue, body: body).encoded(correlation: 1))
        } catch { die("control: \(error)") }
    }
    /// Blocks until the answer; returns when it arrived (monotonic ns).
    func receive() -> (UInt64, Message) {
        var decoder = FrameDecoder()
        var buf: [UInt8] = []
        while true {
            do {
                buf.removeAll()
                try fd.waitReadiness(events: Int16(POLLIN), deadlineMillis: SteadyClock.monotonicMillis() + 20_000)
                guard let n = try Sockets.readAvailable(fd, into: &buf) else { continue }
                if n == 0 { die("control connection closed") }
                let t = SteadyClock.monotonicNanos()
                decoder.feed(buf)
                if let f = try decoder.next() {
                    fd.close()
                    return (t, try Message(f))
                }
            } catch { die("control: \(error)") }
        }
    }
}
