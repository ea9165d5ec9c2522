import Glibc

/// Figures a process reports about itself in heartbeats: resident memory and open fds.
public enum ProcessStats {
    /// Resident set size in bytes, of `pid` or of this process (/proc/PID/statm: one short
    /// read, cheap enough for every heartbeat).
    public static func residentBytes(pid: Int32? = nil) -> UInt64 {
        let path = pid.map { "/proc/\($0)/statm" } ?? "/proc/self/statm"
        guard let text = Files.read(path, limit: 256) else { return 0 }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = UInt64(fields[1]) else { return 0 }
        return pages * UInt64(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// Proportional set size in bytes (Pss from smaps_rollup): shared pages split fairly.
    public static func proportionalBytes(pid: Int32) -> UInt64 {
        guard let text = Files.read("/proc/\(pid)/smaps_rollup") else { return 0 }
        for line in text.split(separator: "\n") where line.hasPrefix("Pss:") {
            let digits = line.dropFirst(4).filter(\.isNumber)
            return (UInt64(String(digits)) ?? 0) * 1024
        }
        return 0
    }

    /// Open file descriptors of this process (the /proc listing's own fd excluded).
    public static func openDescriptors() -> Int {
        max(0, (Files.list("/proc/self/fd")?.count ?? 1) - 1)
    }

    /// CPU time of `pid` in nanoseconds (its process CPU clock), or nil if it is gone.
    public static func cpuNanos(pid: Int32) -> UInt64? {
        var clock = clockid_t()
        guard clock_getcpuclockid(pid, &clock) == 0 else { return nil }
        var ts = timespec()
        guard clock_gettime(clock, &ts) == 0 else { return nil }
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    /// Total CPU time (user + system) of `pid`, in clock ticks, from /proc/PID/stat.
    public static func cpuTicks(pid: Int32) -> UInt64? {
        guard let text = Files.read("/proc/\(pid)/stat"), let close = text.lastIndex(of: ")") else { return nil }
        let fields = text[text.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let u = UInt64(fields[11]), let s = UInt64(fields[12]) else { return nil }
        return u + s
    }
}

/// The kernel's pressure stall figures (PSI): the share of time tasks waited for a resource.
public struct Pressure: Equatable, Sendable, CustomStringConvertible {
    /// "some avg10" for CPU and memory, in percent; nil where the kernel gives no PSI.
    public var cpuSome10: Double?
    public var memorySome10: Double?

    public init(cpuSome10: Double?, memorySome10: Double?) {
        self.cpuSome10 = cpuSome10
        self.memorySome10 = memorySome10
    }

    public static func read(root: String = "/proc/pressure") -> Pressure {
        Pressure(cpuSome10: parse(Files.read(root + "/cpu")), memorySome10: parse(Files.read(root + "/memory")))
    }

    /// Parses the `some avg10=` figure of a PSI file.
    public static func parse(_ text: String?) -> Double? {
        guard let text else { return nil }
        for line in text.split(separator: "\n") where line.hasPrefix("some ") {
            for field in line.split(separator: " ") where field.hasPrefix("avg10=") {
                return Double(field.dropFirst(6))
            }
        }
        return nil
    }

    public var description: String {
        let c = cpuSome10.map { "\($0)%" } ?? "n/a"
        let m = memorySome10.map { "\($0)%" } ?? "n/a"
        return "cpu some avg10=\(c), memory some avg10=\(m)"
    }
}
