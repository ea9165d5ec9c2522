import Testing

@testable import SteadyConfig

/// `[media]`: the media store's chunk size, how long media of final posts is kept, and the
/// public base URL (for platforms that fetch media by URL, later).
@Suite("[media]")
struct MediaConfigTests {
    @Test func defaults() throws {
        let media = try Config.parse("", path: "/t.toml").media
        #expect(media == MediaConfig())
        #expect(media.chunkBytes == 1 << 20)
        #expect(media.retainAfterFinalMs == 7 * 86_400_000)
        #expect(media.publicBaseURL == nil)
    }

    @Test func accepted() throws {
        let media = try Config.parse("""
            [media]
            public_base_url = "https://media.example.com/"
            chunk_bytes = "256K"
            retain_after_final = "48h"
            """, path: "/t.toml").media
        #expect(media.publicBaseURL == "https://media.example.com")
        #expect(media.chunkBytes == 256 << 10)
        #expect(media.retainAfterFinalMs == 48 * 3_600_000)
    }

    @Test(arguments: [
        ("[media]\nchunk_bytes = \"32K\"", "t.toml:2: media.chunk_bytes: must be between"),
        ("[media]\nchunk_bytes = \"6M\"", "t.toml:2: media.chunk_bytes: must be between"),
        ("[media]\n\nretain_after_final = \"soon\"", "t.toml:3: media.retain_after_final: invalid duration \"soon\""),
        ("[media]\npublic_base_url = \"ftp://x\"", "t.toml:2: media.public_base_url: must start with http:// or https://"),
        ("[media]\nchunk = 1", "t.toml:2: media.chunk: unknown key"),
    ] as [(String, String)])
    func refused(text: String, expected: String) {
        let found = diagnostics(text)
        #expect(found.count == 1 && found.first?.hasPrefix(expected) == true, "\(found)")
    }
}
