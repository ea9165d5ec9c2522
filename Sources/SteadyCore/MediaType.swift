/// What an attachment is, decided by its first bytes (never by its name): the media store
/// records it, the platforms' media rules check it. A name-level type, like `Platform`, so the
/// store and the platform definitions share it without depending on each other.
public enum MediaType: String, Sendable, CaseIterable, Codable {
    case png, jpeg, gif, webp, mp4, mov

    /// How platforms group types when they count and size attachments.
    public enum Kind: String, Sendable, CaseIterable {
        case image, gif, video
    }

    public var kind: Kind {
        switch self {
        case .png, .jpeg, .webp: .image
        case .gif: .gif
        case .mp4, .mov: .video
        }
    }

    /// The `Content-Type` uploads send.
    public var mimeType: String {
        switch self {
        case .png: "image/png"
        case .jpeg: "image/jpeg"
        case .gif: "image/gif"
        case .webp: "image/webp"
        case .mp4: "video/mp4"
        case .mov: "video/quicktime"
        }
    }

    /// How many leading bytes `identify` wants to see (fewer is fine for a shorter file).
    public static let sniffLength = 64
}

/// What a file's first bytes say it is: a media type, or why it is none ("its content is text").
public enum MediaIdentity: Sendable, Equatable {
    case media(MediaType)
    case refused(String)

    public var type: MediaType? {
        if case .media(let t) = self { return t }
        return nil
    }
}

extension MediaType {
    /// ISO base media brands (the `ftyp` box) that are MP4 video; `qt  ` is QuickTime (MOV).
    static let mp4Brands: Set<String> = [
        "isom", "iso2", "iso3", "iso4", "iso5", "iso6", "iso7", "iso8", "iso9", "mp41", "mp42", "avc1", "M4V ", "M4VH",
        "M4VP", "f4v ", "mmp4", "dash", "msnv", "MSNV", "XAVC", "NDSC", "NDSH", "NDXC", "NDXH",
    ]

    /// Identifies `prefix`, the file's first bytes (up to `sniffLength`; the whole file if shorter).
    public static func identify<C: Collection>(_ prefix: C) -> MediaIdentity where C.Element == UInt8 {
        let b = Array(prefix.prefix(sniffLength))
        if b.isEmpty { return .refused("the file is empty") }
        func starts(_ magic: [UInt8], at offset: Int = 0) -> Bool {
            b.count >= offset + magic.count && Array(b[offset..<offset + magic.count]) == magic
        }
        if starts([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .media(.png) }
        if starts([0xFF, 0xD8, 0xFF]) { return .media(.jpeg) }
        if starts(Array("GIF87a".utf8)) || starts(Array("GIF89a".utf8)) { return .media(.gif) }
        if starts(Array("RIFF".utf8)) && starts(Array("WEBP".utf8), at: 8) { return .media(.webp) }
        if starts(Array("ftyp".utf8), at: 4) && b.count >= 12 {
            return identifyISOMedia(b)
        }
        return .refused(isText(b) ? "its content is text" : "its content is no known image or video format")
    }

    /// An ISO base media file: its major brand, then its compatible brands (inside the box and
    /// the prefix), decide between MOV, MP4 and something else (HEIC, AVIF, audio).
    private static func identifyISOMedia(_ b: [UInt8]) -> MediaIdentity {
        let boxSize = Int(b[0]) << 24 | Int(b[1]) << 16 | Int(b[2]) << 8 | Int(b[3])
        func brand(_ at: Int) -> String { String(decoding: b[at..<at + 4], as: UTF8.self) }
        let major = brand(8)
        var brands = [major]
        var at = 16
        while at + 4 <= min(b.count, max(boxSize, 16)) {
            brands.append(brand(at))
            at += 4
        }
        if major == "qt  " { return .media(.mov) }
        if brands.contains(where: { mp4Brands.contains($0) }) { return .media(.mp4) }
        if brands.contains("qt  ") { return .media(.mov) }
        let printable = major.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value < 0x7F }
        return .refused("an ISO media file of brand \(printable ? "'\(major)'" : "unknown"), not an MP4 or MOV video")
    }

    /// Whether the bytes look like text: printable ASCII, tabs and line ends, or UTF-8.
    private static func isText(_ b: [UInt8]) -> Bool {
        var scalars = 0
        var valid = true
        var iterator = b.makeIterator()
        var decoder = UTF8()
        loop: while true {
            switch decoder.decode(&iterator) {
            case .scalarValue(let s):
                scalars += 1
                if s.value < 0x20 && s.value != 0x09 && s.value != 0x0A && s.value != 0x0D { valid = false }
                if s.value == 0x7F { valid = false }
            case .emptyInput: break loop
            case .error:
                // A multi-byte character cut by the prefix's end is still text.
                if iterator.next() != nil { valid = false }
                break loop
            }
            if !valid { break }
        }
        return valid && scalars > 0
    }
}
