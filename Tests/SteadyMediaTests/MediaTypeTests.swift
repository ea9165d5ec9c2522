import SteadyCore
import Testing

/// Type by content: every accepted signature, and what is refused (by content, never by name).
@Suite(.timeLimit(.minutes(1)))
struct MediaTypeTests {
    static let png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8) + [UInt8](repeating: 1, count: 60)
    static let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 0, 16] + Array("JFIF".utf8) + [UInt8](repeating: 2, count: 60)
    static let gif: [UInt8] = Array("GIF89a".utf8) + [10, 0, 10, 0] + [UInt8](repeating: 3, count: 60)
    static let webp: [UInt8] = Array("RIFF".utf8) + [0x24, 0, 0, 0] + Array("WEBPVP8 ".utf8) + [UInt8](repeating: 4, count: 60)
    static func ftyp(_ major: String, _ compatible: [String] = []) -> [UInt8] {
        let size = 16 + 4 * compatible.count
        return [0, 0, 0, UInt8(size)] + Array("ftyp".utf8) + Array(major.utf8) + [0, 0, 2, 0]
            + compatible.flatMap { Array($0.utf8) } + [0, 0, 0, 8] + Array("free".utf8) + [UInt8](repeating: 0, count: 40)
    }

    static let accepted: [(String, [UInt8], MediaType)] = [
        ("PNG", png, .png), ("JPEG", jpeg, .jpeg), ("GIF89a", gif, .gif), ("GIF87a", Array("GIF87a".utf8) + [1, 0, 1, 0], .gif),
        ("WebP", webp, .webp), ("MP4 isom", ftyp("isom", ["isom", "iso2", "avc1", "mp41"]), .mp4), ("MP4 mp42", ftyp("mp42"), .mp4),
        ("MOV", ftyp("qt  ", ["qt  "]), .mov), ("M4V", ftyp("M4V ", ["M4V ", "M4A "]), .mp4),
        ("MP4 by a compatible brand", ftyp("abcd", ["mp42"]), .mp4),
    ]

    @Test("each accepted signature", arguments: 0..<10)
    func accepted(_ i: Int) {
        let (label, bytes, type) = Self.accepted[i]
        #expect(MediaType.identify(bytes) == .media(type), "\(label)")
    }

    static let refused: [(String, [UInt8], String)] = [
        ("a text file", Array("just some notes, renamed notes.png\n".utf8), "its content is text"),
        ("UTF-8 text", Array("café ☕ notes\r\n".utf8), "its content is text"),
        ("empty", [], "the file is empty"),
        ("a PDF", Array("%PDF-1.7\n".utf8) + [0xE2, 0xE3, 0xCF, 0xD3, 0x00, 0x01], "its content is no known image or video format"),
        ("a truncated PNG signature", [0x89, 0x50, 0x4E, 0x47], "its content is no known image or video format"),
        ("RIFF but WAVE", Array("RIFF".utf8) + [0, 0, 0, 0] + Array("WAVEfmt ".utf8), "its content is no known image or video format"),
        ("HEIC", ftyp("heic", ["mif1", "heic"]), "an ISO media file of brand 'heic', not an MP4 or MOV video"),
        ("ELF", [0x7F, 0x45, 0x4C, 0x46, 2, 1, 1, 0], "its content is no known image or video format"),
    ]

    @Test("refused by content", arguments: 0..<8)
    func refused(_ i: Int) {
        let (label, bytes, why) = Self.refused[i]
        #expect(MediaType.identify(bytes) == .refused(why), "\(label)")
    }

    @Test("kinds and MIME types")
    func kinds() {
        #expect(MediaType.allCases.map(\.kind) == [.image, .image, .gif, .image, .video, .video])
        #expect(MediaType.mov.mimeType == "video/quicktime")
        #expect(MediaType.webp.mimeType == "image/webp")
    }
}
