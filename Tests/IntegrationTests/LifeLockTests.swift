import Glibc
import Testing
import SteadySystem

/// The life lock the posting workers prove each other dead by (`LifeLock`). flock locks
/// belong to open file descriptions, so a second open in this process sees the lock held
/// exactly as another process would.
@Suite("life lock")
struct LifeLockTests {
    @Test("held: alive; its holder gone: gone; removed only when free, then unknown")
    func holderStates() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let path = dir.path + "/posting:1.lock"
        #expect(LifeLock.holder(of: path) == .unknown, "no file: no proof either way")
        var lock: LifeLock? = try LifeLock(path: path)
        withExtendedLifetime(lock) {
            #expect(LifeLock.holder(of: path) == .alive)
            #expect(!LifeLock.remove(path), "a held lock's file stays")
            #expect(Files.exists(path))
            #expect(throws: SystemError.self, "a second holder of the same name is refused, not left waiting") {
                _ = try LifeLock(path: path)
            }
        }
        // The holder dies without cleaning up: its descriptor closes, the file stays.
        lock = nil
        #expect(Files.exists(path))
        #expect(LifeLock.holder(of: path) == .gone)
        #expect(LifeLock.remove(path))
        #expect(!Files.exists(path))
        #expect(LifeLock.holder(of: path) == .unknown)
    }

    @Test("a clean release removes the file; a new holder of the same name takes a fresh lock")
    func releaseAndRetake() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let path = dir.path + "/posting:2.lock"
        let first = try LifeLock(path: path)
        first.release()
        #expect(!Files.exists(path))
        let second = try LifeLock(path: path)
        #expect(LifeLock.holder(of: path) == .alive)
        #expect(second.path == path)
        second.release()
    }
}
