import Glibc
import SteadyConfig
import SteadyStore
import SteadySystem

/// The daemon's one database (`state_dir/steadypost.db`), opened by a periodic worker: the
/// directory made if the posting worker has not yet, the files kept owner-only (they hold
/// rotated tokens) whoever creates them.
public enum SharedStore {
    public static func open(_ config: Config) throws -> any Store {
        let dir = config.daemon.stateDir
        try Files.makeDirectories(dir, mode: 0o700)
        let path = dir + "/steadypost.db"
        let store = try Stores.open(path: path)
        for suffix in ["", "-wal", "-shm"] { _ = chmod(path + suffix, 0o600) }
        return store
    }

    /// A file inside `credentials_dir` (e.g. the chat-completions key).
    public static func credentialsFile(_ name: String, config: Config) -> String {
        let dir = config.daemon.credentialsDir
        return (dir.hasSuffix("/") ? dir : dir + "/") + name
    }
}
