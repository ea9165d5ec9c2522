import Glibc
import SteadyCore
import SteadySystem

/// One put in progress, fed chunk by chunk (`MediaStore.writer(name:)`): bytes go to a
/// `tmp/*.partial` file as they come, hashed on the way; the type is checked as soon as its
/// first bytes are in, and the size against the store's bound at every chunk, so junk or an
/// oversized body is refused without being copied to its end. `finish` syncs and places the
/// file under its hash; `abort` (or dropping the writer unfinished) removes the partial file.
/// Used by one thread at a time.
public final class MediaWriter {
    let store: MediaStore
    public let name: String
    private let tmp: String
    private let out: Descriptor
    private var hasher = SHA256()
    private var prefix: [UInt8] = []
    /// Bytes taken so far.
    public private(set) var bytes: Int64 = 0
    private var done = false

    init(store: MediaStore, name: String, tmp: String, out: Descriptor) {
        self.store = store
        self.name = name
        self.tmp = tmp
        self.out = out
    }

    deinit { abort() }

    /// Appends one chunk. A refusal (not an image or video, larger than the store takes)
    /// ends the writer: nothing of it stays.
    public func append(_ piece: UnsafeRawBufferPointer) throws(MediaError) {
        precondition(!done, "append after finish or abort")
        do throws(MediaError) {
            bytes += Int64(piece.count)
            if bytes > store.maxBytes { throw MediaError(file: name, .refused("larger than the media store takes (\(store.maxBytes) bytes)")) }
            if prefix.count < MediaType.sniffLength {
                prefix.append(contentsOf: piece.prefix(MediaType.sniffLength - prefix.count))
                // Refused as soon as the first bytes tell: junk is not copied to its end.
                if prefix.count == MediaType.sniffLength { _ = try MediaStore.type(of: prefix, name: name) }
            }
            hasher.update(piece)
            let out = self.out, tmp = self.tmp
            try sys(tmp) { () throws(SystemError) in try out.writeAll(piece, what: tmp) }
        } catch {
            abort()
            throw error
        }
    }

    /// Syncs the bytes and stores them under their hash (once, however often that content is put).
    public func finish() throws(MediaError) -> MediaPut {
        precondition(!done, "finish after finish or abort")
        do throws(MediaError) {
            let type = try MediaStore.type(of: prefix, name: name)
            let out = self.out, tmp = self.tmp
            try sys(tmp) { () throws(SystemError) in try out.sync(what: tmp) }
            out.close()
            let item = MediaItem(sha256: hasher.finalizeHex(), type: type, bytes: bytes)
            let isNew = try store.place(tmp, as: item)
            done = true
            return MediaPut(item: item, isNew: isNew, chunkReads: 0, largestRead: 0)
        } catch {
            abort()
            throw error
        }
    }

    /// Drops the put: the partial file goes.
    public func abort() {
        guard !done else { return }
        done = true
        out.close()
        try? Files.remove(tmp)
    }
}
