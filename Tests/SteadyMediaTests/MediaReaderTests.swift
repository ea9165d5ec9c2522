import SteadyCore
import SteadyTestSupport
import Testing

@testable import SteadyMedia

/// Reading a stored item for an upload: positioned (an X upload resumes at a segment), at
/// most a chunk at a time, straight into the caller's buffer.
@Suite(.timeLimit(.minutes(1)))
struct MediaReaderTests {
    @Test("seek then read(into:): the bytes from that offset, at most chunkSize per read, 0 at the end")
    func positionedReads() throws {
        let dir = TempDir("steadypost-media-reader")
        defer { dir.remove() }
        let store = try MediaStore(directory: dir.path + "/media", chunkSize: 4096)
        let bytes = MediaStoreTests.png(10_000, seed: 3)
        let put = try store.put(bytes: bytes, name: "fixture")
        let reader = try store.open(put.item.sha256)
        reader.seek(to: 6_000)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 16)
        defer { buffer.deallocate() }
        var got: [UInt8] = []
        var largest = 0
        while true {
            let n = try reader.read(into: buffer)
            if n == 0 { break }
            largest = max(largest, n)
            got += UnsafeRawBufferPointer(rebasing: buffer[0..<n])
        }
        #expect(got == Array(bytes[6_000...]))
        #expect(largest <= 4096, "a read holds at most one chunk: \(largest)")
        reader.seek(to: 0)
        #expect(try reader.nextChunk() == Array(bytes[0..<4096]), "nextChunk reads from the position too")
        #expect(reader.position == 4096)
    }
}
