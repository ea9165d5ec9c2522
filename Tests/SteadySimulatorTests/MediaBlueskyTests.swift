import Foundation
import HummingbirdTesting
import SteadyCore
import Testing

@testable import SteadySimulator

@Suite("Media: Bluesky", .timeLimit(.minutes(1)))
struct MediaBlueskyTests {
    static func post(_ did: String, text: String, embed: JSON) -> JSON {
        [
            "repo": .string(did), "collection": "app.bsky.feed.post",
            "record": [
                "$type": "app.bsky.feed.post", "text": .string(text), "createdAt": "2026-12-07T12:00:00.000Z",
                "embed": embed,
            ],
        ]
    }

    @Test("a blob's CID is a real CIDv1 (raw, SHA-256, base32)")
    func cidOfEmpty() {
        #expect(Store.blobCID(sha256: Fixture.sha256([])) == "bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku")
    }

    @Test("uploadBlob gives the same CID for the same bytes; 4 images with alt → ground truth and getPosts embed")
    func fourImages() async throws {
        try await withSimulator { client, _ in
            let (access, _, did) = try await client.blueskySession(try await client.account(.bluesky, "news-b"))
            var images: [JSON] = []
            var files: [[UInt8]] = []
            for n in 0..<4 {
                let file = Fixture.png(900 + n * 10, seed: UInt8(n))
                let reply = try await client.blueskyUpload(file, contentType: "application/octet-stream", token: access)
                #expect(reply.status == 200, "\(reply.body)")
                let blob = reply.json["blob"] ?? .null
                #expect(blob["mimeType"] == "image/png", "the type is sniffed from the bytes")
                #expect(blob["size"]?.intValue == Int64(file.count))
                #expect(blob["ref"]?["$link"]?.stringValue?.hasPrefix("bafkrei") == true)
                let again = try await client.blueskyUpload(file, contentType: "image/png", token: access)
                #expect(again.json["blob"]?["ref"] == blob["ref"])
                images.append(["image": blob, "alt": .string("photo \(n)")])
                files.append(file)
            }
            let created = try await client.api(
                .post, "/xrpc/com.atproto.repo.createRecord", token: access,
                json: Self.post(did, text: "four", embed: ["$type": "app.bsky.embed.images", "images": .array(images)]))
            #expect(created.status == 200, "\(created.body)")
            let media = try await client.groundTruth("news-b").first?["media"]?.arrayValue ?? []
            #expect(media.map { $0["sha256"]?.stringValue } == files.map(Fixture.sha256))
            #expect(media.map { $0["alt"]?.stringValue } == (0..<4).map { "photo \($0)" })
            let uri = created.json["uri"]?.stringValue ?? ""
            let view = try await client.api(.get, "/xrpc/app.bsky.feed.getPosts?uris=\(uri.percentEncodedComponent)", token: access)
            let embed = view.json["posts"]?.arrayValue?.first?["embed"]
            #expect(embed?["$type"] == "app.bsky.embed.images#view")
            #expect(embed?["images"]?.arrayValue?.count == 4)
        }
    }

    @Test("limits: 5 images, an image over 1,000,000 bytes, a blob never uploaded (or by another account), over 50 MB")
    func limits() async throws {
        try await withSimulator { client, _ in
            let (access, _, did) = try await client.blueskySession(try await client.account(.bluesky, "news-b"))
            let (other, _, _) = try await client.blueskySession(try await client.account(.bluesky, "other-b"))
            let small = try await client.blueskyUpload(Fixture.png(500), contentType: "image/png", token: access).json["blob"] ?? .null
            func create(_ images: [JSON]) async throws -> Reply {
                try await client.api(
                    .post, "/xrpc/com.atproto.repo.createRecord", token: access,
                    json: Self.post(did, text: "refused", embed: ["$type": "app.bsky.embed.images", "images": .array(images)]))
            }
            let five = try await create(Array(repeating: ["image": small, "alt": ""], count: 5))
            #expect(five.status == 400)
            #expect(five.json["error"] == "InvalidRequest")
            let big = try await client.blueskyUpload(Fixture.png(1_000_001), contentType: "image/png", token: access)
            #expect(big.status == 200, "a blob up to 50 MB is taken")
            let tooBig = try await create([["image": big.json["blob"] ?? .null, "alt": ""]])
            #expect(tooBig.status == 400)
            #expect(tooBig.json["message"]?.stringValue?.contains("file too big") == true)
            let theirs = try await client.blueskyUpload(Fixture.png(600, seed: 5), contentType: "image/png", token: other).json["blob"] ?? .null
            let foreign = try await create([["image": theirs, "alt": ""]])
            #expect(foreign.status == 400)
            #expect(foreign.json["message"]?.stringValue?.hasPrefix("Could not find blob") == true)
            let huge = try await client.blueskyUpload(Fixture.png(50_000_001), contentType: "image/png", token: access)
            #expect(huge.status == 413)
            #expect(try await client.groundTruth().isEmpty)
        }
    }

    @Test("error-before 502 on uploadBlob answers Bluesky's error shape")
    func uploadFault() async throws {
        try await withSimulator { client, _ in
            let (access, _, _) = try await client.blueskySession(try await client.account(.bluesky, "news-b"))
            _ = try await client.addFault(["kind": "error-before", "endpoint": "upload", "platform": "bluesky", "status": 502, "count": 1])
            let failed = try await client.blueskyUpload(Fixture.png(500), contentType: "image/png", token: access)
            #expect(failed.status == 502)
            #expect(failed.json["error"] == "UpstreamFailure")
            #expect(try await client.blueskyUpload(Fixture.png(500), contentType: "image/png", token: access).status == 200)
        }
    }
}
