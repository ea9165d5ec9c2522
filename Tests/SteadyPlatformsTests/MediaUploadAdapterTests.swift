import SteadyCore
import SteadyHTTP
import SteadyTestSupport
import Testing

@testable import SteadyPlatforms

/// Each adapter's media upload against the real simulator: X resumed at its next segment,
/// Mastodon polled until processed (and its "not finished processing" refusal `noEffect`),
/// Bluesky's embed; what reads show of a post's media (verification compares it).
@Suite("media uploads by adapter", .serialized, .timeLimit(.minutes(2)))
struct MediaUploadAdapterTests {
    final class BytesSource: HTTPBodySource {
        let bytes: ArraySlice<UInt8>
        var at: Int
        init(_ bytes: ArraySlice<UInt8>) {
            self.bytes = bytes
            at = bytes.startIndex
        }
        func read(into buffer: UnsafeMutableRawBufferPointer) throws(HTTPBodySourceError) -> Int {
            let n = min(buffer.count, bytes.endIndex - at)
            for k in 0..<n { buffer[k] = bytes[at + k] }
            at += n
            return n
        }
    }

    /// Bytes from memory; records checkpoints; `failOpensAfter` opens, `open` fails (as a
    /// worker that died would stop); polls do not wait (the simulator advances by polls).
    final class Context: MediaUploadContext {
        let segmentBytes: Int
        let files: [String: [UInt8]]
        var failOpensAfter: Int?
        var failWaits = false
        var opens = 0
        var polls = 0
        var checkpoints: [MediaHandle] = []

        init(segmentBytes: Int, files: [[UInt8]]) {
            self.segmentBytes = segmentBytes
            self.files = Dictionary(files.map { (SHA256.hex($0), $0) }, uniquingKeysWith: { a, _ in a })
        }

        func open(_ attachment: MediaAttachment, at offset: Int64) throws(HTTPBodySourceError) -> any HTTPBodySource {
            opens += 1
            if let failOpensAfter, opens > failOpensAfter { throw HTTPBodySourceError("stopped") }
            return BytesSource(files[attachment.sha256]![Int(offset)...])
        }

        func checkpoint(_ handle: MediaHandle) { checkpoints.append(handle) }

        func timeoutMillis(bytes: Int64) -> Int { 10_000 }

        func waitForProcessing(suggestedMillis: Int64, poll: Int) throws(PlatformError) {
            polls += 1
            if failWaits {
                throw PlatformError(platform: .mastodon, errorClass: .noEffect, evidence: ErrorEvidence(operation: "upload"), message: "no wait")
            }
        }
    }

    static func attachment(_ bytes: [UInt8], alt: String?) -> MediaAttachment {
        MediaAttachment(sha256: SHA256.hex(bytes), type: MediaType.identify(bytes).type!, bytes: Int64(bytes.count), alt: alt)
    }

