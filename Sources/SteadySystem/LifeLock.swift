import Glibc

/// Proof that a process is gone, good across restarts of whoever watches it. The process
/// holds an exclusive `flock` on a file named after it for as long as it lives; the kernel
/// drops the lock when its last descriptor closes (exit, crash, SIGKILL, OOM kill). Whoever
/// can take the lock has proof the holder is dead. A pid check could not give that: pids are
/// reused, a dead process may linger as a zombie, and pid namespaces differ.
///
/// The file is removed by whoever proves its holder dead (`remove`), under the lock; a new
/// holder that opened the old file just before checks it is still linked and starts over.
public final class LifeLock: @unchecked Sendable {
    public let path: String
    let descriptor: Descriptor

    /// What a look at someone else's lock file shows.
    public enum Holder: Equatable, Sendable {
        /// The lock is held: the holder lives.
        case alive
        /// The lock was free: the holder is gone.
        case gone
        /// No file (the holder never took one here, or it was removed already) or the look
        /// failed: no proof either way.
        case unknown
    }

    /// Takes the lock at `path` (created mode 0600) and holds it until `release()` or exit.
    /// Never waits: a lock held by someone else (another holder of the same name) is an
    /// error (EWOULDBLOCK).
    public init(path: String) throws(SystemError) {
        while true {
            let fd = try syscall("open(\(path))") { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
            let candidate = Descriptor(fd)
            guard try syscallNonBlocking("flock(\(path))", { flock(fd, LOCK_EX | LOCK_NB) }) != nil else {
                candidate.close()
                throw SystemError("flock(\(path))", errno: EWOULDBLOCK)
            }
            if Self.stillLinked(fd, path) {
                self.path = path
                descriptor = candidate
                return
            }
            // A prover removed the file between our open and our lock: it guards nothing.
            candidate.close()
        }
    }

    /// Removes the file and lets the lock go (a clean exit).
    public func release() {
        _ = unlink(path)
        descriptor.close()
    }

    /// Whether the holder of the lock at `path` lives. Leaves the file in place.
    public static func holder(of path: String) -> Holder {
        withFreeLock(path) { _ in () }.map { _ in .gone } ?? (Files.exists(path) ? .alive : .unknown)
    }

    /// Removes the lock file at `path` if its holder is gone; true if it did.
    @discardableResult
    public static func remove(_ path: String) -> Bool {
        withFreeLock(path) { _ in unlink(path) == 0 } ?? false
    }

    /// Runs `body` while holding the free lock at `path`; nil if the file is missing or the
    /// lock is held.
    static func withFreeLock<T>(_ path: String, _ body: (Int32) -> T) -> T? {
        let fd = open(path, O_RDWR | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        let file = Descriptor(fd)
        defer { file.close() }
        guard let taken = try? syscallNonBlocking("flock(\(path))", { flock(fd, LOCK_EX | LOCK_NB) }), taken == 0,
              stillLinked(fd, path) else { return nil }
        return body(fd)
    }

    /// Whether `fd` is still the file at `path`.
    static func stillLinked(_ fd: Int32, _ path: String) -> Bool {
        var held = stat()
        var linked = stat()
        guard fstat(fd, &held) == 0, stat(path, &linked) == 0 else { return false }
        return held.st_ino == linked.st_ino && held.st_dev == linked.st_dev
    }
}
