import Glibc
import SteadyStore

/// A store in a fresh temporary directory, removed with it (the metrics and replies tests).
public final class TempStore {
    public let directory: String
    public let store: SQLitePostStore
    public var path: String { directory + "/steadypost.db" }

    public init() throws {
        var pattern = Array("/tmp/steadypost-periodic.XXXXXX".utf8CString)
        directory = pattern.withUnsafeMutableBufferPointer { String(cString: mkdtemp($0.baseAddress!)!) }
        store = try SQLitePostStore(path: directory + "/steadypost.db")
    }

    deinit {
        for suffix in ["", "-wal", "-shm"] { unlink(path + suffix) }
        rmdir(directory)
    }

    /// A post that went through the contract to `posted` with `platformId`, published at `at`.
    public func postedPost(account: String = "acct", text: String, platformId: String, at: Int64) throws -> Post {
        let post = try store.insert([NewPost(account: account, platform: "mastodon", text: text, dueAt: at, contentHash: "h:" + text)], now: at)[0]
        _ = try store.claimDue(owner: "test", now: at, leaseMillis: 60_000, account: account)
        let attempt = try store.beginAttempt(postId: post.id, owner: "test", idempotencyKey: "k-" + post.id, adapter: "mastodon", now: at, leaseMillis: 60_000)
        return try store.recordOutcome(postId: post.id, attemptId: attempt.id, outcome: .published(platformId: platformId), now: at)
    }
}
