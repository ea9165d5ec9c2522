import Foundation
import Hummingbird
import HummingbirdTesting
import SteadyCore
import Testing

@testable import SteadySimulator

/// Test files whose type the magic bytes tell: a PNG, a GIF, an MP4 and a text file.
enum Fixture {
    static func png(_ size: Int, seed: UInt8 = 1) -> [UInt8] {
        [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + filler(size - 8, seed)
    }

    static func gif(_ size: Int) -> [UInt8] { Array("GIF89a".utf8) + filler(size - 6, 3) }

    static func mp4(_ size: Int) -> [UInt8] {
        [0, 0, 0, 0x18] + Array("ftypisom".utf8) + filler(size - 12, 9)
    }

    static func text(_ size: Int) -> [UInt8] { Array(repeating: UInt8(ascii: "x"), count: size) }

    private static func filler(_ count: Int, _ seed: UInt8) -> [UInt8] {
        (0..<max(0, count)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ Int(seed)) }
    }

    static func sha256(_ bytes: [UInt8]) -> String {
        SteadyCore.SHA256.hex(bytes)
    }
}

/// One part of a multipart body.
struct Part {
    let name: String
    let value: [UInt8]
    var filename: String?
    var contentType: String?

    static func field(_ name: String, _ value: String) -> Part { Part(name: name, value: Array(value.utf8)) }
}

extension TestClientProtocol {
    /// A `multipart/form-data` request with a bearer token.
    func multipart(_ uri: String, token: String, _ parts: [Part]) async throws -> Reply {
        let boundary = "sim-boundary-7MA4YWxkTrZu0gW"
        var body: [UInt8] = []
        for part in parts {
            var head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(part.name)\""
            if let filename = part.filename { head += "; filename=\"\(filename)\"" }
            head += "\r\n"
            if let type = part.contentType { head += "Content-Type: \(type)\r\n" }
            body += Array((head + "\r\n").utf8) + part.value + Array("\r\n".utf8)
        }
        body += Array("--\(boundary)--\r\n".utf8)
        return try await postBytes(uri, body, token: token, contentType: "multipart/form-data; boundary=\(boundary)")
    }

    /// A POST of raw bytes with a bearer token.
    func postBytes(_ uri: String, _ bytes: [UInt8], token: String, contentType: String) async throws -> Reply {
        let response = try await execute(
            uri: uri, method: .post,
            headers: fields([("authorization", "Bearer \(token)"), ("content-type", contentType)]),
            body: ByteBuffer(bytes: bytes))
        return Reply(
            status: Int(response.status.code),
            headers: response.headers.map { ($0.name.canonicalName, $0.value) },
            body: String(buffer: response.body))
    }

    /// X: INIT, APPEND in `segment`-byte pieces, FINALIZE; the FINALIZE reply and the id.
    func xUpload(
        _ bytes: [UInt8], type: String, category: String, token: String, segment: Int = 1 << 20
    ) async throws -> (Reply, String) {
        let initReply = try await form(
            .post, "/2/media/upload",
            [
                ("command", "INIT"), ("total_bytes", String(bytes.count)), ("media_type", type),
                ("media_category", category),
            ], headers: [("authorization", "Bearer \(token)")])
        let id = initReply.json["data"]?["id"]?.stringValue ?? ""
        #expect(initReply.status == 202, "INIT → \(initReply.status) \(initReply.body)")
        var index = 0
        for start in stride(from: 0, to: bytes.count, by: segment) {
            let piece = Array(bytes[start..<min(bytes.count, start + segment)])
            let append = try await multipart(
                "/2/media/upload", token: token,
                [
                    .field("command", "APPEND"), .field("media_id", id), .field("segment_index", String(index)),
                    Part(name: "media", value: piece, filename: "blob", contentType: "application/octet-stream"),
                ])
            #expect(append.status == 200, "APPEND \(index) → \(append.status) \(append.body)")
            index += 1
        }
        let finalize = try await form(
            .post, "/2/media/upload", [("command", "FINALIZE"), ("media_id", id)],
            headers: [("authorization", "Bearer \(token)")])
        return (finalize, id)
    }

    /// Bluesky: `uploadBlob` with raw bytes; the reply.
    func blueskyUpload(_ bytes: [UInt8], contentType: String, token: String) async throws -> Reply {
        try await postBytes("/xrpc/com.atproto.repo.uploadBlob", bytes, token: token, contentType: contentType)
    }

    /// Mastodon: `POST /api/v2/media`.
    func mastodonUpload(_ bytes: [UInt8], description: String?, token: String) async throws -> Reply {
        var parts = [Part(name: "file", value: bytes, filename: "upload.bin", contentType: "application/octet-stream")]
        if let description { parts.append(.field("description", description)) }
        return try await multipart("/api/v2/media", token: token, parts)
    }
}
