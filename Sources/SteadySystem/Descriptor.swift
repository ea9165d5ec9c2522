import Glibc
import SteadyCore

/// An owned file descriptor: closed exactly once, by `close()` or, if the owner forgot, when
/// the last reference goes (a leak would otherwise grow the fd count the heartbeats report).
public final class Descriptor: @unchecked Sendable {
    public let raw: Int32
    private var open = true

    public init(_ raw: Int32) { self.raw = raw }

    public var isOpen: Bool { open }

    /// Closes the descriptor. Not retried on EINTR: on Linux the fd is gone either way.
    public func close() {
        guard open else { return }
        open = false
        _ = Glibc.close(raw)
    }

    deinit {
        if open { _ = Glibc.close(raw) }
    }

    public func setNonBlocking(_ on: Bool = true) throws(SystemError) {
        let flags = try syscall("fcntl(F_GETFL)") { fcntl(raw, F_GETFL) }
        let next = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK
        _ = try syscall("fcntl(F_SETFL)") { fcntl(raw, F_SETFL, next) }
    }

    /// Writes all of `bytes`, waiting with poll on a non-blocking descriptor, up to a deadline.
    /// `descriptors` go with the first byte (SCM_RIGHTS), as the stream's reader expects them.
    public func writeAll(_ bytes: [UInt8], deadlineMillis: Int64? = nil, descriptors: [Descriptor] = []) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let n: Int?
            if offset == 0 && !descriptors.isEmpty {
                n = try DescriptorPassing.send(self, bytes, descriptors: descriptors)
            } else {
                n = try syscallNonBlocking("send") {
                    bytes.withUnsafeBytes { buf in
                        Glibc.send(raw, buf.baseAddress! + offset, buf.count - offset, Int32(MSG_NOSIGNAL))
                    }
                }
            }
            if let n { offset += n; continue }
            try waitReadiness(events: Int16(POLLOUT), deadlineMillis: deadlineMillis)
        }
    }

    /// Sends `bytes` on a SOCK_SEQPACKET socket as consecutive messages of at most `piece`
    /// bytes each. One message may not exceed the socket's send buffer (212,992 B by default,
    /// EMSGSIZE past it), while a frame may be far larger; the reader feeds every message to a
    /// stream decoder, so the pieces join up again. `sent` tells how far it got: a failure
    /// after the first piece leaves the peer holding half a frame, so the caller must close.
    /// `descriptors` go with the first piece (SCM_RIGHTS): the reader hands them to the frame
    /// that piece starts.
    public func sendPieces(_ bytes: [UInt8], piece: Int, deadlineMillis: Int64?, sent: inout Int,
                           descriptors: [Descriptor] = []) throws(SystemError) {
        sent = 0
        while sent < bytes.count {
            let length = min(piece, bytes.count - sent)
            let start = sent
            let n: Int?
            if start == 0 && !descriptors.isEmpty {
                n = try DescriptorPassing.send(self, bytes, length: length, descriptors: descriptors)
            } else {
                n = try syscallNonBlocking("send") {
                    bytes.withUnsafeBytes { buf in
                        Glibc.send(raw, buf.baseAddress! + start, length, Int32(MSG_NOSIGNAL))
                    }
                }
            }
            if let n { sent += n; continue }
            try waitReadiness(events: Int16(POLLOUT), deadlineMillis: deadlineMillis)
        }
    }

    /// Waits until the descriptor is ready for `events` or the monotonic deadline passes
    /// (then ETIMEDOUT).
    public func waitReadiness(events: Int16, deadlineMillis: Int64?) throws(SystemError) {
        while true {
            var timeout: Int32 = -1
            if let deadlineMillis {
                let left = deadlineMillis - SteadyClock.monotonicMillis()
                if left <= 0 { throw SystemError("poll", errno: ETIMEDOUT) }
                timeout = Int32(clamping: left)
            }
            var pfd = pollfd(fd: raw, events: events, revents: 0)
            let n = try syscall("poll") { Glibc.poll(&pfd, 1, timeout) }
            if n > 0 { return }
        }
    }
}
