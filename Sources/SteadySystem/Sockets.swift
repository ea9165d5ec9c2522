import Glibc
import CShim
import SteadyCore

/// Unix-domain socket helpers. Every descriptor is close-on-exec from birth.
public enum Sockets {
    /// A SOCK_SEQPACKET pair: message boundaries kept, both ends close-on-exec.
    public static func seqpacketPair() throws(SystemError) -> (Descriptor, Descriptor) {
        var fds: [Int32] = [-1, -1]
        _ = try syscall("socketpair") {
            socketpair(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
        }
        return (Descriptor(fds[0]), Descriptor(fds[1]))
    }

    /// A SOCK_STREAM pair, close-on-exec.
    public static func streamPair() throws(SystemError) -> (Descriptor, Descriptor) {
        var fds: [Int32] = [-1, -1]
        _ = try syscall("socketpair") {
            socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0, &fds)
        }
        return (Descriptor(fds[0]), Descriptor(fds[1]))
    }

    private static func withAddress<R>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> R) throws(SystemError) -> R {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard bytes.count < capacity, !bytes.isEmpty else { throw SystemError("sockaddr_un(\(path))", errno: ENAMETOOLONG) }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            for (i, b) in bytes.enumerated() { raw[i] = b }
            // An abstract address ("@name") starts with a NUL byte.
            if bytes[0] == UInt8(ascii: "@") { raw[0] = 0 }
        }
        let len = socklen_t(MemoryLayout<sa_family_t>.size + bytes.count + (bytes[0] == UInt8(ascii: "@") ? 0 : 1))
        return withUnsafePointer(to: &addr) { ptr in
            ptr.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, len) }
        }
    }

    /// Binds and listens on a Unix stream socket at `path` with `mode`, replacing a stale file.
    public static func listenStream(path: String, mode: mode_t, backlog: Int32 = 64) throws(SystemError) -> Descriptor {
        let fd = Descriptor(try syscall("socket") {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        })
        _ = unlink(path)
        let bound = try withAddress(path) { addr, len in Glibc.bind(fd.raw, addr, len) }
        if bound != 0 { throw SystemError("bind(\(path))", errno: Glibc.errno) }
        _ = try syscall("chmod(\(path))") { chmod(path, mode) }
        _ = try syscall("listen") { listen(fd.raw, backlog) }
        return fd
    }

    /// Connects a blocking Unix stream socket to `path`.
    public static func connectStream(path: String) throws(SystemError) -> Descriptor {
        let fd = Descriptor(try syscall("socket") {
            socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        let rc = try withAddress(path) { addr, len in Glibc.connect(fd.raw, addr, len) }
        if rc != 0 { throw SystemError("connect(\(path))", errno: Glibc.errno) }
        return fd
    }

    /// Sends one datagram to a Unix datagram socket at `path` (sd_notify's transport).
    public static func sendDatagram(_ bytes: [UInt8], to path: String) throws(SystemError) {
        let fd = Descriptor(try syscall("socket") {
            socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        })
        defer { fd.close() }
        let sent = try withAddress(path) { addr, len in
            bytes.withUnsafeBytes { buf in Glibc.sendto(fd.raw, buf.baseAddress, buf.count, Int32(MSG_NOSIGNAL), addr, len) }
        }
        if sent < 0 { throw SystemError("sendto(\(path))", errno: Glibc.errno) }
    }

    /// Accepts one connection, non-blocking and close-on-exec; nil when none is pending.
    public static func accept(_ listener: Descriptor) throws(SystemError) -> Descriptor? {
        guard let fd = try syscallNonBlocking("accept4", { steady_accept4_cloexec(listener.raw) }) else { return nil }
        return Descriptor(fd)
    }

    /// The peer's pid, uid and gid (SO_PEERCRED).
    public static func peerCredentials(_ fd: Descriptor) throws(SystemError) -> (pid: Int32, uid: UInt32, gid: UInt32) {
        var cred = steady_ucred()
        _ = try syscall("getsockopt(SO_PEERCRED)") { steady_peer_credentials(fd.raw, &cred) }
        return (cred.pid, cred.uid, cred.gid)
    }

    /// The peer's supplementary groups (SO_PEERGROUPS), as the kernel saw them at connect.
    public static func peerGroups(_ fd: Descriptor) throws(SystemError) -> [UInt32] {
        var groups = [UInt32](repeating: 0, count: 1024)
        let n = try syscall("getsockopt(SO_PEERGROUPS)") { steady_peer_groups(fd.raw, &groups, Int32(groups.count)) }
        return Array(groups[0..<Int(n)])
    }

    /// Reads what is available into `buffer` (appending); returns the byte count, 0 at EOF,
    /// nil when nothing is ready.
    public static func readAvailable(_ fd: Descriptor, into buffer: inout [UInt8], max: Int = 65536) throws(SystemError) -> Int? {
        var passed = DescriptorPassing.Received()
        return try readAvailable(fd, into: &buffer, max: max, maxDescriptors: 0, passed: &passed)
    }

    /// As `readAvailable`, also taking up to `maxDescriptors` descriptors sent with the bytes
    /// (SCM_RIGHTS) into `passed`. On a stream socket the kernel ends a read at the bytes that
    /// carried descriptors, so those arrive with the read holding the bytes they were sent with.
    public static func readAvailable(_ fd: Descriptor, into buffer: inout [UInt8], max: Int = 65536,
                                     maxDescriptors: Int, passed: inout DescriptorPassing.Received) throws(SystemError) -> Int? {
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: max, alignment: 16)
        defer { chunk.deallocate() }
        guard let n = try DescriptorPassing.receive(fd, into: chunk, maxDescriptors: maxDescriptors, passed: &passed) else { return nil }
        if n > 0 { buffer.append(contentsOf: UnsafeRawBufferPointer(rebasing: chunk[0..<n])) }
        return n
    }

}

/// Receives SOCK_SEQPACKET messages into one buffer allocated once (uninitialised, so its
/// untouched pages cost no memory), instead of a fresh megabyte per message.
public final class MessageReceiver {
    private let buffer: UnsafeMutableRawBufferPointer
    public let maxMessage: Int

    public init(maxMessage: Int) {
        self.maxMessage = maxMessage
        buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: maxMessage + 1, alignment: 16)
    }

    deinit { buffer.deallocate() }

    public enum Received {
        case message(ArraySlice<UInt8>)
        /// Larger than `maxMessage`: the rest was discarded by the kernel.
        case truncated(Int)
        case endOfStream
    }

    /// One message, or nil when nothing is ready. Descriptors sent with it are closed.
    public func receive(_ fd: Descriptor) throws(SystemError) -> Received? {
        var passed = DescriptorPassing.Received()
        return try receive(fd, maxDescriptors: 0, passed: &passed)
    }

    /// One message and up to `maxDescriptors` descriptors that came with it (into `passed`).
    public func receive(_ fd: Descriptor, maxDescriptors: Int, passed: inout DescriptorPassing.Received) throws(SystemError) -> Received? {
        guard let n = try DescriptorPassing.receive(fd, into: buffer, flags: Int32(MSG_TRUNC), maxDescriptors: maxDescriptors, passed: &passed) else {
            return nil
        }
        if n == 0 { return .endOfStream }
        if n > maxMessage { return .truncated(n) }
        return .message(ArraySlice(UnsafeRawBufferPointer(rebasing: buffer[0..<n])))
    }
}
