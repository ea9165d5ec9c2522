import Testing
import SteadyCore
import SteadyMedia
import SteadyPlatforms
import SteadyStore
import SteadySystem
import SteadyTestSupport

/// Test attachments (the simulator and the media store type them by their first bytes) and
/// posts with media put straight into a daemon's state directory before it starts: the
/// scheduling side of media (CLI `--media`, the API) is another change.
enum MediaFixture {
    static func png(_ size: Int, seed: Int) -> [UInt8] {
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + filler(size - 8, seed)
    }

    static func mp4(_ size: Int, seed: Int) -> [UInt8] {
        [0, 0, 0, 0x18] + Array("ftypisom".utf8) + filler(size - 12, seed)
    }

    static func filler(_ count: Int, _ seed: Int) -> [UInt8] {
        (0..<max(0, count)).map { UInt8(truncatingIfNeeded: ($0 &* 31) &+ ($0 >> 8) &* 7 &+ seed) }
    }

    /// Four distinct images with alt text.
    static func images(_ tag: String, seed: Int) -> [Item] {
        (0..<4).map { Item(bytes: png(2_000 + 300 * $0, seed: seed * 10 + $0), alt: "\(tag) image \($0 + 1)") }
    }

    struct Item {
        var bytes: [UInt8]
        var alt: String?
        var sha256: String { SHA256.hex(bytes) }
    }

    struct Scheduled {
        var account: String
        var platform: Platform
        var text: String
        var media: [Item]
    }
}

extension DaemonProcess {
    /// Copies each post's media into `STATE_DIR/media` and inserts the posts (due now, in
    /// order) through the store; their ids in order. Before `start()`: the engine claims
    /// due posts when it starts.
    func insertMediaPosts(_ posts: [MediaFixture.Scheduled]) throws -> [String] {
        let state = dir.path + "/state"
        try Files.makeDirectories(state, mode: 0o700)
        let media = try MediaStore(directory: state + "/media")
        let store = try SQLitePostStore(path: storePath)
        let now = SteadyClock.wallMillis()
        var rows: [NewPost] = []
        for (n, post) in posts.enumerated() {
            var attachments: [MediaAttachment] = []
            for item in post.media {
                let put = try media.put(bytes: item.bytes, name: "fixture")
                attachments.append(MediaAttachment(sha256: put.item.sha256, type: put.item.type, bytes: put.item.bytes, alt: item.alt))
            }
            rows.append(NewPost(account: post.account, platform: post.platform.rawValue, text: post.text, dueAt: now - Int64(posts.count - n),
                                contentHash: ContentNormalizer.hash(post.text), media: attachments))
        }
        return try store.insert(rows, now: now).map(\.id)
    }

    /// `waitStates`, saying on a timeout where each post is and what the posting worker logged.
    @discardableResult
    func waitMediaStates(_ ids: [String], _ state: String, timeoutMillis: Int64) throws -> [String: JSON] {
        do {
            return try waitStates(ids, state, timeoutMillis: timeoutMillis)
        } catch {
            let jobs = ((try? self.jobs()) ?? []).map { "\($0["id"]?.string ?? "?")=\($0["state"]?.string ?? "?") \($0["last_error"]?.string ?? "")" }
            let posting = log().split(separator: "\n").filter { $0.contains("steadypost-posting") }.suffix(40)
            throw TestFailure("\(error); posts: \(jobs); posting log:\n\(posting.joined(separator: "\n"))")
        }
    }

    /// Stores upload handles as if an earlier worker had made them.
    func insertMediaUploads(_ uploads: [MediaUpload]) throws {
        let store = try SQLitePostStore(path: storePath)
        for u in uploads { try store.saveMediaUpload(u) }
    }
}

extension SimulatorProcess {
    /// Ground truth: the account's posts with `text` (expected once), with their media.
    func checkLanded(_ post: MediaFixture.Scheduled, context: String) throws {
        let found = try posts(post.account).filter { $0["text"]?.string == post.text }
        #expect(found.count == 1, "\(context): '\(post.text)' is on \(post.account) \(found.count) times")
        let media = found.first?["media"]?.array ?? []
        #expect(media.map { $0["sha256"]?.string ?? "" } == post.media.map(\.sha256),
                "\(context): '\(post.text)' carries its media in order: \(media.map { $0["sha256"]?.string ?? "?" })")
        #expect(media.map { $0["alt"]?.string ?? "" } == post.media.map { $0.alt ?? "" },
                "\(context): '\(post.text)' carries the alt texts: \(media.map { $0["alt"]?.string ?? "-" })")
    }

    /// Every upload the simulator took for `account` (finished or not).
    func uploads(_ account: String) throws -> [JSON] {
        try call(.get, "/_sim/media?account=\(account)")["media"]?.array ?? []
    }
}
