import Foundation
import HummingbirdTesting
import SteadyCore
import Testing

@testable import SteadySimulator

@Suite("Facebook Pages", .timeLimit(.minutes(1)))
struct FacebookTests {
    /// (Page token, page id) of a new Facebook account.
    func page(_ client: some TestClientProtocol, _ name: String) async throws -> (String, String) {
        let credentials = try await client.account(.facebook, name)
        let token = credentials["access_token"]?.stringValue ?? ""
        let pageID = credentials["page_id"]?.stringValue ?? ""
        #expect(token.hasPrefix("EAA") && !pageID.isEmpty && pageID.allSatisfy(\.isNumber))
        return (token, pageID)
    }

    @Test("feed create by form and JSON, the node read back, ground truth, a missing node is code 100/33")
    func createAndRead() async throws {
        try await withSimulator { client, _ in
            let (token, pageID) = try await page(client, "shop-fb")
            let me = try await client.api(.get, "/v21.0/\(pageID)?fields=id,name", token: token)
            #expect(me.status == 200)
            #expect(me.json["id"] == .string(pageID) && me.json["name"] == "shop-fb")

            let byForm = try await client.form(
                .post, "/v21.0/\(pageID)/feed", [("message", "Hello <Page> & https://example.com/x")],
                headers: [("authorization", "Bearer \(token)")])
            #expect(byForm.status == 200, "\(byForm.body)")
            let id = byForm.json["id"]?.stringValue ?? ""
            #expect(id.hasPrefix(pageID + "_"))
            // The token as a query parameter works too (Graph accepts both).
            let byJSON = try await client.api(
                .post, "/v21.0/\(pageID)/feed?access_token=\(token)", token: nil, json: ["message": "second"])
            #expect(byJSON.status == 200, "\(byJSON.body)")

            let read = try await client.api(.get, "/v21.0/\(id)?fields=id,message,created_time", token: token)
            #expect(read.status == 200)
            #expect(read.json["message"] == "Hello <Page> & https://example.com/x")
            let created = read.json["created_time"]?.stringValue ?? ""
            #expect(created.hasSuffix("+0000") && created.count == 24, "\(created)")

            let truth = try await client.groundTruth("shop-fb")
            #expect(truth.map { $0["id"]?.stringValue } == [id, byJSON.json["id"]?.stringValue])
            #expect(truth.first?["platform"] == "facebook" && truth.first?["created_at_ms"]?.intValue != nil)

            let missing = try await client.api(.get, "/v21.0/\(pageID)_1", token: token)
            #expect(missing.status == 400)
            #expect(missing.json["error"]?["code"] == 100 && missing.json["error"]?["error_subcode"] == 33)
            #expect(missing.json["error"]?["fbtrace_id"]?.stringValue != nil)

            let empty = try await client.form(.post, "/v21.0/\(pageID)/feed", [("message", " ")], headers: [("authorization", "Bearer \(token)")])
            #expect(empty.status == 400 && empty.json["error"]?["code"] == 100)
            let long = try await client.api(.post, "/v21.0/\(pageID)/feed", token: token, json: ["message": .string(text(63_207))])
            #expect(long.status == 400 && long.json["error"]?["code"] == 100)
            let other = try await client.api(.post, "/v21.0/42/feed", token: token, json: ["message": "elsewhere"])
            #expect(other.status == 403 && other.json["error"]?["code"] == 200)
        }
    }

    @Test("OAuthException shapes: unknown token 190, expired 190/463, revoked 190/460")
    func tokenErrors() async throws {
        try await withSimulator { client, _ in
            let (token, pageID) = try await page(client, "shop-fb")
            let unknown = try await client.api(.get, "/v21.0/\(pageID)/published_posts", token: "EAAnotatoken")
            #expect(unknown.status == 400)
            #expect(unknown.json["error"]?["type"] == "OAuthException" && unknown.json["error"]?["code"] == 190)
            #expect(unknown.json["error"]?["error_subcode"] == nil)

            try await client.admin(.post, "/_sim/tokens/expire", ["account": "shop-fb"])
            let expired = try await client.api(.get, "/v21.0/\(pageID)/published_posts", token: token)
            #expect(expired.json["error"]?["code"] == 190 && expired.json["error"]?["error_subcode"] == 463)

            let (token2, pageID2) = try await page(client, "other-fb")
            try await client.admin(.post, "/_sim/tokens/revoke", ["account": "other-fb"])
            let revoked = try await client.api(.post, "/v21.0/\(pageID2)/feed", token: token2, json: ["message": "x"])
            #expect(revoked.json["error"]?["code"] == 190 && revoked.json["error"]?["error_subcode"] == 460)
            #expect(try await client.groundTruth("other-fb").isEmpty)
        }
    }

