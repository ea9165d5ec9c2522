import Glibc

/// Writes a file atomically: a temporary file beside it (created with `mode`, close-on-exec),
/// written, fsynced and renamed into place, so readers see nothing or the whole file.
public enum AtomicFile {
    public struct WriteError: Error, CustomStringConvertible {
        public let call: String
        public let errno: Int32
        public var description: String { "\(call): \(String(cString: strerror(errno)))" }
    }

    public static func write(path: String, contents: String, mode: mode_t = 0o644) throws {
        let temporary = path + ".tmp.\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw WriteError(call: "open \(temporary)", errno: errno) }
        var failure: WriteError?
        if fchmod(fd, mode) != 0 { failure = WriteError(call: "fchmod", errno: errno) }
        let bytes = Array(contents.utf8)
        var offset = 0
        while failure == nil, offset < bytes.count {
            let written = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if written < 0 {
                if errno == EINTR { continue }
                failure = WriteError(call: "write \(temporary)", errno: errno)
            } else {
                offset += written
            }
        }
        if failure == nil, fsync(fd) != 0 { failure = WriteError(call: "fsync \(temporary)", errno: errno) }
        close(fd)
        if failure == nil, rename(temporary, path) != 0 { failure = WriteError(call: "rename to \(path)", errno: errno) }
        if let failure {
            unlink(temporary)
            throw failure
        }
    }
}
