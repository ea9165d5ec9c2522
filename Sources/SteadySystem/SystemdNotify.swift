import Glibc
import CSystemd

/// sd_notify, spoken directly over NOTIFY_SOCKET (a datagram per message): READY=1,
/// STATUS=..., WATCHDOG=1, STOPPING=1. Silent no-op when not run by systemd.
public struct SystemdNotifier: Sendable {
    public let socketPath: String?
    /// The watchdog interval systemd expects pings within, if it set one for this pid.
    public let watchdogMicros: UInt64?

    public init(environment: [String: String]) {
        socketPath = environment["NOTIFY_SOCKET"].flatMap { $0.isEmpty ? nil : $0 }
        var usec = environment["WATCHDOG_USEC"].flatMap(UInt64.init)
        if let pidText = environment["WATCHDOG_PID"], let pid = Int32(pidText), pid != getpid() { usec = nil }
        watchdogMicros = usec
    }

    @discardableResult
    public func send(_ message: String) -> Bool {
        guard let socketPath else { return false }
        do {
            try Sockets.sendDatagram(Array(message.utf8), to: socketPath)
            return true
        } catch {
            return false
        }
    }
}

/// journald streams: a child's stdout/stderr connected to journald with its own identifier.
public enum Journal {
    /// True when this process's stderr is a journald stream (systemd sets JOURNAL_STREAM).
    public static func isConnected(environment: [String: String]) -> Bool {
        guard let value = environment["JOURNAL_STREAM"] else { return false }
        let parts = value.split(separator: ":")
        guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return UInt64(st.st_dev) == dev && UInt64(st.st_ino) == ino
    }

    /// A new journald stream with `identifier`; lines may start with `<N>` for their priority.
    public static func stream(identifier: String) throws(SystemError) -> Descriptor {
        let fd = sd_journal_stream_fd(identifier, LOG_INFO, 1)
        if fd < 0 { throw SystemError("sd_journal_stream_fd(\(identifier))", errno: -fd) }
        // sd_journal_stream_fd does not set close-on-exec; every fd here must have it.
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        return Descriptor(fd)
    }
}
