import Glibc
import SteadyCore

/// One holder at a time of whatever a lock file names, across processes and threads: an
/// exclusive `flock` on its own open of the file (so two threads of one process exclude each
/// other as two processes do), dropped by `release()` or by the kernel when the holder dies
/// however it dies. The file (mode 0600, close-on-exec descriptor) stays in place: removing
/// it under a waiter would let two holders in.
///
/// Waiting is bounded: `acquire` gives up at its deadline with an error naming the file.
public final class FileLock: @unchecked Sendable {
    public let path: String
    let descriptor: Descriptor

    private init(path: String, descriptor: Descriptor) {
        self.path = path
        self.descriptor = descriptor
    }

    /// Takes the lock at `path` (creating the file, not its directory), waiting at most
    /// `timeoutMillis` for another holder to let go.
    public static func acquire(_ path: String, timeoutMillis: Int64) throws(SystemError) -> FileLock {
        let fd = try syscall("open(\(path))") { open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600) }
        let file = Descriptor(fd)
        let deadline = SteadyClock.monotonicMillis() + max(0, timeoutMillis)
        var pause: Int64 = 2
        while true {
            do {
                if try syscallNonBlocking("flock(\(path))", { flock(fd, LOCK_EX | LOCK_NB) }) != nil {
                    return FileLock(path: path, descriptor: file)
                }
            } catch {
                file.close()
                throw error
            }
            if SteadyClock.monotonicMillis() >= deadline {
                file.close()
                throw SystemError("flock(\(path)): still held by another holder after \(timeoutMillis) ms", errno: EWOULDBLOCK)
            }
            // flock has no timed wait; a short, growing nap keeps the wait bounded and cheap.
            sleepMillis(pause)
            pause = min(pause * 2, 50)
        }
    }

    /// Lets the lock go (closing the descriptor drops it).
    public func release() { descriptor.close() }

    public var isHeld: Bool { descriptor.isOpen }

    deinit { descriptor.close() }
}
