import Glibc
import SteadyCore
import SteadySystem
import Synchronization

/// The daemon's own copy of every attachment, content-addressed: `DIR/ab/abcdef…` holds the
/// bytes whose SHA-256 is `abcdef…`. Guarantees:
/// - a `put` streams its source in chunks of at most `chunkSize` bytes (a 500 MB video never
///   sits in memory), into `DIR/tmp/*.partial`, fsync'd, then renamed to its final name and
///   the directory fsync'd: a name under a shard directory always holds its whole content;
/// - the same content is stored once, however often it is put;
/// - only images and videos (by their first bytes, `MediaType.identify`) are kept;
/// - files and directories are the owner's alone (0600, 0700);
/// - `removeUnreferenced` never removes a referenced hash, nor anything younger than its grace.
public final class MediaStore: Sendable {
    public let directory: String
    public let chunkSize: Int
    /// The largest item the store takes (the largest any platform does, with room).
    public let maxBytes: Int64
    private let counter = Atomic<Int>(0)

    public static let defaultChunkSize = 1 << 20

    /// Opens (creating it 0700 if needed) the store under `directory` (`STATE_DIR/media`).
    public init(directory: String, chunkSize: Int = MediaStore.defaultChunkSize, maxBytes: Int64 = 1 << 30) throws(MediaError) {
        precondition(chunkSize >= MediaType.sniffLength, "a chunk must hold the bytes that identify a type")
        self.directory = directory
        self.chunkSize = chunkSize
        self.maxBytes = maxBytes
        try sys(directory) { () throws(SystemError) in try Files.makeDirectories(directory + "/tmp", mode: 0o700) }
    }

    /// The path an item with this hash has (whether or not it is stored).
    public func path(for sha256: String) -> String {
        "\(directory)/\(sha256.prefix(2))/\(sha256)"
    }

    /// Stores what `source` reads from its current position to its end (a file or a pipe, say
    /// one the CLI handed over). `name` is how errors name it (the operator's path).
    public func put(from source: Descriptor, name: String) throws(MediaError) -> MediaPut {
        try store(name: name) { (buffer) throws(SystemError) -> Int in try source.read(into: buffer, what: name) }
    }

    /// Stores `bytes` (an upload the api worker received), copied through the same chunked path.
    public func put(bytes: [UInt8], name: String) throws(MediaError) -> MediaPut {
        var offset = 0
        return try store(name: name) { (buffer) throws(SystemError) -> Int in
            let n = min(buffer.count, bytes.count - offset)
            bytes.withUnsafeBytes { src in
                buffer.baseAddress!.copyMemory(from: src.baseAddress! + offset, byteCount: n)
            }
            offset += n
            return n
        }
    }

    /// Opens a stored item for reading, its type read again from its first bytes.
    public func open(_ sha256: String) throws(MediaError) -> MediaReader {
        guard MediaStore.isHash(sha256) else { throw MediaError(file: sha256, .notFound) }
        let path = path(for: sha256)
        let d: Descriptor
        do throws(SystemError) {
            d = try Descriptor.open(path, O_RDONLY)
        } catch { throw MediaError(file: path, error.errno == ENOENT ? .notFound : .system(error)) }
        let prefix = UnsafeMutableRawBufferPointer.allocate(byteCount: MediaType.sniffLength, alignment: 16)
        defer { prefix.deallocate() }
        let size = try sys(path) { () throws(SystemError) in try d.status(what: path).size }
        let n = try sys(path) { () throws(SystemError) in try d.read(into: prefix, at: 0, what: path) }
        guard let type = MediaType.identify(UnsafeRawBufferPointer(rebasing: prefix[0..<n])).type else {
            throw MediaError(file: path, .refused("the stored content is no image or video"))
        }
        return MediaReader(item: MediaItem(sha256: sha256, type: type, bytes: size), path: path, descriptor: d, chunkSize: chunkSize)
    }

    /// Whether an item with this hash is stored.
    public func contains(_ sha256: String) -> Bool {
        MediaStore.isHash(sha256) && ((try? Files.status(path(for: sha256)))??.isRegular ?? false)
    }

    static func isHash(_ s: String) -> Bool {
        s.utf8.count == 64 && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
    }

    // MARK: - The one write path

    /// A put fed chunk by chunk (an HTTP body as it arrives): `append` each piece, then
    /// `finish`. Same guarantees as `put`; a writer dropped unfinished leaves nothing behind.
    public func writer(name: String) throws(MediaError) -> MediaWriter {
        let tmp = "\(directory)/tmp/\(getpid())-\(counter.add(1, ordering: .relaxed).newValue)-\(SteadyClock.monotonicNanos()).partial"
        let out = try sys(tmp) { () throws(SystemError) in try Descriptor.open(tmp, O_WRONLY | O_CREAT | O_EXCL, mode: 0o600) }
        return MediaWriter(store: self, name: name, tmp: tmp, out: out)
    }

    private func store(name: String, read: (UnsafeMutableRawBufferPointer) throws(SystemError) -> Int) throws(MediaError) -> MediaPut {
        let writer = try writer(name: name)
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: chunkSize, alignment: 16)
        defer { buffer.deallocate() }
        var reads = 0
        var largest = 0
        do throws(MediaError) {
            while true {
                let n = try sys(name) { () throws(SystemError) in try read(buffer) }
                if n == 0 { break }
                reads += 1
                largest = max(largest, n)
                try writer.append(UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
            }
            var put = try writer.finish()
            put.chunkReads = reads
            put.largestRead = largest
            return put
        } catch {
            writer.abort()
            throw error
        }
    }

    static func type(of prefix: [UInt8], name: String) throws(MediaError) -> MediaType {
        switch MediaType.identify(prefix) {
        case .media(let type): return type
        case .refused(let why): throw MediaError(file: name, .refused("not an image or video (\(why))"))
        }
    }

    /// Moves a complete, synced temp file to its final name (or drops it when that content is
    /// already stored, refreshing the stored file's age so a sweep in progress spares it).
    func place(_ tmp: String, as item: MediaItem) throws(MediaError) -> Bool {
        let final = path(for: item.sha256)
        let shard = "\(directory)/\(item.sha256.prefix(2))"
        return try sys(final) { () throws(SystemError) -> Bool in
            if let existing = try Files.status(final), existing.isRegular, existing.size == item.bytes {
                try Files.setModificationTime(final)
                try Files.remove(tmp)
                return false
            }
            let shardIsNew = try Files.status(shard) == nil
            try Files.makeDirectories(shard, mode: 0o700)
            if shardIsNew { try Files.syncDirectory(directory) }
            try Files.rename(tmp, to: final)
            try Files.syncDirectory(shard)
            return true
        }
    }
}

/// Runs a system call on behalf of `file`: its failure becomes a `MediaError` naming the file.
func sys<T>(_ file: String, _ body: () throws(SystemError) -> T) throws(MediaError) -> T {
    do throws(SystemError) {
        return try body()
    } catch { throw MediaError(file: file, .system(error)) }
}
