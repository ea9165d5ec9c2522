import Glibc
import CShim

/// Open descriptors sent over a Unix socket (SCM_RIGHTS): how the CLI hands the daemon a file
/// the daemon's own user may not be able to open, and how the supervisor forwards it to a
/// worker. Received descriptors are close-on-exec from birth (MSG_CMSG_CLOEXEC).
public enum DescriptorPassing {
    /// The most descriptors one frame may carry, on the control socket and to a worker.
    public static let maxPerFrame = 16

    /// What one receive brought besides bytes.
    public struct Received {
        public var descriptors: [Descriptor] = []
        /// More descriptors came than `maxDescriptors`: the kernel (or we) closed the rest.
        public var truncated = false

        public init() {}
    }

    /// Sends bytes with `descriptors` attached to the first of them (non-blocking). Returns the
    /// byte count sent, nil when the socket is full (then nothing, descriptors included, went).
    public static func send(_ socket: Descriptor, _ bytes: [UInt8], offset: Int = 0, length: Int? = nil,
                            descriptors: [Descriptor]) throws(SystemError) -> Int? {
        precondition(descriptors.count <= Int(STEADY_MAX_PASSED_FDS), "at most \(STEADY_MAX_PASSED_FDS) descriptors a message")
        let raws = descriptors.map(\.raw)
        let count = length ?? bytes.count - offset
        return try syscallNonBlocking("sendmsg(SCM_RIGHTS)") {
            bytes.withUnsafeBytes { buf in
                raws.withUnsafeBufferPointer { fds in
                    steady_send_with_fds(socket.raw, buf.baseAddress! + offset, UInt(count), fds.baseAddress, Int32(fds.count))
                }
            }
        }
    }

    /// Receives up to `buffer.count` bytes (recvmsg `flags` besides MSG_DONTWAIT) and up to
    /// `maxDescriptors` descriptors, appended to `passed`. Returns recvmsg's count (0 at end of
    /// stream), nil when nothing is ready.
    public static func receive(_ socket: Descriptor, into buffer: UnsafeMutableRawBufferPointer, flags: Int32 = 0,
                               maxDescriptors: Int, passed: inout Received) throws(SystemError) -> Int? {
        let limit = min(max(0, maxDescriptors), Int(STEADY_MAX_PASSED_FDS))
        var fds = [Int32](repeating: -1, count: Int(STEADY_MAX_PASSED_FDS))
        var count: Int32 = 0
        var msgFlags: Int32 = 0
        let n = try syscallNonBlocking("recvmsg") {
            fds.withUnsafeMutableBufferPointer { out in
                steady_recv_with_fds(socket.raw, buffer.baseAddress, UInt(buffer.count), flags, out.baseAddress, Int32(limit), &count, &msgFlags)
            }
        }
        for fd in fds.prefix(Int(count)) { passed.descriptors.append(Descriptor(fd)) }
        if msgFlags & Int32(MSG_CTRUNC) != 0 { passed.truncated = true }
        guard let n else { return nil }
        return n
    }
}
