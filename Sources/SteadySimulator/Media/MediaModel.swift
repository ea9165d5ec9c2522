import Foundation
import SteadyCore
import Synchronization

/// What an upload's bytes are, by their magic numbers (never by the name or the declared type).
enum MediaFormat: String, Sendable {
    case png, jpeg, gif, webp, mp4, mov

    var mimeType: String {
        switch self {
        case .png: return "image/png"
        case .jpeg: return "image/jpeg"
        case .gif: return "image/gif"
        case .webp: return "image/webp"
        case .mp4: return "video/mp4"
        case .mov: return "video/quicktime"
        }
    }

    /// `image`, `gif` or `video`: what the platforms' count rules are about.
    var kind: String {
        switch self {
        case .png, .jpeg, .webp: return "image"
        case .gif: return "gif"
        case .mp4, .mov: return "video"
        }
    }

    /// X's media key prefix: `3_` images, `16_` GIFs, `7_` videos.
    static func xKeyPrefix(kind: String) -> String {
        kind == "gif" ? "16_" : kind == "video" ? "7_" : "3_"
    }

    /// Detects the format from the first bytes of a file (at least 12 for every format).
    static func detect(_ head: some Collection<UInt8>) -> MediaFormat? {
        let b = Array(head.prefix(12))
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            b.count >= offset + magic.count && Array(b[offset..<offset + magic.count]) == magic
        }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
        if starts([0xFF, 0xD8, 0xFF]) { return .jpeg }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .gif }
        if starts(Array("RIFF".utf8)), starts(Array("WEBP".utf8), at: 8) { return .webp }
        if starts(Array("ftyp".utf8), at: 4) {
            return starts(Array("qt  ".utf8), at: 8) ? .mov : .mp4
        }
        return nil
    }
}

/// Where an upload stands.
enum MediaState: String, Sendable {
    /// X: INIT done, segments arriving.
    case uploading
    case pending
    case inProgress = "in_progress"
    case succeeded
    case failed
}

/// One uploaded file. The bytes themselves are never kept: they are hashed as they arrive (X
/// segments out of order wait in `pendingSegments` until the gap before them is filled), by the
/// upload's `MediaDigest`, which every copy of the object shares.
struct MediaObject: Sendable {
    /// X and Mastodon: assigned at upload; Bluesky: the blob's CID, known once it is hashed.
    var id: String
    let platform: Platform
    let account: String
    let createdMs: Int64
    /// X: the declared `total_bytes`, `media_type` and `media_category`.
    var declaredBytes: Int = 0
    var declaredType: String = ""
    var category: String = ""
    var format: MediaFormat?
    let digest = MediaDigest()
    var head: [UInt8] = []
    var nextSegment = 0
    var pendingSegments: [Int: [UInt8]] = [:]
    var sha256: String?
    var state: MediaState = .uploading
    /// Status polls still needed before processing ends.
    var pollsLeft = 0
    /// Processing ends `failed` (the `processing-failure` fault).
    var failsProcessing = false
    /// Processing takes this many status polls (the `slow-processing` fault).
    var slowPolls: Int?
    var alt: String?
    /// X: the upload expires (`expires_after_secs` after INIT).
    var expiresMs: Int64?
    /// Set once a post names it (Mastodon media belongs to one status).
    var attachedTo: String?

    private(set) var byteCount = 0

    /// Feeds bytes in order, keeping the first 12 for type detection.
    mutating func feed(_ bytes: ArraySlice<UInt8>) {
        if head.count < 12 { head += bytes.prefix(12 - head.count) }
        digest.update(bytes)
        byteCount += bytes.count
    }

    mutating func feed(_ bytes: [UInt8]) { feed(bytes[...]) }

    /// Ends the upload: the hash is fixed (once every piece fed is hashed), the type detected.
    mutating func seal() {
        sha256 = digest.finalizeHex()
        format = MediaFormat.detect(head)
    }

    /// One status poll: processing advances by one step.
    mutating func poll() {
        guard state == .pending || state == .inProgress else { return }
        if pollsLeft > 0 {
            pollsLeft -= 1
            state = .inProgress
        }
        if pollsLeft == 0 { state = failsProcessing ? .failed : .succeeded }
    }
}

/// An upload's SHA-256, computed beside the request path rather than on it: the pieces are
/// hashed in order on a serial queue of the upload's own, so an X APPEND is answered while its
/// segment is hashed and the next segment travels (hashing on the answer's path made the
/// simulator, not the uploader, set the pace of a large upload). At most two pieces wait to be
/// hashed (a third waits for room), so memory stays bounded by two segments; `finalizeHex`
/// waits for the last one.
final class MediaDigest: Sendable {
    private let queue = DispatchQueue(label: "steadypost-sim.media-digest")
    private let room = DispatchSemaphore(value: 2)
    private let hasher = Mutex(SHA256())

