import Glibc

/// Reads a file that holds secrets (account credentials, an API key) the way ssh reads a
/// private key: not through a symbolic link, only a regular file, owned by this process's
/// user or root, and not readable or writable by group or others. A file that fails a rule
/// is refused with a message saying which and how to fix it; its bytes are never read.
///
/// Under systemd (`CREDENTIALS_DIRECTORY`) the mode and owner are systemd's to set (it may
/// grant the service user access by an ACL, which shows as group bits), so `trustMode`
/// skips those two checks there; the link and file-type checks always apply.
public enum SecretFile {
    public enum Outcome: Equatable, Sendable {
        case read(String)
        case missing
        case refused(String)
    }

    public static let limit = 1 << 20

    public static func read(_ path: String, trustMode: Bool = false) -> Outcome {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK)
        if fd < 0 {
            let e = errno
            if e == ENOENT { return .missing }
            if e == ELOOP { return .refused("\(path) is a symbolic link; name the file itself (a secret is not read through a link)") }
            return .refused("\(path): \(String(cString: strerror(e)))")
        }
        defer { _ = close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { return .refused("\(path): fstat: \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { return .refused("\(path) is not a regular file") }
        if !trustMode {
            let mode = st.st_mode & 0o7777
            if mode & 0o077 != 0 {
                return .refused("\(path) is accessible by group or others (mode \(octal(mode))); it holds secrets: chmod 600 \(path)")
            }
            let me = geteuid()
            if st.st_uid != me && st.st_uid != 0 {
                return .refused("\(path) is owned by uid \(st.st_uid), not by this service's user (uid \(me)) or root: chown it")
            }
        }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while out.count <= limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .refused("\(path): read: \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            out += chunk[0..<n]
        }
        guard out.count <= limit else { return .refused("\(path) is larger than \(limit) bytes; not a credentials file") }
        return .read(String(decoding: out, as: UTF8.self))
    }

    static func octal(_ mode: mode_t) -> String {
        let text = String(mode, radix: 8)
        return String(repeating: "0", count: max(0, 4 - text.count)) + text
    }
}
