import Foundation
import HummingbirdTesting
import SteadyCore
import Testing

@testable import SteadySimulator

@Suite("Media: X", .timeLimit(.minutes(1)))
struct MediaXTests {
    @Test("the simulator's SHA-256 matches the FIPS 180-4 test vectors")
    func sha256Vectors() {
        #expect(Fixture.sha256(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Fixture.sha256([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        let long = Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)
        #expect(Fixture.sha256(long) == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        var split = SteadyCore.SHA256()
        split.update(long.prefix(5))
        split.update(long.dropFirst(5))
        #expect(split.finalizeHex() == Fixture.sha256(long))
    }

    @Test("4 images in segments with alt text → a tweet whose ground truth lists them in order")
    func fourImages() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.x, "news-x")["access_token"]?.stringValue ?? ""
            var ids: [String] = []
            var files: [[UInt8]] = []
            for n in 0..<4 {
                let file = Fixture.png(2_500 + n * 700, seed: UInt8(n))
                let (finalize, id) = try await client.xUpload(
                    file, type: "image/png", category: "tweet_image", token: token, segment: 1_000)
                #expect(finalize.status == 201, "\(finalize.body)")
                #expect(finalize.json["data"]?["processing_info"] == nil, "images need no processing")
                let alt = try await client.api(
                    .post, "/2/media/metadata", token: token,
                    json: ["id": .string(id), "metadata": ["alt_text": ["text": .string("picture \(n)")]]])
                #expect(alt.status == 200, "\(alt.body)")
                ids.append(id)
                files.append(file)
            }
            let created = try await client.api(
                .post, "/2/tweets", token: token,
                json: ["text": "four pictures", "media": ["media_ids": .array(ids.reversed().map { .string($0) })]])
            #expect(created.status == 201, "\(created.body)")
            let media = try await client.groundTruth("news-x").first?["media"]?.arrayValue ?? []
            #expect(media.count == 4)
            for (item, n) in zip(media, (0..<4).reversed()) {
                #expect(item["sha256"]?.stringValue == Fixture.sha256(files[n]))
                #expect(item["bytes"]?.intValue == Int64(files[n].count))
                #expect(item["type"] == "image")
                #expect(item["mime_type"] == "image/png")
                #expect(item["alt"]?.stringValue == "picture \(n)")
            }
            let tweetID = created.json["data"]?["id"]?.stringValue ?? ""
            let read = try await client.api(
                .get, "/2/tweets/\(tweetID)?tweet.fields=attachments&expansions=attachments.media_keys", token: token)
            let keys = read.json["data"]?["attachments"]?["media_keys"]?.arrayValue ?? []
            #expect(keys.map(\.stringValue) == ids.reversed().map { "3_" + $0 })
            let included = read.json["includes"]?["media"]?.arrayValue ?? []
            #expect(included.map { $0["type"] } == Array(repeating: "photo", count: 4))
        }
    }

    @Test("a video: FINALIZE pending, STATUS in_progress then succeeded; posting before that is refused")
    func videoProcessing() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.x, "news-x")["access_token"]?.stringValue ?? ""
            let video = Fixture.mp4(12_000)
            let (finalize, id) = try await client.xUpload(video, type: "video/mp4", category: "tweet_video", token: token, segment: 5_000)
            #expect(finalize.json["data"]?["processing_info"]?["state"] == "pending")
            #expect(finalize.json["data"]?["processing_info"]?["check_after_secs"] == 1)
            let early = try await client.api(
                .post, "/2/tweets", token: token, json: ["text": "clip", "media": ["media_ids": [.string(id)]]])
            #expect(early.status == 400)
            #expect(early.json["type"] == "https://api.twitter.com/2/problems/invalid-request")
            let status = "/2/media/upload?command=STATUS&media_id=\(id)"
            #expect(try await client.api(.get, status, token: token).json["data"]?["processing_info"]?["state"] == "in_progress")
            #expect(try await client.api(.get, status, token: token).json["data"]?["processing_info"]?["state"] == "succeeded")
            let posted = try await client.api(
                .post, "/2/tweets", token: token, json: ["text": "clip", "media": ["media_ids": [.string(id)]]])
            #expect(posted.status == 201, "\(posted.body)")
            let item = try await client.groundTruth("news-x").first?["media"]?.arrayValue?.first
            #expect(item?["type"] == "video")
            #expect(item?["sha256"]?.stringValue == Fixture.sha256(video))
        }
    }

    @Test("limits: size at INIT, type by magic bytes, 5 images, a video with an image, unknown and expired ids")
    func limits() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.x, "news-x")["access_token"]?.stringValue ?? ""
            let big = try await client.form(
                .post, "/2/media/upload",
                [("command", "INIT"), ("total_bytes", String(6 << 20)), ("media_type", "image/png"), ("media_category", "tweet_image")],
                headers: [("authorization", "Bearer \(token)")])
            #expect(big.status == 400)
            #expect(big.json["title"] == "Invalid Request")
            let (renamed, _) = try await client.xUpload(Fixture.text(900), type: "image/png", category: "tweet_image", token: token)
            #expect(renamed.status == 400, "a text file is not a PNG: \(renamed.body)")

            var ids: [JSON] = []
            for n in 0..<5 {
                let (_, id) = try await client.xUpload(Fixture.png(300, seed: UInt8(n)), type: "image/png", category: "tweet_image", token: token)
                ids.append(.string(id))
            }
            let five = try await client.api(.post, "/2/tweets", token: token, json: ["text": "five", "media": ["media_ids": .array(ids)]])
            #expect(five.status == 400)
            let (gifDone, gif) = try await client.xUpload(Fixture.gif(400), type: "image/gif", category: "tweet_gif", token: token)
            #expect(gifDone.json["data"]?["processing_info"]?["state"] == "pending")
            for _ in 0..<2 { _ = try await client.api(.get, "/2/media/upload?command=STATUS&media_id=\(gif)", token: token) }
            let mixed = try await client.api(
                .post, "/2/tweets", token: token, json: ["text": "mixed", "media": ["media_ids": [.string(gif), ids[0]]]])
            #expect(mixed.status == 400)
            let unknown = try await client.api(
                .post, "/2/tweets", token: token, json: ["text": "ghost", "media": ["media_ids": ["1234"]]])
            #expect(unknown.status == 400)
            #expect(unknown.json["errors"]?.arrayValue?.first?["message"] == "Your media IDs are invalid.")
            let credentials = try await client.account(.x, "later-x")
            let laterToken = credentials["access_token"]?.stringValue ?? ""
            let (_, kept) = try await client.xUpload(Fixture.png(300, seed: 9), type: "image/png", category: "tweet_image", token: laterToken)
            try await client.advanceClock(ms: (XMediaLimits.expiresAfterSecs + 1) * 1000)
            let refreshed = try await client.form(
                .post, "/2/oauth2/token",
                [
                    ("grant_type", "refresh_token"), ("refresh_token", credentials["refresh_token"]?.stringValue ?? ""),
                    ("client_id", credentials["client_id"]?.stringValue ?? ""),
                ])
            let newToken = refreshed.json["access_token"]?.stringValue ?? ""
            let expired = try await client.api(
                .post, "/2/tweets", token: newToken, json: ["text": "stale", "media": ["media_ids": [.string(kept)]]])
            #expect(expired.status == 400, "an expired upload is refused: \(expired.body)")
            #expect(try await client.groundTruth().isEmpty)
        }
    }
}