    func update(_ bytes: ArraySlice<UInt8>) {
        room.wait()
        queue.async { [self] in
            hasher.withLock { $0.update(bytes) }
            room.signal()
        }
    }

    func finalizeHex() -> String {
        queue.sync {}
        return hasher.withLock { $0.finalizeHex() }
    }
}

/// A post's media as the ground truth records it, in the post's order.
struct PostMedia: Sendable {
    let mediaID: String
    let format: MediaFormat
    let bytes: Int
    let sha256: String
    let alt: String?

    var json: JSON {
        [
            "media_id": .string(mediaID),
            "type": .string(format.kind),
            "mime_type": .string(format.mimeType),
            "bytes": .int(Int64(bytes)),
            "sha256": .string(sha256),
            "alt": .optional(alt),
        ]
    }
}

extension MediaObject {
    /// The upload as `GET /_sim/media` lists it.
    var adminJSON: JSON {
        [
            "id": .string(id),
            "platform": .string(platform.rawValue),
            "account": .string(account),
            "state": .string(state.rawValue),
            "type": .optional(format?.kind),
            "bytes": .int(Int64(byteCount)),
            "sha256": .optional(sha256),
            "alt": .optional(alt),
            "attached_to": .optional(attachedTo),
        ]
    }

    var postMedia: PostMedia? {
        guard let format, let sha256 else { return nil }
        return PostMedia(mediaID: id, format: format, bytes: byteCount, sha256: sha256, alt: alt)
    }
}

/// One part of a `multipart/form-data` body.
struct MultipartPart: Sendable {
    let name: String
    let filename: String?
    let contentType: String?
    let body: ArraySlice<UInt8>
}

enum Multipart {
    /// The boundary of a `multipart/form-data` Content-Type header.
    static func boundary(_ contentType: String?) -> String? {
        guard let contentType else { return nil }
        for piece in contentType.split(separator: ";") {
            let pair = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0].lowercased() == "boundary" {
                return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))
            }
        }
        return nil
    }

    /// Splits a body into its parts (nil when it is not well formed). The parts are slices of
    /// the body: no copy of the file bytes is made.
    static func parse(_ body: [UInt8], boundary: String) -> [MultipartPart]? {
        let delimiter = Array(("--" + boundary).utf8)
        var positions: [Int] = []
        var index = 0
        while let found = find(delimiter, in: body, from: index) {
            positions.append(found)
            index = found + delimiter.count
        }
        guard positions.count >= 2 else { return nil }
        var parts: [MultipartPart] = []
        for (start, end) in zip(positions, positions.dropFirst()) {
            var partStart = start + delimiter.count
            if partStart + 1 < body.count, body[partStart] == 13, body[partStart + 1] == 10 { partStart += 2 }
            var partEnd = end
            if partEnd >= 2, body[partEnd - 2] == 13, body[partEnd - 1] == 10 { partEnd -= 2 }
            guard partStart <= partEnd, let split = find([13, 10, 13, 10], in: body, from: partStart), split <= partEnd
            else { return nil }
            let headerText = String(decoding: body[partStart..<split], as: UTF8.self)
            var name: String?
            var filename: String?
            var contentType: String?
            for line in headerText.components(separatedBy: "\r\n") {
                let pair = line.split(separator: ":", maxSplits: 1)
                guard pair.count == 2 else { continue }
                let value = pair[1].trimmingCharacters(in: .whitespaces)
                switch pair[0].lowercased() {
                case "content-disposition":
                    name = attribute("name", in: value)
                    filename = attribute("filename", in: value)
                case "content-type": contentType = value
                default: break
                }
            }
            guard let name else { return nil }
            parts.append(MultipartPart(name: name, filename: filename, contentType: contentType, body: body[(split + 4)..<partEnd]))
        }
        return parts
    }

    private static func attribute(_ key: String, in value: String) -> String? {
        for piece in value.split(separator: ";") {
            let pair = piece.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if pair.count == 2, pair[0] == key { return pair[1].trimmingCharacters(in: CharacterSet(charactersIn: "\"")) }
        }
        return nil
    }

    /// The first `needle` at or after `from`. memchr finds each candidate first byte: an
    /// upload's segment is megabytes, and a byte-at-a-time scan of it cost the simulator a
    /// sixth of its time per APPEND.
    private static func find(_ needle: [UInt8], in haystack: [UInt8], from: Int) -> Int? {
        guard let first = needle.first, from >= 0, haystack.count - from >= needle.count else { return nil }
        return haystack.withUnsafeBytes { h -> Int? in
            needle.withUnsafeBytes { n -> Int? in
                let base = h.baseAddress!
                let end = base + (h.count - n.count + 1)  // one past the last possible start
                var at = base + from
                while at < end, let hit = memchr(at, Int32(first), end - at) {
                    if memcmp(hit, n.baseAddress!, n.count) == 0 { return base.distance(to: UnsafeRawPointer(hit)) }
                    at = UnsafeRawPointer(hit) + 1
                }
                return nil
            }
        }
    }
}
