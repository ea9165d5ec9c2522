import Testing
import SteadyCore
@testable import SteadyStore

@Suite("attachment store", .timeLimit(.minutes(1)))
struct AttachmentStoreTests {
    static let a = String(repeating: "a", count: 64)
    static let b = String(repeating: "b", count: 64)

    @Test("a post's media is stored with it, all or nothing, and read back in order with alt text")
    func mediaInOrder() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        var p = draft("with media")
        p.media = [MediaAttachment(sha256: Self.b, type: .jpeg, bytes: 20, alt: "second? no, first"),
                   MediaAttachment(sha256: Self.a, type: .png, bytes: 10)]
        let plain = draft("plain")
        let rows = try store.insert([p, plain], now: 1)
        let media = try store.attachments(postIds: rows.map(\.id))
        #expect(media[rows[0].id] == p.media)
        #expect(media[rows[1].id] == nil)
        #expect(try store.attachments(postId: rows[0].id).map(\.sha256) == [Self.b, Self.a])
    }

    @Test("upload handles are kept per position, replaced, dropped; usable only while complete and unexpired")
    func uploads() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        var p = draft("video")
        p.media = [MediaAttachment(sha256: Self.a, type: .mp4, bytes: 10)]
        let post = try store.insert([p], now: 1)[0]
        var u = MediaUpload(postId: post.id, position: 0, sha256: Self.a, handle: "m1", progress: "2", complete: false,
                            expiresAt: 100_000, updatedAt: 5)
        try store.saveMediaUpload(u)
        #expect(try store.mediaUploads(postId: post.id) == [u])
        #expect(!u.usable(at: 10))
        u.progress = nil
        u.complete = true
        try store.saveMediaUpload(u)
        #expect(try store.mediaUploads(postId: post.id) == [u])
        #expect(u.usable(at: 10))
        #expect(!u.usable(at: 99_000), "within a minute of its expiry a handle is not named in a create")
        try store.dropMediaUpload(postId: post.id, position: 0)
        #expect(try store.mediaUploads(postId: post.id).isEmpty)
    }

    @Test("referenced media: every post not final, and final posts only within the grace")
    func referenced() throws {
        let tmp = TempDatabase()
        let store = try tmp.store()
        var p1 = draft("one"), p2 = draft("two", account: "other")
        p1.media = [MediaAttachment(sha256: Self.a, type: .png, bytes: 1)]
        p2.media = [MediaAttachment(sha256: Self.b, type: .png, bytes: 1)]
        let rows = try store.insert([p1, p2], now: 1)
        #expect(try store.referencedMedia(finalSince: 1_000_000) == [Self.a, Self.b])
        _ = try store.cancel(id: rows[1].id, now: 50)
        #expect(try store.referencedMedia(finalSince: 50) == [Self.a, Self.b], "cancelled at 50: inside a grace from 50")
        #expect(try store.referencedMedia(finalSince: 51) == [Self.a], "cancelled before the grace: no longer referenced")
    }
}