    static func mp4(_ size: Int, seed: Int) -> [UInt8] {
        [0, 0, 0, 0x18] + Array("ftypisom".utf8) + (0..<(size - 12)).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ seed) }
    }

    static func png(_ size: Int, seed: Int) -> [UInt8] {
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + (0..<(size - 8)).map { UInt8(truncatingIfNeeded: $0 &* 29 &+ seed) }
    }

    @Test("X: an upload stopped after its second segment resumes at the third (one upload, not two); the post carries it; a lookup shows one video")
    func xResumesAtNextSegment() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = try sim.createAccount(.x, "mu-x")
        let adapter = makeAdapter(sim, account) as! XAdapter
        let bytes = Self.mp4(250_000, seed: 1)
        let video = Self.attachment(bytes, alt: "clip")
        let first = Context(segmentBytes: 100_000, files: [bytes])
        first.failOpensAfter = 2
        let error = #expect(throws: PlatformError.self) { try adapter.upload(video, resume: nil, context: first) }
        #expect(error?.errorClass == .noEffect)
        let stopped = try #require(first.checkpoints.last)
        #expect(stopped.progress == "2" && !stopped.complete, "\(first.checkpoints)")
        let second = Context(segmentBytes: 100_000, files: [bytes])
        let handle = try adapter.upload(video, resume: stopped, context: second)
        #expect(handle.complete && handle.id == stopped.id)
        #expect(second.opens == 1, "only the third segment was sent again")
        #expect(second.polls >= 1, "processing was polled")
        let uploads = try sim.call(.get, "/_sim/media?account=mu-x")["media"]?.array ?? []
        #expect(uploads.count == 1 && uploads.first?["sha256"]?.string == video.sha256, "\(uploads)")
        let post = try adapter.create(PostDraft(text: "resumed video", media: [video], mediaHandles: [handle.id]),
                                      attempt: AttemptKey(attemptId: "a-mu-x", startedAtMicros: SteadyClock.wallMillis() * 1000))
        #expect(try adapter.lookup(id: post.id)?.media == [.video])
        let truth = try sim.posts("mu-x").first?["media"]?.array ?? []
        #expect(truth.map { $0["sha256"]?.string } == [video.sha256] && truth.first?["alt"]?.string == "clip")
    }

    @Test("Mastodon: a create naming media still processing is noEffect (nothing posted), never a failure; polled to the end, it posts; reads show the kinds")
    func mastodonProcessing() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = try sim.createAccount(.mastodon, "mu-m")
        let adapter = makeAdapter(sim, account) as! MastodonAdapter
        let bytes = Self.mp4(120_000, seed: 2)
        let video = Self.attachment(bytes, alt: "m clip")
        let impatient = Context(segmentBytes: 1 << 20, files: [bytes])
        impatient.failWaits = true
        #expect(throws: PlatformError.self) { try adapter.upload(video, resume: nil, context: impatient) }
        let pending = try #require(impatient.checkpoints.last)
        #expect(!pending.complete)
        let key = AttemptKey(attemptId: "a-mu-m", startedAtMicros: SteadyClock.wallMillis() * 1000)
        let early = #expect(throws: PlatformError.self) {
            try adapter.create(PostDraft(text: "too early", media: [video], mediaHandles: [pending.id]), attempt: key)
        }
        #expect(early?.errorClass == .noEffect, "\(String(describing: early))")
        #expect(try sim.posts("mu-m").isEmpty)
        let done = try adapter.upload(video, resume: pending, context: Context(segmentBytes: 1 << 20, files: [bytes]))
        #expect(done.complete && done.id == pending.id, "the pending upload was polled, not repeated")
        let post = try adapter.create(PostDraft(text: "processed", media: [video], mediaHandles: [done.id]), attempt: key)
        #expect(try adapter.lookup(id: post.id)?.media == [.video])
    }

    @Test("Bluesky: two images embed with alt text; the record read back shows two images; a post's media must match for verification")
    func blueskyEmbed() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let account = try sim.createAccount(.bluesky, "mu-b")
        let adapter = makeAdapter(sim, account) as! BlueskyAdapter
        guard case .refreshed = try adapter.refreshAuth() else { Issue.record("no session"); return }
        let files = [Self.png(3_000, seed: 1), Self.png(4_000, seed: 2)]
        let media = [Self.attachment(files[0], alt: "one"), Self.attachment(files[1], alt: "two")]
        let context = Context(segmentBytes: 1 << 20, files: files)
        let handles = try media.map { a throws(PlatformError) in try adapter.upload(a, resume: nil, context: context).id }
        let post = try adapter.create(PostDraft(text: "two images", media: media, mediaHandles: handles),
                                      attempt: AttemptKey(attemptId: "a-mu-b", startedAtMicros: SteadyClock.wallMillis() * 1000))
        let read = try #require(try adapter.lookup(id: post.id))
        #expect(read.media == [.image, .image])
        #expect(read.matches(contentHash: ContentNormalizer.hash("two images"), media: media))
        #expect(!read.matches(contentHash: ContentNormalizer.hash("two images"), media: [media[0]]), "a count that differs is not this post")
        let truth = try sim.posts("mu-b").first?["media"]?.array ?? []
        #expect(truth.map { $0["alt"]?.string } == ["one", "two"])
    }
}
