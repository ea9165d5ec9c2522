import Glibc
import Logging
import SteadyCore
import SteadySystem

/// Which resource bound holds a child.
public enum BoundsKind: String, Sendable {
    /// A delegated cgroup v2 sub-group per child (memory.max, pids.max): systemd Delegate=yes.
    case cgroupV2 = "cgroup-v2"
    /// cgroup v1 memory and pids hierarchies, where writable (hybrid hosts).
    case cgroupV1 = "cgroup-v1"
    /// setrlimit (RLIMIT_DATA, RLIMIT_NOFILE) only: no cgroup could be used.
    case rlimit
}

/// Per-child resource bounds. A child that blows its memory bound is killed alone by the
/// kernel (cgroup OOM) or fails its own allocation (rlimit); nobody else is touched.
public final class Bulkheads {
    public private(set) var kind: BoundsKind = .rlimit
    private let logger: Logger
    private var v2Base: String?
    private var v1Memory: String?
    private var v1Pids: String?
    private let tag: String
    /// Groups already created with their limits written: a restart only moves the new pid in.
    private var prepared: [Role: (memory: UInt64, pids: Int)] = [:]

    /// `cgroupRoot` is /sys/fs/cgroup; tests may point it elsewhere.
    public init(logger: Logger, cgroupRoot: String = "/sys/fs/cgroup", disabled: Bool = false) {
        self.logger = logger
        self.tag = "steadypost.\(getpid())"
        guard !disabled else {
            logger.notice("resource bounds: rlimit (STEADYPOST_NO_CGROUPS=1: cgroups not used)")
            return
        }
        let lines = (Files.read("/proc/self/cgroup") ?? "").split(separator: "\n")
        if setUpV2(root: cgroupRoot, lines: lines) {
            kind = .cgroupV2
        } else if setUpV1(root: cgroupRoot, lines: lines) {
            kind = .cgroupV1
        }
        logger.info("resource bounds: \(kind.rawValue)")
    }

    /// v2: only when our own cgroup has memory and pids controllers we may delegate.
    private func setUpV2(root: String, lines: [Substring]) -> Bool {
        guard let line = lines.first(where: { $0.hasPrefix("0::") }) else { return false }
        let mount = Files.exists(root + "/unified/cgroup.controllers") && !Files.exists(root + "/memory") ? root + "/unified" : root
        let own = mount + String(line.dropFirst(3))
        let controllers = (Files.read(own + "/cgroup.controllers") ?? "").split(whereSeparator: \.isWhitespace)
        guard controllers.contains("memory"), controllers.contains("pids") else { return false }
        // The no-internal-process rule: move ourselves into a leaf before enabling controllers.
        let leaf = own + "/supervisor"
        do {
            try Files.makeDirectories(leaf)
            try Files.writeExisting(leaf + "/cgroup.procs", "\(getpid())")
            try Files.writeExisting(own + "/cgroup.subtree_control", "+memory +pids")
        } catch {
            logger.notice("cgroup v2 not delegated here: \(error)")
            return false
        }
        v2Base = own
        return true
    }

    private func setUpV1(root: String, lines: [Substring]) -> Bool {
        func ownPath(_ controller: String) -> String? {
            for line in lines {
                let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
                if parts.count == 3, parts[1].split(separator: ",").contains(Substring(controller)) {
                    return root + "/" + controller + (parts[2] == "/" ? "" : String(parts[2]))
                }
            }
            return nil
        }
        guard let memory = ownPath("memory"), Files.exists(memory + "/memory.limit_in_bytes") else { return false }
        let base = memory + "/" + tag
        if mkdir(base, 0o755) != 0 && errno != EEXIST {
            logger.notice("cgroup v1 memory not writable at \(memory): \(SystemError("mkdir", errno: errno))")
            return false
        }
        v1Memory = base
        removeStale(parent: memory)
        if let pids = ownPath("pids"), Files.exists(pids + "/pids.max") || Files.exists(pids + "/cgroup.procs") {
            let pbase = pids + "/" + tag
            if mkdir(pbase, 0o755) == 0 || errno == EEXIST {
                v1Pids = pbase
                removeStale(parent: pids)
            }
        }
        return true
    }