    @Test("published_posts: newest first, since, limit, paging cursors and next until the end")
    func publishedPosts() async throws {
        try await withSimulator { client, _ in
            let (token, pageID) = try await page(client, "shop-fb")
            let base = SteadyClock.wallMillis() - 600_000
            for i in 0..<7 {
                try await client.admin(
                    .post, "/_sim/posts", ["account": "shop-fb", "text": .string("post \(i)"), "created_at_ms": .int(base + Int64(i) * 10_000)])
            }
            var uri = "/v21.0/\(pageID)/published_posts?fields=id,message,created_time&limit=3"
            var seen: [String] = []
            var pages = 0
            while true {
                let reply = try await client.api(.get, uri, token: token)
                #expect(reply.status == 200, "\(reply.body)")
                seen += (reply.json["data"]?.arrayValue ?? []).compactMap { $0["message"]?.stringValue }
                pages += 1
                guard let next = reply.json["paging"]?["next"]?.stringValue, pages < 10 else { break }
                #expect(reply.json["paging"]?["cursors"]?["after"]?.stringValue != nil)
                let path = next.range(of: "/v21.0/").map { String(next[$0.lowerBound...]) } ?? next
                uri = path
            }
            #expect(seen == (0..<7).reversed().map { "post \($0)" })
            #expect(pages == 3)
            let since = (base + 40_000) / 1000
            let recent = try await client.api(.get, "/v21.0/\(pageID)/published_posts?since=\(since)&limit=100", token: token)
            #expect((recent.json["data"]?.arrayValue ?? []).compactMap { $0["message"]?.stringValue } == ["post 6", "post 5", "post 4"])
            #expect(recent.json["paging"]?["next"] == nil)
        }
    }

    @Test("the usage header on every answer, rising with calls")
    func usageHeader() async throws {
        try await withSimulator { client, _ in
            let (token, pageID) = try await page(client, "shop-fb")
            var counts: [Int64] = []
            for _ in 0..<4 {
                let reply = try await client.api(.get, "/v21.0/\(pageID)/published_posts", token: token)
                let usage = JSON.parse(reply.header("x-business-use-case-usage") ?? "") ?? .null
                let entry = usage[Store.facebookBusinessID]?.arrayValue?.first
                #expect(entry?["type"] == "pages" && entry?["estimated_time_to_regain_access"] == 0)
                counts.append(entry?["call_count"]?.intValue ?? -1)
            }
            #expect(counts == [0, 1, 1, 2], "200 calls an hour: half a percent each")
        }
    }

