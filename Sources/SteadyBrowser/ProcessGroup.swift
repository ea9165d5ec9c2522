import Glibc
import CShim
import SteadySystem

/// A browser and everything it forks (zygotes, renderers, utility processes) share one
/// process group: `spawnProcess` starts the browser in its own session, so its pgid is its
/// pid, and Chromium's children stay in it (except crashpad's handlers: see `strays`).
/// The group is killed while the leader is still unreaped, so the pgid cannot have been
/// reused; with this process a child subreaper, the orphaned members come back to us and are
/// reaped here too.
public enum ProcessGroup {
    /// Members of process group `pgid`, zombies included (from /proc).
    public static func members(_ pgid: Int32) -> [Int32] {
        guard pgid > 1 else { return [] }
        var out: [Int32] = []
        for name in Files.list("/proc") ?? [] {
            guard let pid = Int32(name), let stat = Files.read("/proc/\(name)/stat", limit: 2048),
                  let close = stat.lastIndex(of: ")") else { continue }
            // After "comm)": state ppid pgrp session ...
            let fields = stat[stat.index(after: close)...].split(separator: " ", maxSplits: 4)
            if fields.count >= 3, Int32(fields[2]) == pgid { out.append(pid) }
        }
        return out
    }

    /// Processes outside group `pgid` whose command line mentions `marker` (a browser's
    /// profile directory): Chromium's crashpad handlers double-fork into sessions of their
    /// own, but name the crash database under the profile (HOME points there).
    public static func strays(of pgid: Int32, mentioning marker: String) -> [Int32] {
        let needle = Array(marker.utf8)
        var out: [Int32] = []
        for name in Files.list("/proc") ?? [] {
            guard let pid = Int32(name), pid != pgid, let stat = Files.read("/proc/\(name)/stat", limit: 2048),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ", maxSplits: 4)
            guard fields.count >= 3, Int32(fields[2]) != pgid else { continue }
            guard let cmdline = Files.read("/proc/\(name)/cmdline", limit: 65536) else { continue }
            if Array(cmdline.utf8).firstRange(of: needle) != nil { out.append(pid) }
        }
        return out
    }

    /// A process outside the group, held by a pidfd from the moment it was found: signals go
    /// through the pidfd (a reused pid is never hit), and its exit is seen even after its
    /// command line is gone (a zombie's /proc cmdline is empty, so a scan cannot find it).
    public final class Stray {
        public let pid: Int32
        private let pidfd: Descriptor

        public init?(_ pid: Int32) {
            guard let fd = try? openPidfd(pid) else { return nil }
            self.pid = pid
            pidfd = fd
        }

        deinit { pidfd.close() }

        public func kill() {
            _ = steady_pidfd_send_signal(pidfd.raw, SIGKILL)
        }

        /// True once it is gone: reaped here if it is our child (a subreaper's orphan), else
        /// exited (its pidfd readable; its own parent reaps it).
        public func reapOrGone() -> Bool {
            var status: Int32 = 0
            while true {
                let r = waitpid(pid, &status, WNOHANG)
                if r == pid { return true }
                if r == 0 { return false }
                if errno == EINTR { continue }
                var fds = [pollfd(fd: pidfd.raw, events: Int16(POLLIN), revents: 0)]
                return poll(&fds, 1, 0) == 1
            }
        }
    }

    /// SIGKILL to the whole group. Only call while the leader is unreaped.
    public static func kill(_ pgid: Int32) {
        guard pgid > 1 else { return }
        _ = Glibc.kill(-pgid, SIGKILL)
    }

    /// Reaps every exited child of ours in the group; returns how many.
    @discardableResult
    public static func reapExited(_ pgid: Int32) -> Int {
        guard pgid > 1 else { return 0 }
        var count = 0
        var status: Int32 = 0
        while true {
            let r = waitpid(-pgid, &status, WNOHANG)
            if r > 0 { count += 1; continue }
            if r < 0 && errno == EINTR { continue }
            return count
        }
    }

    /// Summed PSS and RSS of the group's members, in bytes.
    public static func memory(_ pgid: Int32) -> (pss: UInt64, rss: UInt64, processes: Int) {
        let pids = members(pgid)
        var pss: UInt64 = 0
        var rss: UInt64 = 0
        for pid in pids {
            pss += ProcessStats.proportionalBytes(pid: pid)
            rss += ProcessStats.residentBytes(pid: pid)
        }
        return (pss, rss, pids.count)
    }

    /// Makes this process the reaper of its orphaned descendants (PR_SET_CHILD_SUBREAPER), so
    /// a browser's zygote and renderers are reaped here, not by init. prctl is variadic in C
    /// (not importable into Swift), so it is reached through dlsym with its integer signature.
    @discardableResult
    public static func becomeChildSubreaper() -> Bool {
        typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
        guard let sym = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "prctl") else { return false }
        let prctl = unsafeBitCast(sym, to: Prctl.self)
        return prctl(36 /* PR_SET_CHILD_SUBREAPER */, 1, 0, 0, 0) == 0
    }
}

/// Removes a directory tree (no symlinks followed), refusing anything outside `root`.
@discardableResult
func removeTree(_ path: String, under root: String) -> Bool {
    guard !root.isEmpty, path.hasPrefix(root.hasSuffix("/") ? root : root + "/"), !path.contains("/../") else { return false }
    func remove(_ p: String) {
        var st = stat()
        guard lstat(p, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            for name in Files.list(p) ?? [] { remove(p + "/" + name) }
            _ = rmdir(p)
        } else {
            _ = unlink(p)
        }
    }
    remove(path)
    return !Files.exists(path)
}
