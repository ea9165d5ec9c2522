import SteadyCore
import SteadySystem

/// One stored attachment: its content's SHA-256 (64 lowercase hex digits, also its name in the
/// store), its type by content, and its size.
public struct MediaItem: Sendable, Equatable, Hashable {
    public var sha256: String
    public var type: MediaType
    public var bytes: Int64

    public init(sha256: String, type: MediaType, bytes: Int64) {
        self.sha256 = sha256
        self.type = type
        self.bytes = bytes
    }
}

/// What one `put` did: the item, whether these bytes were new to the store, and how it read
/// them (for the memory bound: no read was larger than the store's chunk size).
public struct MediaPut: Sendable, Equatable {
    public var item: MediaItem
    public var isNew: Bool
    public var chunkReads: Int
    public var largestRead: Int
}

/// A media store failure, naming the file (the caller's name for a `put`, the stored path
/// otherwise) and carrying its cause.
public struct MediaError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Reason: Sendable, Equatable {
        /// A system call failed.
        case system(SystemError)
        /// The content is no image or video we take, or too large for the store: the text says why.
        case refused(String)
        /// No stored media has this hash (or the name is not a hash).
        case notFound
    }

    public var file: String
    public var reason: Reason

    public init(file: String, _ reason: Reason) {
        self.file = file
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .system(let e): "\(file): \(e)"
        case .refused(let why): "\(file): \(why)"
        case .notFound: "\(file): no such media in the store"
        }
    }
}

/// Reads one stored item chunk by chunk (for uploads): at most `chunkSize` bytes in memory.
/// Reads are positioned (`pread`): `seek` starts an upload part-way (X resumes at a segment).
public final class MediaReader {
    public let item: MediaItem
    public let path: String
    public let chunkSize: Int
    /// Where the next read starts.
    public private(set) var position: Int64 = 0
    private let descriptor: Descriptor
    private let buffer: UnsafeMutableRawBufferPointer

    init(item: MediaItem, path: String, descriptor: Descriptor, chunkSize: Int) {
        self.item = item
        self.path = path
        self.chunkSize = chunkSize
        self.descriptor = descriptor
        buffer = .allocate(byteCount: chunkSize, alignment: 16)
    }

    deinit { buffer.deallocate() }

    /// The next read starts at `offset` (clamped to the item).
    public func seek(to offset: Int64) {
        position = max(0, min(offset, item.bytes))
    }

    /// The next chunk (at most `chunkSize` bytes, full-sized except the last), or nil at the end.
    public func nextChunk() throws(MediaError) -> [UInt8]? {
        var filled = 0
        while filled < buffer.count {
            let n = try read(into: UnsafeMutableRawBufferPointer(rebasing: buffer[filled...]))
            if n == 0 { break }
            filled += n
        }
        return filled == 0 ? nil : [UInt8](UnsafeRawBufferPointer(rebasing: buffer[0..<filled]))
    }

    /// Reads the next bytes straight into `target` (at most `chunkSize` of them, no copy held
    /// here): the count, 0 at the end. What a streamed upload body calls.
    public func read(into target: UnsafeMutableRawBufferPointer) throws(MediaError) -> Int {
        let window = UnsafeMutableRawBufferPointer(rebasing: target[0..<min(target.count, chunkSize)])
        let descriptor = self.descriptor, path = self.path, at = position
        let n = try sys(path) { () throws(SystemError) in try descriptor.read(into: window, at: at, what: path) }
        position += Int64(n)
        return n
    }

    /// Closes the file (also done when the reader goes away).
    public func close() { descriptor.close() }
}
