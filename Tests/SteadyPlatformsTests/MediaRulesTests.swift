import SteadyCore
import Testing

@testable import SteadyPlatforms

/// Each platform's media rules, as a table: what one post may carry, and the refusal (file and
/// rule) for what it may not.
@Suite(.timeLimit(.minutes(1)))
struct MediaRulesTests {
    static func image(_ name: String, _ bytes: Int64 = 100_000, alt: String? = nil) -> MediaCandidate {
        MediaCandidate(name: name, type: .jpeg, bytes: bytes, alt: alt)
    }
    static func photos(_ n: Int) -> [MediaCandidate] { (1...n).map { image("photo\($0).png") } }
    static let gif = MediaCandidate(name: "loop.gif", type: .gif, bytes: 2_000_000)
    static let video = MediaCandidate(name: "clip.mp4", type: .mp4, bytes: 50_000_000)
    static let mov = MediaCandidate(name: "clip.mov", type: .mov, bytes: 50_000_000)

    struct Row: Sendable, CustomTestStringConvertible {
        var label: String
        var platform: Platform
        var media: [MediaCandidate]
        var refusal: String?
        var testDescription: String { "\(platform.rawValue): \(label)" }
    }

    static let rows: [Row] = [
        // X: 4 images, or 1 GIF, or 1 video; 5 MB / 15 MB / 512 MB; alt ≤ 1,000.
        Row(label: "no media", platform: .x, media: [], refusal: nil),
        Row(label: "4 images", platform: .x, media: photos(4), refusal: nil),
        Row(label: "5 images", platform: .x, media: photos(5), refusal: "photo5.png: X takes at most 4 images a post"),
        Row(label: "1 GIF", platform: .x, media: [gif], refusal: nil),
        Row(label: "1 video", platform: .x, media: [video], refusal: nil),
        Row(label: "1 MOV", platform: .x, media: [mov], refusal: nil),
        Row(label: "an image and a video", platform: .x, media: [image("a.jpg"), video],
            refusal: "clip.mp4: X takes a video alone, with no other media in the post"),
        Row(label: "a GIF then an image", platform: .x, media: [gif, image("a.jpg")],
            refusal: "loop.gif: X takes a GIF alone, with no other media in the post"),
        Row(label: "an image at 5 MB", platform: .x, media: [image("max.jpg", 5_242_880)], refusal: nil),
        Row(label: "an image over 5 MB", platform: .x, media: [image("big.jpg", 5_242_881)],
            refusal: "big.jpg: X images are at most 5,242,880 bytes (this one is 5,242,881)"),
        Row(label: "a GIF over 15 MB", platform: .x, media: [MediaCandidate(name: "huge.gif", type: .gif, bytes: 16_000_000)],
            refusal: "huge.gif: X GIFs are at most 15,728,640 bytes (this one is 16,000,000)"),
        Row(label: "a video over 512 MB", platform: .x, media: [MediaCandidate(name: "long.mp4", type: .mp4, bytes: 600_000_000)],
            refusal: "long.mp4: X videos are at most 536,870,912 bytes (this one is 600,000,000)"),
        Row(label: "alt text of 1,000", platform: .x, media: [image("a.jpg", alt: String(repeating: "é", count: 1000))], refusal: nil),
        Row(label: "alt text of 1,001", platform: .x, media: [image("a.jpg", alt: String(repeating: "a", count: 1001))],
            refusal: "a.jpg: X alt text is at most 1,000 characters (this one has 1,001)"),
        Row(label: "a text file named .png", platform: .x,
            media: [MediaCandidate(name: "notes.png", identity: .refused("its content is text"), bytes: 12)],
            refusal: "notes.png: not an image or video (its content is text)"),
        // Mastodon: 4 a post; image 16 MB, video 99 MB; a video alone.
        Row(label: "4 images", platform: .mastodon, media: photos(4), refusal: nil),
        Row(label: "5 images", platform: .mastodon, media: photos(5), refusal: "photo5.png: Mastodon takes at most 4 images a post"),
        Row(label: "3 images and a GIF", platform: .mastodon, media: photos(3) + [gif], refusal: nil),
        Row(label: "4 images and a GIF", platform: .mastodon, media: photos(4) + [gif],
            refusal: "loop.gif: Mastodon takes at most 4 attachments a post"),
        Row(label: "1 video", platform: .mastodon, media: [video], refusal: nil),
        Row(label: "a video and an image", platform: .mastodon, media: [video, image("a.jpg")],
            refusal: "clip.mp4: Mastodon takes a video alone, with no other media in the post"),
        Row(label: "an 8 MB image", platform: .mastodon, media: [image("big.jpg", 8_388_608)], refusal: nil),
        Row(label: "a 17 MB image", platform: .mastodon, media: [image("bigger.jpg", 17_000_000)],
            refusal: "bigger.jpg: Mastodon images are at most 16,777,216 bytes (this one is 17,000,000)"),
        Row(label: "a 100 MB video", platform: .mastodon, media: [MediaCandidate(name: "v.mov", type: .mov, bytes: 104_857_600)],
            refusal: "v.mov: Mastodon videos are at most 103,809,024 bytes (this one is 104,857,600)"),
        Row(label: "long alt text", platform: .mastodon, media: [image("a.jpg", alt: String(repeating: "a", count: 5000))], refusal: nil),
        // Bluesky: images only, ≤ 1,000,000 bytes each, 4 a post.
        Row(label: "4 images", platform: .bluesky, media: photos(4), refusal: nil),
        Row(label: "5 images", platform: .bluesky, media: photos(5), refusal: "photo5.png: Bluesky takes at most 4 images a post"),
        Row(label: "an image of 1,000,000 bytes", platform: .bluesky, media: [image("ok.jpg", 1_000_000)], refusal: nil),
        Row(label: "an 8 MB image", platform: .bluesky, media: [image("a.jpg"), image("big.jpg", 8_388_608)],
            refusal: "big.jpg: Bluesky images are at most 1,000,000 bytes (this one is 8,388,608)"),
        Row(label: "a video", platform: .bluesky, media: [video], refusal: "clip.mp4: Bluesky takes no videos (this one is MP4)"),
        Row(label: "a GIF", platform: .bluesky, media: [gif], refusal: "loop.gif: Bluesky takes no GIFs (this one is GIF)"),
        Row(label: "WebP and PNG", platform: .bluesky,
            media: [MediaCandidate(name: "a.webp", type: .webp, bytes: 1000), MediaCandidate(name: "b.png", type: .png, bytes: 1000)], refusal: nil),
    ]

    @Test("each platform's table", arguments: rows)
    func table(_ row: Row) throws {
        let definition = try #require(PlatformRegistry.definition(for: row.platform))
        #expect(definition.mediaRules.check(row.media)?.description == row.refusal)
    }

    @Test("a platform without rules of its own takes no media")
    func defaultTakesNone() {
        let rules = MediaRules.none("Elsewhere")
        #expect(rules.check([]) == nil)
        #expect(rules.check([Self.image("a.jpg")])?.description == "a.jpg: Elsewhere takes no images (this one is JPEG)")
    }

    @Test("numbers are grouped by thousands", arguments: [(0, "0"), (999, "999"), (1000, "1,000"), (8_388_608, "8,388,608"), (-1234, "-1,234")])
    func grouped(_ pair: (Int64, String)) {
        #expect(MediaRules.grouped(pair.0) == pair.1)
    }
}
