import Foundation
import HummingbirdTesting
import SteadyCore
import Testing

@testable import SteadySimulator

@Suite("Media: Mastodon", .timeLimit(.minutes(1)))
struct MediaMastodonTests {
    @Test("4 images (200 at once) with descriptions → a status with media_attachments in order")
    func fourImages() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.mastodon, "news-m")["access_token"]?.stringValue ?? ""
            var ids: [String] = []
            var files: [[UInt8]] = []
            for n in 0..<4 {
                let file = Fixture.png(1_000 + n * 100, seed: UInt8(n))
                let reply = try await client.mastodonUpload(file, description: "image \(n)", token: token)
                #expect(reply.status == 200, "\(reply.body)")
                #expect(reply.json["url"]?.stringValue != nil)
                #expect(reply.json["type"] == "image")
                ids.append(reply.json["id"]?.stringValue ?? "")
                files.append(file)
            }
            let created = try await client.form(
                .post, "/api/v1/statuses", [("status", "four")] + ids.map { ("media_ids[]", $0) },
                headers: [("authorization", "Bearer \(token)")])
            #expect(created.status == 200, "\(created.body)")
            let attachments = created.json["media_attachments"]?.arrayValue ?? []
            #expect(attachments.map { $0["id"]?.stringValue } == ids)
            #expect(attachments.map { $0["description"]?.stringValue } == (0..<4).map { "image \($0)" })
            let media = try await client.groundTruth("news-m").first?["media"]?.arrayValue ?? []
            #expect(media.map { $0["sha256"]?.stringValue } == files.map(Fixture.sha256))
            #expect(media.map { $0["alt"]?.stringValue } == (0..<4).map { "image \($0)" })
            let id = created.json["id"]?.stringValue ?? ""
            let read = try await client.api(.get, "/api/v1/statuses/\(id)", token: nil)
            #expect(read.json["media_attachments"]?.arrayValue?.count == 4)
        }
    }

    @Test("a video: 202 with url null, 206 while processing, 200 when done; posting early is a 422")
    func videoProcessing() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.mastodon, "news-m")["access_token"]?.stringValue ?? ""
            let video = Fixture.mp4(20_000)
            let upload = try await client.mastodonUpload(video, description: nil, token: token)
            #expect(upload.status == 202)
            #expect(upload.json["url"] == .null)
            let id = upload.json["id"]?.stringValue ?? ""
            let early = try await client.form(
                .post, "/api/v1/statuses", [("status", "clip"), ("media_ids[]", id)], headers: [("authorization", "Bearer \(token)")])
            #expect(early.status == 422)
            #expect(early.json["error"]?.stringValue?.hasPrefix("Cannot attach files that have not finished processing") == true)
            #expect(try await client.api(.get, "/api/v1/media/\(id)", token: token).status == 206)
            let done = try await client.api(.get, "/api/v1/media/\(id)", token: token)
            #expect(done.status == 200)
            #expect(done.json["type"] == "video")
            let posted = try await client.form(
                .post, "/api/v1/statuses", [("status", "clip"), ("media_ids[]", id)], headers: [("authorization", "Bearer \(token)")])
            #expect(posted.status == 200, "\(posted.body)")
            #expect(try await client.groundTruth("news-m").first?["media"]?.arrayValue?.first?["sha256"]?.stringValue == Fixture.sha256(video))
        }
    }

    @Test("limits: a text file, an image over 16 MB, 5 media, a video with an image, someone else's media")
    func limits() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.mastodon, "news-m")["access_token"]?.stringValue ?? ""
            let other = try await client.account(.mastodon, "other-m")["access_token"]?.stringValue ?? ""
            let auth = [("authorization", "Bearer \(token)")]
            #expect(try await client.mastodonUpload(Fixture.text(500), description: nil, token: token).status == 422)
            let huge = try await client.mastodonUpload(Fixture.png((16 << 20) + 1), description: nil, token: token)
            #expect(huge.status == 422)
            #expect(huge.json["error"]?.stringValue?.contains("16 MB") == true)
            var ids: [String] = []
            for n in 0..<5 {
                ids.append(try await client.mastodonUpload(Fixture.png(200, seed: UInt8(n)), description: nil, token: token).json["id"]?.stringValue ?? "")
            }
            let five = try await client.form(.post, "/api/v1/statuses", [("status", "five")] + ids.map { ("media_ids[]", $0) }, headers: auth)
            #expect(five.status == 422)
            #expect(five.json["error"] == "Cannot attach more than 4 files")
            let gif = try await client.mastodonUpload(Fixture.gif(300), description: nil, token: token).json["id"]?.stringValue ?? ""
            for _ in 0..<2 { _ = try await client.api(.get, "/api/v1/media/\(gif)", token: token) }
            let mixed = try await client.form(.post, "/api/v1/statuses", [("status", "mixed"), ("media_ids[]", gif), ("media_ids[]", ids[0])], headers: auth)
            #expect(mixed.status == 422)
            let foreign = try await client.form(
                .post, "/api/v1/statuses", [("status", "not mine"), ("media_ids[]", ids[0])], headers: [("authorization", "Bearer \(other)")])
            #expect(foreign.status == 404)
            #expect(try await client.groundTruth().isEmpty)
        }
    }
}
