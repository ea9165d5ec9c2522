import CShim
import Glibc

/// What `stat` says about a file, in the units callers use.
public struct FileStatus: Sendable, Equatable {
    public var size: Int64
    /// Last modification, seconds since the epoch.
    public var modifiedSeconds: Int64
    public var isRegular: Bool
    public var isDirectory: Bool
    /// The permission bits (`st_mode & 0o7777`).
    public var permissions: UInt32

    init(_ st: stat) {
        permissions = UInt32(st.st_mode) & 0o7777
        size = Int64(st.st_size)
        modifiedSeconds = Int64(st.st_mtim.tv_sec)
        isRegular = (st.st_mode & S_IFMT) == S_IFREG
        isDirectory = (st.st_mode & S_IFMT) == S_IFDIR
    }
}

/// Plain-file I/O on an owned descriptor: opened close-on-exec, EINTR retried, short reads and
/// writes handled, every failure a `SystemError` naming the call and `what` (a path).
extension Descriptor {
    /// Opens `path` with `flags` (O_CLOEXEC is always added); `mode` applies when it creates.
    public static func open(_ path: String, _ flags: Int32, mode: mode_t = 0o600) throws(SystemError) -> Descriptor {
        let fd = try syscall("open(\(path))") { Glibc.open(path, flags | O_CLOEXEC, mode) }
        return Descriptor(fd)
    }

    /// Reads at most `buffer.count` bytes; 0 at end of file.
    public func read(into buffer: UnsafeMutableRawBufferPointer, what: String = "") throws(SystemError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        return try syscall("read(\(what))") { Glibc.read(raw, base, buffer.count) }
    }

    /// Reads until `buffer` is full or the file ends; the count read (less than the buffer only at the end).
    public func readFull(into buffer: UnsafeMutableRawBufferPointer, what: String = "") throws(SystemError) -> Int {
        var filled = 0
        while filled < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]), what: what)
            if n == 0 { break }
            filled += n
        }
        return filled
    }

    /// Writes all of `bytes` to a blocking descriptor (a file), continuing after short writes.
    public func writeAll(_ bytes: UnsafeRawBufferPointer, what: String = "") throws(SystemError) {
        guard let base = bytes.baseAddress else { return }
        var offset = 0
        while offset < bytes.count {
            let start = offset
            offset += try syscall("write(\(what))") { Glibc.write(raw, base + start, bytes.count - start) }
        }
    }

    /// fsync: the data and its metadata are on disk when it returns.
    public func sync(what: String = "") throws(SystemError) {
        _ = try syscall("fsync(\(what))") { fsync(raw) }
    }

    /// fstat.
    public func status(what: String = "") throws(SystemError) -> FileStatus {
        var st = stat()
        _ = try syscall("fstat(\(what))") { fstat(raw, &st) }
        return FileStatus(st)
    }
}

extension Files {
    /// rename(2): atomic replacement within one file system.
    public static func rename(_ from: String, to: String) throws(SystemError) {
        _ = try syscall("rename(\(from), \(to))") { Glibc.rename(from, to) }
    }

    /// unlink(2); a file already gone is not an error.
    public static func remove(_ path: String) throws(SystemError) {
        if Glibc.unlink(path) != 0 && errno != ENOENT { throw SystemError("unlink(\(path))", errno: errno) }
    }

    /// fsyncs a directory, so the names created, renamed or removed in it survive a crash.
    public static func syncDirectory(_ path: String) throws(SystemError) {
        let dir = try Descriptor.open(path, O_RDONLY | O_DIRECTORY)
        defer { dir.close() }
        try dir.sync(what: path)
    }

    /// lstat, or nil when the path does not exist.
    public static func status(_ path: String) throws(SystemError) -> FileStatus? {
        var st = stat()
        if lstat(path, &st) != 0 {
            if errno == ENOENT { return nil }
            throw SystemError("lstat(\(path))", errno: errno)
        }
        return FileStatus(st)
    }
}

extension Descriptor {
    /// A pipe, both ends close-on-exec.
    public static func pipe() throws(SystemError) -> (read: Descriptor, write: Descriptor) {
        var fds: [Int32] = [-1, -1]
        _ = try syscall("pipe2") { steady_pipe2_cloexec(&fds) }
        return (Descriptor(fds[0]), Descriptor(fds[1]))
    }

    /// pread: reads at most `buffer.count` bytes at `offset`, leaving the file position alone.
    public func read(into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, what: String = "") throws(SystemError) -> Int {
        guard let base = buffer.baseAddress, buffer.count > 0 else { return 0 }
        return try syscall("pread(\(what))") { Glibc.pread(raw, base, buffer.count, off_t(offset)) }
    }
}

extension Files {
    /// Sets a file's modification (and access) time: `seconds` since the epoch, or now when nil.
    public static func setModificationTime(_ path: String, seconds: Int64? = nil) throws(SystemError) {
        guard let seconds else {
            // No times: both become now.
            _ = try syscall("utimensat(\(path))") { utimensat(AT_FDCWD, path, nil, 0) }
            return
        }
        let times = [timespec](repeating: timespec(tv_sec: Int(seconds), tv_nsec: 0), count: 2)
        _ = try syscall("utimensat(\(path))") { utimensat(AT_FDCWD, path, times, 0) }
    }
}
