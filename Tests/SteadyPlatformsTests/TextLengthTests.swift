import SteadyCore
import SteadyHTTP
import Testing

@testable import SteadyPlatforms

/// Each platform's own counting (PLATFORMS.md), at the edges where platforms differ.
@Suite(.timeLimit(.minutes(1)))
struct TextLengthTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var text: String
        var length: Int
        var label: String
        var testDescription: String { "\(label) → \(length)" }
    }

    static let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467}"  // man ZWJ woman ZWJ girl
    static let flag = "\u{1F1EF}\u{1F1F5}"  // JP
    static let thumbsMedium = "\u{1F44D}\u{1F3FD}"
    static let longURL = "https://example.com/a/very/long/path/that/is/much/longer/than/twenty-three?q=1"

    static let xCases: [Case] = [
        Case(text: "", length: 0, label: "empty"),
        Case(text: "hello", length: 5, label: "ASCII"),
        Case(text: "\u{00E9}", length: 1, label: "precomposed é"),
        Case(text: "e\u{0301}", length: 1, label: "e + combining acute, NFC → é"),
        Case(text: "\u{1100}\u{1161}", length: 2, label: "Hangul jamo pair, NFC → one syllable (weight 2)"),
        Case(text: "\u{10FF}", length: 1, label: "U+10FF (4351) weighs 1"),
        Case(text: "\u{1100}", length: 2, label: "U+1100 (4352) weighs 2"),
        Case(text: "日本語", length: 6, label: "CJK weighs 2 each"),
        Case(text: "\u{1F600}", length: 2, label: "emoji"),
        Case(text: family, length: 8, label: "ZWJ family: 3 emoji × 2 + 2 ZWJ × 1"),
        Case(text: flag, length: 4, label: "flag: 2 regional indicators"),
        Case(text: thumbsMedium, length: 4, label: "emoji + skin tone"),
        Case(text: "\u{2014}\u{2018}\u{2019}\u{201C}\u{201D}", length: 5, label: "dashes and quotes (8208–8223) weigh 1"),
        Case(text: "\u{2026}", length: 2, label: "ellipsis (8230) weighs 2"),
        Case(text: "\u{2032}", length: 1, label: "prime (8242) weighs 1"),
        Case(text: "\u{200B}", length: 1, label: "zero-width space (8203) weighs 1"),
        Case(text: longURL, length: 23, label: "a long URL counts 23"),
        Case(text: "http://a.co", length: 23, label: "a short URL counts 23"),
        Case(text: "see https://example.com/x.", length: 4 + 23 + 1, label: "trailing period is not part of the URL"),
        Case(text: "(https://example.com/wiki/Foo_(bar))", length: 1 + 23 + 1, label: "balanced parentheses stay in the URL"),
        Case(text: "a https://x.com b http://y.org c", length: 7 + 46, label: "two URLs"),
        Case(text: "https://", length: 8, label: "a bare scheme is not a URL"),
        Case(text: "xhttps://example.com", length: 20, label: "no URL glued to a word"),
        Case(text: String(repeating: "a", count: 280), length: 280, label: "280 ASCII"),
        Case(text: String(repeating: "語", count: 140), length: 280, label: "140 CJK"),
    ]

    @Test("X weighted length", arguments: xCases)
    func x(_ c: Case) {
        #expect(TextLength.measure(c.text, for: .x).count == c.length)
    }

    static let mastodonCases: [Case] = [
        Case(text: "hello", length: 5, label: "ASCII"),
        Case(text: "e\u{0301}", length: 1, label: "combining mark: one grapheme"),
        Case(text: "日本語", length: 3, label: "CJK: one each"),
        Case(text: family, length: 1, label: "ZWJ family: one grapheme"),
        Case(text: flag, length: 1, label: "flag: one grapheme"),
        Case(text: thumbsMedium, length: 1, label: "skin tone: one grapheme"),
        Case(text: longURL, length: 23, label: "a URL counts 23"),
        Case(text: "go http://a.co", length: 3 + 23, label: "a short URL counts 23 too"),
        Case(text: "@alice@example.social hi", length: 9, label: "remote mention counts as @user"),
        Case(text: "mail bob@example.com", length: 20, label: "an e-mail address is not a mention"),
        Case(text: String(repeating: "a", count: 500), length: 500, label: "500 ASCII"),
    ]

    @Test("Mastodon length", arguments: mastodonCases)
    func mastodon(_ c: Case) {
        #expect(TextLength.measure(c.text, for: .mastodon).count == c.length)
    }

    static let blueskyCases: [Case] = [
        Case(text: "hello", length: 5, label: "ASCII"),
        Case(text: "e\u{0301}", length: 1, label: "combining mark"),
        Case(text: "日本語", length: 3, label: "CJK"),
        Case(text: family, length: 1, label: "ZWJ family"),
        Case(text: flag, length: 1, label: "flag"),
        Case(text: "https://example.com", length: 19, label: "URLs count in full"),
        Case(text: String(repeating: "a", count: 300), length: 300, label: "300 ASCII"),
    ]

    @Test("Bluesky length", arguments: blueskyCases)
    func bluesky(_ c: Case) {
        #expect(TextLength.measure(c.text, for: .bluesky).count == c.length)
    }

    struct Boundary: Sendable, CustomTestStringConvertible {
        var platform: Platform
        var text: String
        var valid: Bool
        var message: String?
        var label: String
        var testDescription: String { "\(platform.rawValue): \(label)" }
    }

    static let boundaries: [Boundary] = [
        Boundary(platform: .x, text: String(repeating: "a", count: 280), valid: true, label: "280"),
        Boundary(platform: .x, text: String(repeating: "a", count: 281), valid: false,
                 message: "text too long: 281 of 280 weighted characters, 1 over", label: "281"),
        Boundary(platform: .x, text: String(repeating: "語", count: 141), valid: false,
                 message: "text too long: 282 of 280 weighted characters, 2 over", label: "141 CJK"),
        Boundary(platform: .x, text: String(repeating: "a", count: 256) + " " + longURL, valid: true, label: "256 + space + URL = 280"),
        Boundary(platform: .x, text: String(repeating: "a", count: 257) + " " + longURL, valid: false, label: "257 + space + URL = 281"),
        Boundary(platform: .x, text: String(repeating: "e\u{0301}", count: 280), valid: true, label: "280 decomposed é (NFC)"),
        Boundary(platform: .x, text: String(repeating: family, count: 35), valid: true, label: "35 families = 280"),
        Boundary(platform: .x, text: String(repeating: family, count: 36), valid: false, label: "36 families = 288"),
        Boundary(platform: .mastodon, text: String(repeating: "a", count: 500), valid: true, label: "500"),
        Boundary(platform: .mastodon, text: String(repeating: "a", count: 501), valid: false,
                 message: "text too long: 501 of 500 characters, 1 over", label: "501"),
        Boundary(platform: .mastodon, text: String(repeating: family, count: 500), valid: true, label: "500 families"),
        Boundary(platform: .mastodon, text: String(repeating: "a", count: 476) + " " + longURL, valid: true, label: "476 + space + URL = 500"),
        Boundary(platform: .bluesky, text: String(repeating: "a", count: 300), valid: true, label: "300"),
        Boundary(platform: .bluesky, text: String(repeating: "a", count: 301), valid: false,
                 message: "text too long: 301 of 300 characters, 1 over", label: "301"),
        Boundary(platform: .bluesky, text: String(repeating: "語", count: 300), valid: true, label: "300 CJK = 900 bytes"),
        Boundary(platform: .bluesky, text: String(repeating: family, count: 200), valid: false,
                 message: "text too long: 3600 of 3000 UTF-8 bytes, 600 over", label: "200 families = 3,600 bytes"),
        Boundary(platform: .x, text: "   \n ", valid: false, message: "empty post", label: "whitespace only"),
    ]

    @Test("validation before send: exact boundaries, and by how much", arguments: boundaries)
    func boundary(_ b: Boundary) throws {
        let client = HTTPClient()
        let adapter: any PlatformAdapter
        switch b.platform {
        case .x: adapter = XAdapter(baseURL: "http://127.0.0.1:9", credentials: XCredentials(accessToken: "t"), client: client)
        case .mastodon: adapter = MastodonAdapter(baseURL: "http://127.0.0.1:9", credentials: MastodonCredentials(accessToken: "t"), client: client)
        case .bluesky: adapter = BlueskyAdapter(baseURL: "http://127.0.0.1:9", credentials: BlueskyCredentials(identifier: "a", password: "p"), client: client)
        default: preconditionFailure("built-in platforms only")
        }
        if b.valid {
            try adapter.validate(PostDraft(text: b.text))
        } else {
            let error = #expect(throws: PlatformError.self) { try adapter.validate(PostDraft(text: b.text)) }
            #expect(error?.errorClass.name == "permanent")
            if let m = b.message { #expect(error?.errorClass == .permanent(reason: m)) }
        }
    }

    @Test("URL detection ranges")
    func urlRanges() {
        let text = "a https://x.com/p, and (http://y.org/q) end"
        let scalars = Array(text.unicodeScalars)
        let urls = TextTools.urlRanges(in: scalars).map { String(String.UnicodeScalarView(scalars[$0])) }
        #expect(urls == ["https://x.com/p", "http://y.org/q"])
        #expect(TextTools.urlRanges(in: "HTTPS://EXAMPLE.COM").count == 1)
    }
}
