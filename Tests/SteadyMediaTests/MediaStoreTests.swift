import Dispatch
import Glibc
import SteadyCore
import SteadySystem
import SteadyTestSupport
import Synchronization
import Testing

@testable import SteadyMedia

/// The media store: content-addressed, streamed in bounded chunks, atomic, owner-only, and
/// swept of unreferenced media without touching what is referenced or young.
@Suite(.timeLimit(.minutes(2)))
struct MediaStoreTests {
    static let pngHeader: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)

    /// A PNG-signed body of `count` bytes, different for each `seed`.
    static func png(_ count: Int, seed: UInt8 = 0) -> [UInt8] {
        var bytes = pngHeader
        bytes.reserveCapacity(count)
        while bytes.count < count { bytes.append(UInt8(truncatingIfNeeded: bytes.count &* 31) ^ seed) }
        return bytes
    }

    static func writeFile(_ path: String, _ bytes: [UInt8]) throws {
        let d = try Descriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        defer { d.close() }
        try bytes.withUnsafeBytes { raw in try d.writeAll(raw) }
    }

    static func mode(_ path: String) -> mode_t {
        var st = stat()
        _ = lstat(path, &st)
        return st.st_mode & 0o777
    }

    static func storedFiles(_ store: MediaStore) -> [String] {
        (Files.list(store.directory) ?? []).filter { $0 != "tmp" }.flatMap { shard in (Files.list("\(store.directory)/\(shard)") ?? []).map { "\(shard)/\($0)" } }
    }

    static func readAll(_ reader: MediaReader) throws -> (bytes: [UInt8], chunks: Int) {
        var out: [UInt8] = []
        var chunks = 0
        while let chunk = try reader.nextChunk() {
            out += chunk
            chunks += 1
        }
        return (out, chunks)
    }

    @Test("put from bytes and from a descriptor: same content, same file, stored once, owner-only")
    func putIsContentAddressed() throws {
        let dir = TempDir()
        let store = try MediaStore(directory: dir.path + "/media", chunkSize: 4096)
        let bytes = Self.png(10_000)
        let first = try store.put(bytes: bytes, name: "photo.png")
        #expect(first.isNew)
        #expect(first.item == MediaItem(sha256: SHA256.hex(bytes), type: .png, bytes: 10_000))
        #expect(first.chunkReads == 3 && first.largestRead == 4096)
        try Self.writeFile(dir.path + "/copy.png", bytes)
        let source = try Descriptor.open(dir.path + "/copy.png", O_RDONLY)
        let second = try store.put(from: source, name: "copy.png")
        source.close()
        #expect(second.item == first.item)
        #expect(!second.isNew)
        let path = store.path(for: first.item.sha256)
        #expect(path == "\(dir.path)/media/\(first.item.sha256.prefix(2))/\(first.item.sha256)")
        #expect(Self.storedFiles(store) == ["\(first.item.sha256.prefix(2))/\(first.item.sha256)"])
        #expect(Files.list(store.directory + "/tmp") == [])
        #expect(Self.mode(path) == 0o600)
        #expect(Self.mode(store.directory) == 0o700 && Self.mode(store.directory + "/tmp") == 0o700)
        #expect(Self.mode("\(store.directory)/\(first.item.sha256.prefix(2))") == 0o700)
        let reader = try store.open(first.item.sha256)
        defer { reader.close() }
        #expect(reader.item == first.item)
        #expect(try Self.readAll(reader).bytes == bytes)
    }

    @Test("a 16 MB put streams in chunks of the configured size; reading it back does too")
    func streamedPut() throws {
        let dir = TempDir()
        let chunk = 64 << 10
        let store = try MediaStore(directory: dir.path + "/media", chunkSize: chunk)
        let total = 16 << 20  // 256 chunks: enough to show the bound; SHA-256 in a debug build is slow
        // Written piece by piece too: the test never holds the whole file either.
        let path = dir.path + "/video.png"
        let out = try Descriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        let piece = Self.png(1 << 20)
        for _ in 0..<(total / piece.count) { try piece.withUnsafeBytes { raw in try out.writeAll(raw) } }
        out.close()
        let source = try Descriptor.open(path, O_RDONLY)
        let put = try store.put(from: source, name: "video.png")
        source.close()
        #expect(put.item.bytes == Int64(total) && put.item.type == .png)
        #expect(put.chunkReads == total / chunk)
        #expect(put.largestRead == chunk)
        let reader = try store.open(put.item.sha256)
        defer { reader.close() }
        var chunks = 0
        var offset = 0
        var same = true
        while let next = try reader.nextChunk() {
            #expect(next.count <= chunk)
            same = same && next[...] == piece[(offset % piece.count)..<(offset % piece.count + next.count)]
            offset += next.count
            chunks += 1
        }
        #expect(same && offset == total && chunks == total / chunk)
    }

    @Test("while a put is under way its bytes are only in tmp/*.partial; the final name appears whole")
    func noPartialUnderTheFinalName() throws {
        let dir = TempDir()
        let store = try MediaStore(directory: dir.path + "/media", chunkSize: 4096)
        let (readEnd, writeEnd) = try Descriptor.pipe()
        let bytes = Self.png(40_000)
        let result = Mutex<Result<MediaPut, MediaError>?>(nil)
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            let r = Result<MediaPut, MediaError>(catching: { () throws(MediaError) in try store.put(from: readEnd, name: "pipe.png") })
            result.withLock { $0 = r }
            done.signal()
        }
        try bytes[0..<20_000].withUnsafeBytes { raw in try writeEnd.writeAll(raw) }
        let partial = try waitFor("the first half in a partial file", timeoutMillis: 10_000) { () -> String? in
            let names = Files.list(store.directory + "/tmp") ?? []
            guard names.count == 1, let name = names.first, name.hasSuffix(".partial"),
                  try Files.status("\(store.directory)/tmp/\(name)")?.size == 20_000 else { return nil }
            return name
        }
        #expect(Self.storedFiles(store) == [])
        #expect(Self.mode("\(store.directory)/tmp/\(partial)") == 0o600)
        try bytes[20_000...].withUnsafeBytes { raw in try writeEnd.writeAll(raw) }
        writeEnd.close()
        #expect(done.wait(timeout: .now() + 10) == .success)
        let put = try #require(try result.withLock { $0 }?.get())
        readEnd.close()
        #expect(put.item.bytes == 40_000 && put.isNew)
        #expect(Self.storedFiles(store) == ["\(put.item.sha256.prefix(2))/\(put.item.sha256)"])
        #expect(Files.list(store.directory + "/tmp") == [])
    }

    @Test("refusals and failures name the file, carry the cause and leave nothing behind")
    func refusals() throws {
        let dir = TempDir()
        let store = try MediaStore(directory: dir.path + "/media", chunkSize: 4096, maxBytes: 100_000)
        #expect(throws: MediaError(file: "notes.png", .refused("not an image or video (its content is text)"))) {
            try store.put(bytes: Array(String(repeating: "plain notes\n", count: 1000).utf8), name: "notes.png")
        }
        #expect(throws: MediaError(file: "tiny.png", .refused("not an image or video (its content is text)"))) {
            try store.put(bytes: Array("hi".utf8), name: "tiny.png")
        }
        #expect(throws: MediaError(file: "empty.jpg", .refused("not an image or video (the file is empty)"))) {
            try store.put(bytes: [], name: "empty.jpg")
        }
        #expect(throws: MediaError(file: "huge.png", .refused("larger than the media store takes (100000 bytes)"))) {
            try store.put(bytes: Self.png(100_001), name: "huge.png")
        }
        let directory = try Descriptor.open(dir.path, O_RDONLY | O_DIRECTORY)
        defer { directory.close() }
        #expect(throws: MediaError(file: "a-directory", .system(SystemError("read(a-directory)", errno: EISDIR)))) {
            try store.put(from: directory, name: "a-directory")
        }
        #expect(Self.storedFiles(store) == [] && Files.list(store.directory + "/tmp") == [])
        let missing = String(repeating: "ab", count: 32)
        #expect(throws: MediaError(file: store.path(for: missing), .notFound)) { try store.open(missing) }
        #expect(throws: MediaError(file: "../../etc/passwd", .notFound)) { try store.open("../../etc/passwd") }
        #expect(!store.contains(missing))
    }

    @Test("the sweep removes old unreferenced media and stale partials, keeps referenced and young")
    func sweep() throws {
        let dir = TempDir()
        let store = try MediaStore(directory: dir.path + "/media", chunkSize: 4096)
        let now = SteadyClock.wallMillis() / 1000
        let referencedOld = try store.put(bytes: Self.png(5000, seed: 1), name: "a.png").item.sha256
        let unreferencedOld = try store.put(bytes: Self.png(5000, seed: 2), name: "b.png").item.sha256
        let unreferencedYoung = try store.put(bytes: Self.png(5000, seed: 3), name: "c.png").item.sha256
        try Files.setModificationTime(store.path(for: referencedOld), seconds: now - 10 * 86_400)
        try Files.setModificationTime(store.path(for: unreferencedOld), seconds: now - 2 * 3600)
        let stalePartial = store.directory + "/tmp/123-1-1.partial"
        let freshPartial = store.directory + "/tmp/123-2-2.partial"
        try Self.writeFile(stalePartial, [1, 2, 3])
        try Self.writeFile(freshPartial, [1, 2, 3])
        try Files.setModificationTime(stalePartial, seconds: now - 2 * 3600)
        let foreign = store.directory + "/README"
        try Self.writeFile(foreign, [1])
        try Files.setModificationTime(foreign, seconds: now - 10 * 86_400)

        let report = try store.removeUnreferenced(referenced: [referencedOld], graceSeconds: 3600, now: now)
        #expect(report == MediaSweepReport(removed: [unreferencedOld], kept: 2, partialsRemoved: 1))
        #expect(store.contains(referencedOld) && store.contains(unreferencedYoung) && !store.contains(unreferencedOld))
        #expect(Files.exists(freshPartial) && !Files.exists(stalePartial) && Files.exists(foreign))

        // Putting old content again makes it young: a sweep then spares it.
        try Files.setModificationTime(store.path(for: unreferencedYoung), seconds: now - 2 * 3600)
        #expect(!(try store.put(bytes: Self.png(5000, seed: 3), name: "c.png").isNew))
        #expect(try store.removeUnreferenced(referenced: [], graceSeconds: 3600).removed == [referencedOld])
        #expect(store.contains(unreferencedYoung))
    }
}