    @Test("a photo published with its caption; unpublished photos attached to a feed post in order")
    func photos() async throws {
        try await withSimulator { client, _ in
            let (token, pageID) = try await page(client, "shop-fb")
            let one = Fixture.png(1_200, seed: 1)
            let published = try await client.multipart(
                "/v21.0/\(pageID)/photos", token: token,
                [Part.field("caption", "one photo"), Part(name: "source", value: one, filename: "a.png", contentType: "image/png")])
            #expect(published.status == 200, "\(published.body)")
            #expect(published.json["id"]?.stringValue != nil && published.json["post_id"]?.stringValue?.hasPrefix(pageID + "_") == true)

            var ids: [String] = []
            var files: [[UInt8]] = []
            for n in 0..<3 {
                let file = Fixture.png(1_000 + n * 10, seed: UInt8(n + 2))
                let reply = try await client.multipart(
                    "/v21.0/\(pageID)/photos", token: token,
                    [Part.field("published", "false"), Part(name: "source", value: file, filename: "p.png", contentType: "image/png")])
                #expect(reply.status == 200 && reply.json["post_id"] == nil, "\(reply.body)")
                ids.append(reply.json["id"]?.stringValue ?? "")
                files.append(file)
            }
            #expect(try await client.groundTruth("shop-fb").count == 1, "unpublished photos are no posts")
            let pairs = [("message", "three photos")] + ids.enumerated().map { ("attached_media[\($0.offset)]", "{\"media_fbid\":\"\($0.element)\"}") }
            let feed = try await client.form(.post, "/v21.0/\(pageID)/feed", pairs, headers: [("authorization", "Bearer \(token)")])
            #expect(feed.status == 200, "\(feed.body)")
            let truth = try await client.groundTruth("shop-fb")
            #expect(truth.map { $0["text"]?.stringValue } == ["one photo", "three photos"])
            #expect(truth.first?["media"]?.arrayValue?.map { $0["sha256"]?.stringValue } == [Fixture.sha256(one)])
            #expect(truth.last?["media"]?.arrayValue?.map { $0["sha256"]?.stringValue } == files.map(Fixture.sha256))

            // A photo already attached, or unknown, is code 100 naming attached_media.
            let again = try await client.form(
                .post, "/v21.0/\(pageID)/feed", [("message", "reuse"), ("attached_media[0]", "{\"media_fbid\":\"\(ids[0])\"}")],
                headers: [("authorization", "Bearer \(token)")])
            #expect(again.status == 400 && again.json["error"]?["code"] == 100)
            #expect(again.json["error"]?["message"]?.stringValue?.contains("attached_media") == true)
            let notImage = try await client.multipart(
                "/v21.0/\(pageID)/photos", token: token, [Part(name: "source", value: Fixture.text(100), filename: "x.txt")])
            #expect(notImage.status == 400 && notImage.json["error"]?["code"] == 324)
        }
    }

    @Test("faults: error-after is a 500 with code 2 and the post live; duplicate-content is 506; rate-limit is 80001 with regain minutes; high-usage")
    func faults() async throws {
        try await withSimulator { client, _ in
            let (token, pageID) = try await page(client, "shop-fb")
            _ = try await client.addFault(["kind": "error-after", "account": "shop-fb", "endpoint": "create", "count": 1])
            let after = try await client.api(.post, "/v21.0/\(pageID)/feed", token: token, json: ["message": "went live"])
            #expect(after.status == 500)
            #expect(after.json["error"]?["code"] == 2 && after.json["error"]?["is_transient"] == true)
            #expect(try await client.groundTruth("shop-fb").map { $0["text"]?.stringValue } == ["went live"])

            _ = try await client.addFault(["kind": "duplicate-content", "account": "shop-fb", "count": 1])
            let duplicate = try await client.api(.post, "/v21.0/\(pageID)/feed", token: token, json: ["message": "went live"])
            #expect(duplicate.status == 400 && duplicate.json["error"]?["code"] == 506)

            _ = try await client.addFault(["kind": "rate-limit", "account": "shop-fb", "count": 1, "retry_after_s": 120])
            let limited = try await client.api(.post, "/v21.0/\(pageID)/feed", token: token, json: ["message": "later"])
            #expect(limited.status == 400 && limited.json["error"]?["code"] == 80001)
            let usage = JSON.parse(limited.header("x-business-use-case-usage") ?? "")?[Store.facebookBusinessID]?.arrayValue?.first
            #expect(usage?["call_count"] == 100 && usage?["estimated_time_to_regain_access"] == 2)

            _ = try await client.addFault(["kind": "high-usage", "account": "shop-fb", "count": 1, "retry_after_s": 300])
            let high = try await client.api(.post, "/v21.0/\(pageID)/feed", token: token, json: ["message": "near the limit"])
            #expect(high.status == 200)
            let near = JSON.parse(high.header("x-business-use-case-usage") ?? "")?[Store.facebookBusinessID]?.arrayValue?.first
            #expect(near?["call_count"] == 96 && near?["estimated_time_to_regain_access"] == 5)
            #expect(try await client.groundTruth("shop-fb").count == 2)
        }
    }
}
