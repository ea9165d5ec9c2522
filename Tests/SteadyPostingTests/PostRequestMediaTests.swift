import Testing
import SteadyCore
import SteadyPlatforms
import SteadyStore
@testable import SteadyPosting

/// `posting.create`'s `media`: each hash resolved in the media store, the platform's rules
/// over all of them, all or nothing, refusals naming the file and the rule.
struct PostRequestMediaTests {
    static let png = String(repeating: "a", count: 64)
    static let big = String(repeating: "b", count: 64)
    static let mp4 = String(repeating: "c", count: 64)
    static let stored: [String: MediaAttachment] = [
        png: MediaAttachment(sha256: png, type: .png, bytes: 50_000),
        big: MediaAttachment(sha256: big, type: .png, bytes: 8 << 20),
        mp4: MediaAttachment(sha256: mp4, type: .mp4, bytes: 1_000_000),
    ]

    static func parse(_ text: String) throws(PostRequest.Invalid) -> [NewPost] {
        try PostRequest.parse(Array(text.utf8), now: PostingDecisionTests.now, accounts: PostingDecisionTests.rules, media: { stored[$0] }).posts
    }

    static func ref(_ sha: String, _ extra: String = "") -> String { #"{"sha256":"\#(sha)"\#(extra)}"# }

    @Test("media resolves in order with alt text, type and size from the store")
    func resolves() throws {
        let posts = try Self.parse(#"{"account":"news-x","text":"hi","media":[\#(Self.ref(Self.png, #","alt":"first""#)),\#(Self.ref(Self.png))]}"#)
        #expect(posts[0].media == [MediaAttachment(sha256: Self.png, type: .png, bytes: 50_000, alt: "first"),
                                   MediaAttachment(sha256: Self.png, type: .png, bytes: 50_000)])
        #expect(try Self.parse(#"{"account":"news-x","text":"no media"}"#)[0].media.isEmpty)
    }

    @Test("refusals name the file and the rule, and a batch with one refused item stores nothing")
    func refusals() {
        let five = Array(repeating: Self.ref(Self.png), count: 4).joined(separator: ",") + "," + Self.ref(Self.png, #","name":"photo5.png""#)
        let cases: [(String, String)] = [
            (#"{"account":"news-x","text":"x","media":[\#(five)]}"#, "photo5.png: X takes at most 4 images a post"),
            (#"{"account":"sky","text":"x","media":[\#(Self.ref(Self.big, #","name":"big.png""#))]}"#, "big.png: Bluesky images are at most"),
            (#"{"account":"news-x","text":"x","media":[\#(Self.ref(Self.png)),\#(Self.ref(Self.mp4, #","name":"clip.mp4""#))]}"#, "clip.mp4: X takes a video alone"),
            (#"{"account":"news-x","text":"x","media":[\#(Self.ref(String(repeating: "d", count: 64), #","name":"gone.png""#))]}"#, "gone.png: no media"),
            (#"{"account":"news-x","text":"x","media":[{"sha256":"\#(Self.png)","path":"x"}]}"#, "media[0]: unknown member \"path\""),
            (#"{"account":"news-x","text":"x","media":{"sha256":"\#(Self.png)"}}"#, "media: expected an array"),
            (#"{"account":"news-x","text":"x","media":[\#(Self.ref(Self.png, #","alt":"bad\u0007""#))]}"#, "alt: control character"),
            (#"{"account":"sky","posts":[{"text":"fine","line":1,"media":[\#(Self.ref(Self.png))]},{"text":"x","line":2,"media":[\#(Self.ref(Self.big, #","name":"big.png""#))]}]}"#,
             "line 2: big.png: Bluesky images are at most"),
        ]
        for (body, message) in cases {
            do {
                let posts = try Self.parse(body)
                Issue.record("\(body) was accepted: \(posts.count) post(s)")
            } catch {
                #expect(error.message.contains(message), "\(body) → \(error.message)")
            }
        }
    }
}
