import Glibc
import CShim
import SteadyCore
import SteadySystem

/// One headless Chromium: its process (and process group), its private profile directory and
/// its DevTools pipe. The pool decides; this class starts, kills and reaps.
public final class BrowserProcess {
    public enum State: String, Sendable {
        /// Spawned, first command not answered yet.
        case starting
        case idle
        /// Holding a lease (its tab may be closing after the lease was answered).
        case busy
        /// Killed or exited; its processes are being reaped.
        case dead
    }

    public let serial: Int
    public let pid: Int32
    public let process: SpawnedProcess
    public let profileDir: String
    public let connection: CDPConnection
    public internal(set) var state: State = .starting
    public internal(set) var leasesServed = 0
    public let startedAt: Int64
    public internal(set) var readyAt: Int64?
    public internal(set) var version: String?
    /// Summed over the browser's process group, at the last measurement.
    public internal(set) var pssBytes: UInt64 = 0
    public internal(set) var rssBytes: UInt64 = 0
    public internal(set) var processCount = 0
    public internal(set) var exitStatus: ExitStatus?
    var lease: Lease?
    var killedAt: Int64?
    var leaderReaped = false
    var deathReason: String?
    /// Processes of this browser outside its group (crashpad handlers, which exit by
    /// themselves when the browser dies): noted while it lives (`noteStrays`) and again when
    /// it is killed, so one that is already a zombie by then is still reaped.
    private var knownStrays: [Int32: ProcessGroup.Stray] = [:]
    public var strays: Set<Int32> { Set(knownStrays.keys) }
    private let poller: Poller
    private let profileRoot: String

    init(serial: Int, process: SpawnedProcess, profileDir: String, profileRoot: String, connection: CDPConnection, poller: Poller) {
        self.serial = serial
        self.process = process
        self.pid = process.pid
        self.profileDir = profileDir
        self.profileRoot = profileRoot
        self.connection = connection
        self.poller = poller
        startedAt = SteadyClock.monotonicMillis()
    }

    /// The command line used for every browser.
    static func arguments(settings: BrowserPoolSettings, profileDir: String) -> [String] {
        var args = [
            settings.chromiumPath,
            "--headless=new",
            "--remote-debugging-pipe",
            "--user-data-dir=\(profileDir)",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-gpu",
            // No crash uploads. crashpad handlers still start (out of the group: found by
            // their --database under the profile and killed with it); the flag that would stop
            // them, --disable-crashpad-for-testing, crash-loops the network service.
            "--disable-crash-reporter",
            "--disable-breakpad",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--mute-audio",
        ]
        if settings.runningAsRoot { args.append("--no-sandbox") }
        args += settings.extraArguments
        args.append("about:blank")
        return args
    }

    /// Starts Chromium with its pipe ends on fds 3 (commands in) and 4 (replies out).
    static func launch(serial: Int, settings: BrowserPoolSettings, poller: Poller, onExit: @escaping (BrowserProcess) -> Void) throws -> BrowserProcess {
        let profileDir = settings.profileRoot + "/profile-\(getpid())-\(serial)"
        _ = removeTree(profileDir, under: settings.profileRoot)
        try Files.makeDirectories(profileDir, mode: 0o700)
        var toChrome: [Int32] = [-1, -1]
        var fromChrome: [Int32] = [-1, -1]
        _ = try syscall("pipe2") { steady_pipe2_cloexec(&toChrome) }
        let toRead = Descriptor(toChrome[0]), toWrite = Descriptor(toChrome[1])
        _ = try syscall("pipe2") { steady_pipe2_cloexec(&fromChrome) }
        let fromRead = Descriptor(fromChrome[0]), fromWrite = Descriptor(fromChrome[1])
        let logFd = open(profileDir + "/chrome.log", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        let log = logFd >= 0 ? Descriptor(logFd) : nil
        defer { log?.close() }
        var env = settings.environment.filter { !$0.hasPrefix("HOME=") && !$0.hasPrefix("XDG_CONFIG_HOME=") && !$0.hasPrefix("XDG_CACHE_HOME=") }
        // Everything Chromium writes (NSS db, caches) stays in the profile and goes with it.
        env += ["HOME=\(profileDir)", "XDG_CONFIG_HOME=\(profileDir)/.config", "XDG_CACHE_HOME=\(profileDir)/.cache"]
        let spawned: SpawnedProcess
        do {
            spawned = try spawnProcess(path: settings.chromiumPath, arguments: arguments(settings: settings, profileDir: profileDir),
                                       environment: env, passFds: [toRead, fromWrite], stdout: log, stderr: log)
        } catch {
            _ = removeTree(profileDir, under: settings.profileRoot)
            throw error
        }
        // The child has its copies; ours would hide its EOF.
        toRead.close()
        fromWrite.close()
        let connection: CDPConnection
        do {
            connection = try CDPConnection(input: fromRead, output: toWrite, poller: poller, maxMessageBytes: settings.maxMessageBytes)
        } catch {
            ProcessGroup.kill(spawned.pid)
            _ = waitpid(spawned.pid, nil, 0)
            _ = removeTree(profileDir, under: settings.profileRoot)
            throw error
        }
        let browser = BrowserProcess(serial: serial, process: spawned, profileDir: profileDir, profileRoot: settings.profileRoot,
                                     connection: connection, poller: poller)
        try poller.register(spawned.pidfd.raw) { [weak browser] _ in
            guard let browser, browser.exitStatus == nil, !browser.leaderReaped else { return }
            onExit(browser)
        }
        return browser
    }

    /// Kills the browser's whole process group (the leader is not reaped yet, so the pgid is
    /// still ours), then closes the pipe: pending commands fail now.
    func kill(reason: String) {
        if killedAt == nil {
            killedAt = SteadyClock.monotonicMillis()
            deathReason = reason
            if !leaderReaped { ProcessGroup.kill(pid) }
            noteStrays()
            for stray in knownStrays.values { stray.kill() }
            // From here the pool reaps on its ticks; a readable pidfd would only spin the loop.
            poller.unregister(process.pidfd.raw)
        }
        state = .dead
        connection.close(reason: reason)
    }

    /// Reaps what has exited; true once the leader and every member of its group are gone,
    /// and then removes the profile directory.
    func reap() -> Bool {
        if !leaderReaped {
            var status: Int32 = 0
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid {
                leaderReaped = true
                exitStatus = ExitStatus(waitStatus: status)
                poller.unregister(process.pidfd.raw)
                process.pidfd.close()
            } else if r < 0 && errno == ECHILD {
                leaderReaped = true
                poller.unregister(process.pidfd.raw)
                process.pidfd.close()
            }
        }
        ProcessGroup.reapExited(pid)
        knownStrays = knownStrays.filter { !$0.value.reapOrGone() }
        guard leaderReaped, strays.isEmpty, ProcessGroup.members(pid).isEmpty else { return false }
        _ = removeTree(profileDir, under: profileRoot)
        return true
    }

    /// Holds every live process outside the group that names this browser's profile.
    func noteStrays() {
        for pid in ProcessGroup.strays(of: pid, mentioning: profileDir) where knownStrays[pid] == nil {
            knownStrays[pid] = ProcessGroup.Stray(pid)
        }
    }

    func measure() {
        noteStrays()
        let m = ProcessGroup.memory(pid)
        pssBytes = m.pss
        rssBytes = m.rss
        processCount = m.processes
    }
}