    /// Removes sub-groups left by supervisors that died without cleaning up.
    private func removeStale(parent: String) {
        for name in Files.list(parent) ?? [] where name.hasPrefix("steadypost.") && name != tag {
            guard let pid = Int32(name.dropFirst("steadypost.".count)), kill(pid, 0) != 0, errno == ESRCH else { continue }
            for sub in Files.list(parent + "/" + name) ?? [] where Role(rawValue: sub) != nil {
                _ = rmdir(parent + "/" + name + "/" + sub)
            }
            _ = rmdir(parent + "/" + name)
        }
    }

    /// Puts a just-spawned child under its bounds. Failures are logged and fall back to
    /// rlimit; the child runs either way.
    public func apply(role: Role, pid: Int32, memoryMax: UInt64, pidsMax: Int, openFilesMax: Int) -> BoundsKind {
        var applied = BoundsKind.rlimit
        do {
            if let base = v2Base {
                let group = base + "/" + role.rawValue
                try Files.makeDirectories(group)
                try Files.writeExisting(group + "/memory.max", "\(memoryMax)")
                try? Files.writeExisting(group + "/memory.swap.max", "0")
                try Files.writeExisting(group + "/pids.max", "\(pidsMax)")
                try Files.writeExisting(group + "/cgroup.procs", "\(pid)")
                applied = .cgroupV2
            } else if let base = v1Memory {
                let group = base + "/" + role.rawValue
                try Files.makeDirectories(group)
                try Files.writeExisting(group + "/memory.limit_in_bytes", "\(memoryMax)")
                try Files.writeExisting(group + "/cgroup.procs", "\(pid)")
                if let pbase = v1Pids {
                    let pgroup = pbase + "/" + role.rawValue
                    try Files.makeDirectories(pgroup)
                    try Files.writeExisting(pgroup + "/pids.max", "\(pidsMax)")
                    try Files.writeExisting(pgroup + "/cgroup.procs", "\(pid)")
                }
                applied = .cgroupV1
            }
        } catch {
            logger.warning("cgroup bound for \(role.rawValue) failed, using rlimit: \(error)", metadata: ["worker.role": "\(role.rawValue)"])
        }
        do {
            try setResourceLimit(pid: pid, resource: Int32(RLIMIT_NOFILE.rawValue), value: UInt64(openFilesMax))
            if applied == .rlimit {
                try setResourceLimit(pid: pid, resource: Int32(RLIMIT_DATA.rawValue), value: memoryMax)
            }
        } catch {
            logger.warning("rlimit for \(role.rawValue) failed: \(error)", metadata: ["worker.role": "\(role.rawValue)"])
        }
        return applied
    }

    /// How many times the kernel's OOM killer has fired in `role`'s group (cgroup v2
    /// `memory.events`, v1 `memory.oom_control`); nil without a cgroup.
    public func oomKills(role: Role) -> Int? {
        let text: String?
        if let base = v2Base {
            text = Files.read(base + "/" + role.rawValue + "/memory.events")
        } else if let base = v1Memory {
            text = Files.read(base + "/" + role.rawValue + "/memory.oom_control")
        } else {
            return nil
        }
        for line in (text ?? "").split(separator: "\n") where line.hasPrefix("oom_kill ") {
            return Int(line.dropFirst("oom_kill ".count))
        }
        return nil
    }

    /// Removes this supervisor's cgroup v1 sub-groups (they are empty once children are gone).
    public func cleanUp() {
        for base in [v1Memory, v1Pids].compactMap({ $0 }) {
            for role in Role.allCases { _ = rmdir(base + "/" + role.rawValue) }
            _ = rmdir(base)
        }
    }
}
