import Glibc
import Testing
import SteadyCore
import SteadyHTTP
import SteadyMedia
import SteadySystem
@testable import SteadyAPI
@testable import SteadyMedia

/// Signed media links (issue 17: Instagram and Threads fetch media by URL): the api worker
/// serves a stored item only through a link whose MAC and expiry hold, streamed with its
/// type; everything else is one and the same 404.
@Suite("signed media links", .serialized, .timeLimit(.minutes(1)))
struct MediaLinkTests {
    @Test("HMAC-SHA256 matches RFC 4231's vectors")
    func hmacVectors() {
        #expect(SHA256.hexString(HMAC.sha256(key: Array("Jefe".utf8), message: Array("what do ya want for nothing?".utf8)))
                == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
        let longKey = [UInt8](repeating: 0xaa, count: 131)
        #expect(SHA256.hexString(HMAC.sha256(key: longKey, message: Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)))
                == "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54")
    }

    @Test("a link verifies until it expires; any changed part fails; the key is made once (0600) and shared")
    func signing() throws {
        let tmp = TempDir("steadypost-links")
        let links = try MediaLinks.open(stateDir: tmp.path)
        let again = try MediaLinks.open(stateDir: tmp.path)
        #expect(links.key == again.key && links.key.count == 32)
        #expect((try Files.status(tmp.path + "/" + MediaLinks.keyFile))?.permissions == 0o600)
        let sha = String(repeating: "ab", count: 32)
        let item = MediaItem(sha256: sha, type: .png, bytes: 10)
        let path = links.path(for: item, expiresAt: 1_000, tag: "a_1234")
        let parts = path.split(separator: "/").map(String.init)
        #expect(parts.count == 5 && parts[0] == "media" && parts[4] == sha + ".png", "\(path)")
        #expect(links.verify(expires: parts[1], tag: parts[2], mac: parts[3], file: parts[4], nowSeconds: 999) == sha)
        #expect(links.verify(expires: parts[1], tag: parts[2], mac: parts[3], file: parts[4], nowSeconds: 1_001) == nil, "expired")
        #expect(links.verify(expires: "2000", tag: parts[2], mac: parts[3], file: parts[4], nowSeconds: 999) == nil, "expiry moved")
        #expect(links.verify(expires: parts[1], tag: "a_9999", mac: parts[3], file: parts[4], nowSeconds: 999) == nil, "another attempt")
        #expect(links.verify(expires: parts[1], tag: parts[2], mac: parts[3], file: String(repeating: "cd", count: 32) + ".png", nowSeconds: 999) == nil)
        #expect(links.verify(expires: parts[1], tag: parts[2], mac: String(repeating: "0", count: 32), file: parts[4], nowSeconds: 999) == nil)
        let other = MediaLinks(key: [UInt8](repeating: 1, count: 32))
        #expect(other.verify(expires: parts[1], tag: parts[2], mac: parts[3], file: parts[4], nowSeconds: 999) == nil, "another daemon's key")
        #expect(links.url(base: "https://media.example.com/", for: item, expiresAt: 1_000, tag: "a_1234") == "https://media.example.com" + path)

        let bad = TempDir("steadypost-links-bad")
        try Files.writeAtomically(bad.path + "/" + MediaLinks.keyFile, "not a key\n", mode: 0o600)
        #expect(throws: MediaError.self) { try MediaLinks.open(stateDir: bad.path) }
    }

    @Test("the live server streams a linked item with its type and length; expired, tampered, unknown and traversal links are the same 404")
    func served() throws {
        let f = try APIFixture(mediaMaxBytes: 4 << 20)
        _ = try f.serve()
        let bytes = MediaUploadTests.png(300_000)
        let put = try #require(f.service.media).put(bytes: bytes, name: "chart.png")
        let links = try #require(f.service.mediaLinks)
        let now = SteadyClock.wallMillis() / 1000
        let good = links.path(for: put.item, expiresAt: now + 600, tag: "a_test")
        let r = try f.get(good)
        #expect(r.status == 200, "\(r.status) \(r.text.prefix(200))")
        #expect(r.body == bytes, "the very bytes")
        #expect(r.headers["Content-Type"] == "image/png" && r.headers["Content-Length"] == String(bytes.count))
        #expect(r.headers["Authorization"] == nil)

        let expired = links.path(for: put.item, expiresAt: now - 1, tag: "a_test")
        let parts = good.split(separator: "/").map(String.init)
        let unknown = links.path(for: MediaItem(sha256: String(repeating: "0", count: 64), type: .png, bytes: 1), expiresAt: now + 600, tag: "a_test")
        for path in [expired, "/media/\(parts[1])/\(parts[2])/\(String(repeating: "f", count: 32))/\(parts[4])", unknown,
                     "/media/\(parts[1])/\(parts[2])/\(parts[3])/..%2F..%2Fsteadypost.db", "/media/\(parts[1])/\(parts[2])/\(parts[3])"] {
            let refused = try f.get(path)
            #expect(refused.status == 404, "\(path): \(refused.status)")
            #expect(!refused.body.starts(with: bytes.prefix(8)), "\(path) leaked bytes")
        }
        #expect(f.service.counters["media_links_served"] == 1)
    }
}
