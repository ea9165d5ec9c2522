import Glibc
import CShim
import SteadyCore

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

    /// journald's stdout-stream socket.
    public static let streamSocketPath = "/run/systemd/journal/stdout"

    /// A new journald stream with `identifier`; lines may start with `<N>` for their priority.
    ///
    /// This speaks journald's stream protocol directly, as `sd_journal_stream_fd(3)` does: a
    /// stream connection to /run/systemd/journal/stdout, then a header of seven lines
    /// (identifier, unit id, priority, level prefix, forward to syslog, kmsg, console).
    /// Doing it here keeps libsystemd and its five compression and crypto libraries out of
    /// every steadypost process (about 1 MB of RSS and a slower exec for each worker).
    public static func stream(identifier: String, path: String = streamSocketPath) throws(SystemError) -> Descriptor {
        let fd = try Sockets.connectStream(path: path)
        do {
            let header = "\(identifier)\n\n\(LOG_INFO)\n1\n0\n0\n0\n"
            try fd.writeAll(Array(header.utf8), deadlineMillis: SteadyClock.monotonicMillis() + 1000)
            _ = shutdown(fd.raw, Int32(SHUT_RD))
        } catch {
            fd.close()
            throw error
        }
        return fd
    }
}

/// The receiving end of sd_notify, for running without systemd (tests, benchmarks): a
/// datagram socket that reports each message with its sender's pid.
public final class NotifyListener {
    public let path: String
    public let fd: Descriptor

    public init(path: String) throws(SystemError) {
        self.path = path
        fd = Descriptor(try syscall("bind(\(path))") { steady_bind_datagram_passcred(path) })
    }

    /// The next message within the deadline (monotonic ms), or nil at the deadline.
    public func receive(deadlineMillis: Int64) throws(SystemError) -> (text: String, pid: Int32)? {
        while true {
            var buf = [UInt8](repeating: 0, count: 4096)
            var pid: Int32 = 0
            let n = try syscallNonBlocking("recvmsg") { buf.withUnsafeMutableBytes { steady_recv_with_pid(fd.raw, $0.baseAddress, UInt($0.count), &pid) } }
            if let n { return (String(decoding: buf[0..<n], as: UTF8.self), pid) }
            do { try fd.waitReadiness(events: Int16(POLLIN), deadlineMillis: deadlineMillis) } catch where error.errno == ETIMEDOUT {
                return nil
            }
        }
    }

    deinit { _ = unlink(path) }
}
