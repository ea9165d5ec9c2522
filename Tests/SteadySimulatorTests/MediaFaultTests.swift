import Foundation
import HummingbirdTesting
import SteadyCore
import Testing

@testable import SteadySimulator

@Suite("Media: fault rules on uploads", .timeLimit(.minutes(1)))
struct MediaFaultTests {
    @Test("lose-response on an X APPEND: the segment is taken, the answer dropped; sending it again is harmless")
    func lostAppend() async throws {
        try await withSimulator(.live) { client, _ in
            let port = try #require(client.port)
            let token = try await client.account(.x, "news-x")["access_token"]?.stringValue ?? ""
            let file = Fixture.png(1_500)
            let initReply = try await client.form(
                .post, "/2/media/upload",
                [("command", "INIT"), ("total_bytes", "1500"), ("media_type", "image/png"), ("media_category", "tweet_image")],
                headers: [("authorization", "Bearer \(token)")])
            let id = initReply.json["data"]?["id"]?.stringValue ?? ""
            _ = try await client.addFault(["kind": "lose-response", "endpoint": "upload", "platform": "x", "count": 1])
            let form = "command=APPEND&media_id=\(id)&segment_index=0&media_data=" + Data(file).base64EncodedString()
                .replacingOccurrences(of: "+", with: "%2B").replacingOccurrences(of: "/", with: "%2F").replacingOccurrences(of: "=", with: "%3D")
            let lost = await RawHTTP.request(
                port: port, method: "POST", path: "/2/media/upload",
                headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/x-www-form-urlencoded")],
                body: form, timeoutMs: 10_000)
            guard case .closedWithoutResponse = lost else {
                Issue.record("expected a closed connection, got \(lost)")
                return
            }
            let uploads = try await client.admin(.get, "/_sim/media")["media"]?.arrayValue ?? []
            #expect(uploads.first?["bytes"] == 1500, "the lost APPEND took effect")
            let again = try await client.multipart(
                "/2/media/upload", token: token,
                [.field("command", "APPEND"), .field("media_id", id), .field("segment_index", "0"), Part(name: "media", value: file)])
            #expect(again.status == 200)
            let finalize = try await client.form(
                .post, "/2/media/upload", [("command", "FINALIZE"), ("media_id", id)], headers: [("authorization", "Bearer \(token)")])
            #expect(finalize.status == 201, "\(finalize.body)")
            #expect(try await client.admin(.get, "/_sim/media")["media"]?.arrayValue?.first?["sha256"]?.stringValue == Fixture.sha256(file))
        }
    }

    @Test("error-before 503 on a Mastodon upload: nothing stored, Mastodon's error body")
    func serverError() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.mastodon, "news-m")["access_token"]?.stringValue ?? ""
            _ = try await client.addFault(["kind": "error-before", "endpoint": "upload", "status": 503, "count": 1])
            let failed = try await client.mastodonUpload(Fixture.png(300), description: nil, token: token)
            #expect(failed.status == 503)
            #expect(failed.json["error"]?.stringValue != nil)
            #expect(try await client.admin(.get, "/_sim/media")["media"]?.arrayValue?.isEmpty == true)
            #expect(try await client.mastodonUpload(Fixture.png(300), description: nil, token: token).status == 200)
        }
    }

    @Test("slow-processing: an X image takes the rule's polls; a Mastodon image answers 202")
    func slowProcessing() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.x, "news-x")["access_token"]?.stringValue ?? ""
            _ = try await client.addFault(["kind": "slow-processing", "endpoint": "upload", "platform": "x", "polls": 4, "count": 1])
            let (finalize, id) = try await client.xUpload(Fixture.png(800), type: "image/png", category: "tweet_image", token: token)
            #expect(finalize.json["data"]?["processing_info"]?["state"] == "pending")
            var states: [String] = []
            for _ in 0..<4 {
                let status = try await client.api(.get, "/2/media/upload?command=STATUS&media_id=\(id)", token: token)
                states.append(status.json["data"]?["processing_info"]?["state"]?.stringValue ?? "")
            }
            #expect(states == ["in_progress", "in_progress", "in_progress", "succeeded"])

            let mastodon = try await client.account(.mastodon, "news-m")["access_token"]?.stringValue ?? ""
            _ = try await client.addFault(["kind": "slow-processing", "endpoint": "upload", "platform": "mastodon", "polls": 2])
            let upload = try await client.mastodonUpload(Fixture.png(300), description: nil, token: mastodon)
            #expect(upload.status == 202)
            let mediaID = upload.json["id"]?.stringValue ?? ""
            #expect(try await client.api(.get, "/api/v1/media/\(mediaID)", token: mastodon).status == 206)
            #expect(try await client.api(.get, "/api/v1/media/\(mediaID)", token: mastodon).status == 200)
        }
    }

    @Test("processing-failure: X STATUS ends failed and the id cannot be posted; Mastodon's poll answers 422")
    func processingFailure() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.x, "news-x")["access_token"]?.stringValue ?? ""
            _ = try await client.addFault(["kind": "processing-failure", "endpoint": "upload", "count": 2])
            let (_, id) = try await client.xUpload(Fixture.mp4(3_000), type: "video/mp4", category: "tweet_video", token: token)
            var last = ""
            for _ in 0..<2 {
                let status = try await client.api(.get, "/2/media/upload?command=STATUS&media_id=\(id)", token: token)
                last = status.json["data"]?["processing_info"]?["state"]?.stringValue ?? ""
            }
            #expect(last == "failed")
            let post = try await client.api(.post, "/2/tweets", token: token, json: ["text": "x", "media": ["media_ids": [.string(id)]]])
            #expect(post.status == 400)

            let mastodon = try await client.account(.mastodon, "news-m")["access_token"]?.stringValue ?? ""
            let upload = try await client.mastodonUpload(Fixture.png(300), description: nil, token: mastodon)
            #expect(upload.status == 202)
            let mediaID = upload.json["id"]?.stringValue ?? ""
            _ = try await client.api(.get, "/api/v1/media/\(mediaID)", token: mastodon)
            #expect(try await client.api(.get, "/api/v1/media/\(mediaID)", token: mastodon).status == 422)
            #expect(try await client.groundTruth().isEmpty)
        }
    }
}