/// `MediaWriter`: a put fed chunk by chunk, as the api worker feeds an HTTP body.
struct MediaWriterTests {
    @Test("chunks appended one by one store the same item as one put; junk is refused at its first bytes and leaves nothing")
    func chunked() throws {
        let tmp = TempDir("steadypost-media-writer")
        let store = try MediaStore(directory: tmp.path + "/media", chunkSize: 64 << 10, maxBytes: 1 << 20)
        let bytes = MediaStoreTests.png(300_000, seed: 5)
        let writer = try store.writer(name: "body.png")
        var offset = 0
        while offset < bytes.count {
            let end = min(offset + 7_777, bytes.count)
            try bytes[offset..<end].withUnsafeBytes { try writer.append($0) }
            offset = end
        }
        let put = try writer.finish()
        #expect(put.item.bytes == Int64(bytes.count) && put.item.type == .png && put.isNew)
        #expect(try store.put(bytes: bytes, name: "again.png").item == put.item)

        let junk = try store.writer(name: "notes.png")
        #expect(throws: MediaError(file: "notes.png", .refused("not an image or video (its content is text)"))) {
            try Array(String(repeating: "words ", count: 20).utf8).withUnsafeBytes { try junk.append($0) }
        }
        let big = try store.writer(name: "big.png")
        #expect(throws: MediaError.self) {
            for _ in 0..<20 { try MediaStoreTests.png(64 << 10, seed: 1).withUnsafeBytes { try big.append($0) } }
        }
        let dropped = try store.writer(name: "dropped.png")
        try MediaStoreTests.png(1_000, seed: 2).withUnsafeBytes { try dropped.append($0) }
        dropped.abort()
        #expect((Files.list(tmp.path + "/media/tmp") ?? []).isEmpty, "refused and aborted puts leave no partial file")
    }
}
