import Glibc
import Testing
import SteadyCore
import SteadyHTTP
import SteadyMedia
import SteadyPlatforms
import SteadySystem
@testable import SteadyAPI

/// `POST /api/media` on the live server over a media store with a small bound: the body is
/// streamed in (a body larger than the bound is refused 413 with nothing left behind, by
/// Content-Length before a byte is read), junk is 415, and the stored bytes are the body's.
@Suite("POST /api/media", .serialized, .timeLimit(.minutes(1)))
struct MediaUploadTests {
    static func png(_ count: Int) -> [UInt8] {
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)
        while bytes.count < count { bytes.append(UInt8(truncatingIfNeeded: bytes.count &* 7)) }
        return bytes
    }

    func upload(_ f: APIFixture, _ token: String, _ body: [UInt8]) throws -> HTTPResponse {
        try f.http.send(HTTPRequest(method: .post, url: "http://127.0.0.1:\(f.server!.port)/api/media",
                                    headers: ["Authorization": "Bearer \(token)", "Content-Type": "image/png"], body: body))
    }

    @Test("413 past the store's bound, 415 for text, 201 with the hash for an image; refused bodies leave no file")
    func bounds() throws {
        let f = try APIFixture(mediaMaxBytes: 200_000)
        _ = try f.serve()
        guard case .ok(let created) = f.service.tokenCreate(Array(#"{"name":"media"}"#.utf8)),
              let token = try JSON.parse(created)["token"]?.string else { throw TestFailure("no token") }

        let tooBig = try upload(f, token, Self.png(300_000))
        #expect(tooBig.status == 413 && tooBig.text.contains("at most 200000 bytes"), "\(tooBig.status) \(tooBig.text)")
        let text = try upload(f, token, Array(String(repeating: "plain text ", count: 50).utf8))
        #expect(text.status == 415 && text.text.contains("not an image or video"), "\(text.text)")
        let media = f.dir + "/state/media"
        #expect((Files.list(media + "/tmp") ?? []).isEmpty, "no partial file stays behind")

        let bytes = Self.png(150_000)
        let ok = try upload(f, token, bytes)
        #expect(ok.status == 201, "\(ok.text)")
        let sha = try #require(try JSON.parse(ok.body)["sha256"]?.string)
        #expect(sha == SHA256.hex(bytes))
        let stored = try MediaStore(directory: media).open(sha)
        #expect(stored.item.bytes == Int64(bytes.count) && stored.item.type == .png)
    }
}
