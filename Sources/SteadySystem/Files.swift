import Glibc

/// Small whole-file helpers for /proc, /sys and state files.
public enum Files {
    /// Reads a whole (small) file, or nil if it cannot be read.
    public static func read(_ path: String, limit: Int = 1 << 20) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return nil }
        defer { _ = close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 8192)
        while out.count < limit {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return nil
            }
            if n == 0 { break }
            out.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Writes `text` to an existing file (a cgroup knob); throws with the errno on failure.
    public static func writeExisting(_ path: String, _ text: String) throws(SystemError) {
        let file = try Descriptor.open(path, O_WRONLY)
        defer { file.close() }
        try write(text, to: file, what: path)
    }

    /// Creates `path` with `text` unless it exists, atomically and without ever replacing it:
    /// written to a file of this process, fsync'd, then hard-linked into place (which fails if
    /// another process got there first). True when this call created it.
    public static func createOnce(_ path: String, _ text: String, mode: mode_t = 0o600) throws(SystemError) -> Bool {
        let tmp = path + ".\(getpid()).new"
        defer { _ = unlink(tmp) }
        try writeSynced(tmp, text, mode: mode)
        if link(tmp, path) == 0 { return true }
        if errno == EEXIST { return false }
        throw SystemError("link(\(tmp), \(path))", errno: errno)
    }

    /// Writes a file atomically: `path.new`, fsync, rename.
    public static func writeAtomically(_ path: String, _ text: String, mode: mode_t = 0o644) throws(SystemError) {
        let tmp = path + ".new"
        try writeSynced(tmp, text, mode: mode)
        try rename(tmp, to: path)
    }

    /// Writes `text` to a new (or truncated) `path` and fsyncs it.
    private static func writeSynced(_ path: String, _ text: String, mode: mode_t) throws(SystemError) {
        let file = try Descriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: mode)
        defer { file.close() }
        try write(text, to: file, what: path)
        try file.sync(what: path)
    }

    private static func write(_ text: String, to file: Descriptor, what: String) throws(SystemError) {
        var failure: SystemError?
        Array(text.utf8).withUnsafeBytes { raw in
            do throws(SystemError) { try file.writeAll(raw, what: what) } catch { failure = error }
        }
        if let failure { throw failure }
    }

    /// `mkdir -p` with `mode` for the directories it creates.
    public static func makeDirectories(_ path: String, mode: mode_t = 0o755) throws(SystemError) {
        var current = path.hasPrefix("/") ? "" : "."
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, mode) != 0 && errno != EEXIST {
                throw SystemError("mkdir(\(current))", errno: errno)
            }
        }
    }

    public static func exists(_ path: String) -> Bool { access(path, F_OK) == 0 }

    /// The names in a directory (without . and ..), or nil if it cannot be read.
    public static func list(_ path: String) -> [String]? {
        guard let dir = opendir(path) else { return nil }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
