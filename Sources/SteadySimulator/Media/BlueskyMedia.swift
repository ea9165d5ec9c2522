import Foundation
import SteadyCore

/// Bluesky's media limits (PLATFORMS.md "Media attachments").
enum BlueskyMediaLimits {
    static let blobBytes = 50_000_000
    static let imageBytes = 1_000_000
    static let imagesPerPost = 4
}

/// Why a record's embed is refused: the message of Bluesky's `InvalidRequest`.
struct EmbedError: Error, ExpressibleByStringInterpolation {
    let message: String
    init(stringLiteral value: String) { message = value }
}

extension Store {
    /// The CID of a blob: CIDv1, raw codec, SHA-256, base32 (`bafkrei…`); the same bytes give
    /// the same CID.
    static func blobCID(sha256 hex: String) -> String {
        var bytes: [UInt8] = [0x01, 0x55, 0x12, 0x20]
        var digits = hex.makeIterator()
        while let high = digits.next(), let low = digits.next() {
            bytes.append(UInt8(String([high, low]), radix: 16) ?? 0)
        }
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz234567")
        var out = "b"
        var buffer = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | Int(byte)
            bits += 8
            while bits >= 5 {
                out.append(alphabet[(buffer >> (bits - 5)) & 31])
                bits -= 5
            }
        }
        if bits > 0 { out.append(alphabet[(buffer << (5 - bits)) & 31]) }
        return out
    }

    static func blobKey(account: String, cid: String) -> String { "bluesky|\(account)|\(cid)" }

    /// `POST com.atproto.repo.uploadBlob`: raw bytes; the type sniffed from them (else the
    /// Content-Type given) → `{"blob": {"$type": "blob", "ref": {"$link"}, "mimeType", "size"}}`.
    mutating func blueskyUploadBlob(_ ex: inout Exchange) -> SimResponse {
        let account: Account
        switch blueskyAuthenticate(&ex, kind: .blueskyAccess, required: true) {
        case .failure(let response): return response
        case .success(let a): account = a!
        }
        let body = ex.request.body
        guard body.count <= BlueskyMediaLimits.blobBytes else {
            return ErrorBodies.bluesky(413, "PayloadTooLarge", "request entity too large", headers: ex.rateHeaders)
        }
        var object = MediaObject(id: "", platform: .bluesky, account: account.name, createdMs: ex.now)
        object.feed(body)
        object.seal()
        let cid = Store.blobCID(sha256: object.sha256 ?? "")
        let mimeType = object.format?.mimeType ?? (ex.request.contentType.isEmpty ? "application/octet-stream" : ex.request.contentType)
        var stored = object
        stored.id = cid
        stored.declaredType = mimeType
        stored.state = .succeeded
        media[Store.blobKey(account: account.name, cid: cid)] = stored
        return .json(
            200,
            [
                "blob": [
                    "$type": "blob", "ref": ["$link": .string(cid)], "mimeType": .string(mimeType),
                    "size": .int(Int64(body.count)),
                ]
            ], headers: ex.rateHeaders)
    }

    /// Checks a record's `embed` (`app.bsky.embed.images`, ≤ 4 images of ≤ 1,000,000 bytes, or
    /// `app.bsky.embed.video`): every blob uploaded by this account. The media in order, or the
    /// refusal's message.
    func blueskyEmbedMedia(_ embed: JSON?, account: String) -> Result<[PostMedia], EmbedError> {
        guard let embed, embed != .null else { return .success([]) }
        let prefix = "Invalid app.bsky.feed.post record: Record/embed"
        func blob(_ ref: JSON?, path: String) -> Result<MediaObject, EmbedError> {
            guard let ref, ref["$type"] == "blob", let cid = ref["ref"]?["$link"]?.stringValue else {
                return .failure("\(prefix)/\(path) should be a blob ref")
            }
            guard let object = media[Store.blobKey(account: account, cid: cid)] else {
                return .failure("Could not find blob: \(cid)")
            }
            return .success(object)
        }
        var out: [PostMedia] = []
        switch embed["$type"]?.stringValue {
        case "app.bsky.embed.images":
            guard case .array(let images)? = embed["images"] else { return .failure("\(prefix)/images must be an array") }
            guard images.count <= BlueskyMediaLimits.imagesPerPost else {
                return .failure("\(prefix)/images must not have more than 4 elements")
            }
            for (n, image) in images.enumerated() {
                guard let alt = image["alt"]?.stringValue else {
                    return .failure("\(prefix)/images/\(n) must have the property \"alt\"")
                }
                switch blob(image["image"], path: "images/\(n)/image") {
                case .failure(let message): return .failure(message)
                case .success(let object):
                    guard object.declaredType.hasPrefix("image/") else {
                        return .failure("\(prefix)/images/\(n)/image mimeType (\(object.declaredType)) does not match accepted types: image/*")
                    }
                    guard object.byteCount <= BlueskyMediaLimits.imageBytes else {
                        return .failure("\(prefix)/images/\(n)/image file too big (max \(BlueskyMediaLimits.imageBytes) bytes)")
                    }
                    guard let format = object.format, let sha = object.sha256 else {
                        return .failure("\(prefix)/images/\(n)/image is not an image")
                    }
                    out.append(PostMedia(mediaID: object.id, format: format, bytes: object.byteCount, sha256: sha, alt: alt.isEmpty ? nil : alt))
                }
            }
        case "app.bsky.embed.video":
            switch blob(embed["video"], path: "video") {
            case .failure(let message): return .failure(message)
            case .success(let object):
                guard object.declaredType == "video/mp4", let format = object.format, let sha = object.sha256 else {
                    return .failure("\(prefix)/video mimeType (\(object.declaredType)) does not match accepted types: video/mp4")
                }
                out.append(PostMedia(mediaID: object.id, format: format, bytes: object.byteCount, sha256: sha, alt: embed["alt"]?.stringValue))
            }
        default:
            break
        }
        return .success(out)
    }

    /// The `embed` view of a post in `getPosts` (`…#view`, CDN urls by CID).
    func blueskyEmbedView(_ post: Post, did: String, origin: String) -> JSON? {
        guard let first = post.media.first else { return nil }
        func url(_ kind: String, _ item: PostMedia) -> JSON {
            .string("\(origin)/img/\(kind)/plain/\(did)/\(item.mediaID)@jpeg")
        }
        if first.format.kind == "video" {
            return [
                "$type": "app.bsky.embed.video#view", "cid": .string(first.mediaID),
                "playlist": .string("\(origin)/watch/\(did)/\(first.mediaID)/playlist.m3u8"), "alt": .optional(first.alt),
            ]
        }
        return [
            "$type": "app.bsky.embed.images#view",
            "images": .array(
                post.media.map { item in
                    ["thumb": url("feed_thumbnail", item), "fullsize": url("feed_fullsize", item), "alt": .string(item.alt ?? "")]
                }),
        ]
    }
}
