import Foundation
import HummingbirdTesting
import Testing

@testable import SteadySimulator

@Suite("X API v2", .timeLimit(.minutes(1)))
struct XTests {
    @Test("create, read with fields, identity, missing tweet")
    func createReadIdentity() async throws {
        try await withSimulator { client, _ in
            let credentials = try await client.account(.x, "news-x")
            let token = credentials["access_token"]?.stringValue
            #expect(credentials["refresh_token"]?.stringValue != nil)
            #expect(credentials["client_id"]?.stringValue != nil)

            let me = try await client.api(.get, "/2/users/me", token: token)
            #expect(me.status == 200)
            #expect(me.json["data"]?["username"] == "news_x")
            let userID = me.json["data"]?["id"]?.stringValue ?? ""
            #expect(!userID.isEmpty)

            let created = try await client.api(.post, "/2/tweets", token: token, json: ["text": "hello world"])
            #expect(created.status == 201)
            let id = created.json["data"]?["id"]?.stringValue ?? ""
            #expect(id.allSatisfy(\.isNumber) && !id.isEmpty)
            #expect(created.json["data"]?["text"] == "hello world")
            #expect(created.json["data"]?["edit_history_tweet_ids"] == [.string(id)])

            let second = try await client.api(.post, "/2/tweets", token: token, json: ["text": "again"])
            let secondID = second.json["data"]?["id"]?.stringValue ?? ""
            #expect(UInt64(secondID)! > UInt64(id)!, "ids increase")

            let plain = try await client.api(.get, "/2/tweets/\(id)", token: token)
            #expect(plain.status == 200)
            #expect(plain.json["data"]?["public_metrics"] == nil, "fields only when asked")

            let read = try await client.api(.get, "/2/tweets/\(id)?tweet.fields=public_metrics,created_at,author_id", token: token)
            #expect(read.json["data"]?["author_id"] == .string(userID))
            #expect(read.json["data"]?["created_at"]?.stringValue?.hasSuffix("Z") == true)
            #expect(read.json["data"]?["public_metrics"]?["retweet_count"] == 0)
            #expect(read.json["data"]?["public_metrics"]?["impression_count"] == 0)

            let newer = try await client.api(.get, "/2/tweets/\(id)?post.fields=public_metrics", token: token)
            #expect(newer.json["data"]?["public_metrics"]?["repost_count"] == 0, "the mid-2026 spelling")

            let missing = try await client.api(.get, "/2/tweets/1234567", token: token)
            #expect(missing.status == 200)
            let error = missing.json["errors"]?.arrayValue?.first
            #expect(error?["title"] == "Not Found Error")
            #expect(error?["type"] == "https://api.twitter.com/2/problems/resource-not-found")
            #expect(missing.json["data"] == nil)

            let noToken = try await client.api(.get, "/2/users/me", token: nil)
            #expect(noToken.status == 401)
            #expect(noToken.json["title"] == "Unauthorized")
            #expect(noToken.header("x-rate-limit-limit") != nil)
        }
    }

    @Test("timeline pages with max_results and pagination_token to the end")
    func timelinePaging() async throws {
        try await withSimulator { client, _ in
            let (credentials, userID) = try await client.accountWithID(.x, "news-x")
            let token = credentials["access_token"]?.stringValue
            var created: [String] = []
            for n in 0..<12 {
                let reply = try await client.api(.post, "/2/tweets", token: token, json: ["text": .string("post \(n)")])
                created.append(reply.json["data"]?["id"]?.stringValue ?? "")
            }
            var seen: [String] = []
            var pageToken: String?
            var pages = 0
            repeat {
                var uri = "/2/users/\(userID)/tweets?max_results=5&tweet.fields=created_at"
                if let pageToken { uri += "&pagination_token=\(pageToken)" }
                let page = try await client.api(.get, uri, token: token)
                #expect(page.status == 200)
                let items = page.json["data"]?.arrayValue ?? []
                let meta = page.json["meta"]
                #expect(meta?["result_count"]?.intValue == Int64(items.count))
                #expect(meta?["newest_id"] == items.first?["id"])
                #expect(meta?["oldest_id"] == items.last?["id"])
                seen += items.compactMap { $0["id"]?.stringValue }
                pageToken = meta?["next_token"]?.stringValue
                pages += 1
            } while pageToken != nil && pages < 10
            #expect(pages == 3)
            #expect(seen == created.reversed(), "newest first, every post once")

            let tooSmall = try await client.api(.get, "/2/users/\(userID)/tweets?max_results=4", token: token)
            #expect(tooSmall.status == 400)
            #expect(tooSmall.json["title"] == "Invalid Request")

            let since = try await client.api(.get, "/2/users/\(userID)/tweets?since_id=\(created[9])", token: token)
            #expect(since.json["data"]?.arrayValue?.compactMap { $0["id"]?.stringValue } == [created[11], created[10]])

            let (other, otherID) = try await client.accountWithID(.x, "empty-x")
            let empty = try await client.api(.get, "/2/users/\(otherID)/tweets", token: other["access_token"]?.stringValue)
            #expect(empty.json == ["meta": ["result_count": 0]])
        }
    }

    @Test("mentions page to the end and expand authors; metrics show up in public_metrics")
    func mentionsAndMetrics() async throws {
        try await withSimulator { client, _ in
            let (credentials, userID) = try await client.accountWithID(.x, "news-x")
            let token = credentials["access_token"]?.stringValue
            let post = try await client.api(.post, "/2/tweets", token: token, json: ["text": "original"])
            let postID = post.json["data"]?["id"]?.stringValue ?? ""
            for n in 0..<7 {
                let mention = try await client.admin(
                    .post, "/_sim/mentions",
                    ["account": "news-x", "from": "reader\(n % 2)", "text": .string("nice \(n)"), "in_reply_to": .string(postID)])
                #expect(mention["id"]?.stringValue?.allSatisfy(\.isNumber) == true)
            }
            let first = try await client.api(
                .get, "/2/users/\(userID)/mentions?max_results=5&expansions=author_id&tweet.fields=author_id,referenced_tweets",
                token: token)
            #expect(first.json["data"]?.arrayValue?.count == 5)
            #expect(first.json["data"]?.arrayValue?.first?["text"]?.stringValue?.hasPrefix("@news_x ") == true)
            #expect(first.json["data"]?.arrayValue?.first?["referenced_tweets"] == [["type": "replied_to", "id": .string(postID)]])
            #expect(first.json["includes"]?["users"]?.arrayValue?.count == 2)
            let next = first.json["meta"]?["next_token"]?.stringValue ?? ""
            let second = try await client.api(.get, "/2/users/\(userID)/mentions?max_results=5&pagination_token=\(next)", token: token)
            #expect(second.json["data"]?.arrayValue?.count == 2)
            #expect(second.json["meta"]?["next_token"] == nil)

            try await client.admin(.post, "/_sim/metrics", ["account": "news-x", "id": .string(postID), "likes": 3, "reposts": 2, "impressions": 40])
            let read = try await client.api(.get, "/2/tweets/\(postID)?tweet.fields=public_metrics", token: token)
            #expect(read.json["data"]?["public_metrics"]?["like_count"] == 3)
            #expect(read.json["data"]?["public_metrics"]?["retweet_count"] == 2)
            #expect(read.json["data"]?["public_metrics"]?["impression_count"] == 40)

            let lookup = try await client.api(.get, "/2/tweets?ids=\(postID),999&tweet.fields=public_metrics", token: token)
            #expect(lookup.json["data"]?.arrayValue?.count == 1)
            #expect(lookup.json["errors"]?.arrayValue?.count == 1)
        }
    }

    @Test("refresh tokens rotate and are single-use; access tokens live two hours")
    func refreshRotation() async throws {
        try await withSimulator { client, _ in
            let credentials = try await client.account(.x, "news-x")
            let access = credentials["access_token"]?.stringValue
            let refresh = credentials["refresh_token"]?.stringValue ?? ""
            let clientID = credentials["client_id"]?.stringValue ?? ""

            // A minute's margin each side: the wall clock keeps running under a loaded machine.
            try await client.advanceClock(ms: 2 * 3_600_000 - 60_000)
            #expect(try await client.api(.get, "/2/users/me", token: access).status == 200)
            try await client.advanceClock(ms: 60_000)
            let expired = try await client.api(.get, "/2/users/me", token: access)
            #expect(expired.status == 401)
            #expect(expired.json["title"] == "Unauthorized")

            let grant = [("grant_type", "refresh_token"), ("refresh_token", refresh), ("client_id", clientID)]
            let rotated = try await client.form(.post, "/2/oauth2/token", grant)
            #expect(rotated.status == 200)
            #expect(rotated.json["token_type"] == "bearer")
            #expect(rotated.json["expires_in"] == 7200)
            #expect(rotated.json["scope"]?.stringValue?.contains("offline.access") == true)
            let newAccess = rotated.json["access_token"]?.stringValue
            let newRefresh = rotated.json["refresh_token"]?.stringValue ?? ""
            #expect(newRefresh != refresh)
            #expect(try await client.api(.get, "/2/users/me", token: newAccess).status == 200)

            let reused = try await client.form(.post, "/2/oauth2/token", grant)
            #expect(reused.status == 400)
            #expect(reused.json == ["error": "invalid_request", "error_description": "Value passed for the token was invalid."])

            let wrongClient = try await client.form(
                .post, "/2/oauth2/token", [("grant_type", "refresh_token"), ("refresh_token", newRefresh), ("client_id", "other")])
            #expect(wrongClient.status == 400)
            let again = try await client.form(
                .post, "/2/oauth2/token", [("grant_type", "refresh_token"), ("refresh_token", newRefresh), ("client_id", clientID)])
            #expect(again.status == 200, "a refused attempt does not use the token up")

            try await client.admin(.post, "/_sim/tokens/expire", ["account": "news-x"])
            #expect(try await client.api(.get, "/2/users/me", token: again.json["access_token"]?.stringValue).status == 401)

            try await client.admin(.post, "/_sim/tokens/revoke", ["account": "news-x"])
            let revoked = try await client.form(
                .post, "/2/oauth2/token",
                [("grant_type", "refresh_token"), ("refresh_token", again.json["refresh_token"]?.stringValue ?? ""), ("client_id", clientID)])
            #expect(revoked.status == 400)
        }
    }

    @Test("same text within 24 hours is refused as duplicate content")
    func duplicateContent() async throws {
        try await withSimulator { client, _ in
            let credentials = try await client.account(.x, "news-x")
            let token = credentials["access_token"]?.stringValue
            #expect(try await client.api(.post, "/2/tweets", token: token, json: ["text": "same words"]).status == 201)
            let duplicate = try await client.api(.post, "/2/tweets", token: token, json: ["text": "same words"])
            #expect(duplicate.status == 403)
            #expect(
                duplicate.json == [
                    "detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank",
                    "title": "Forbidden", "status": 403,
                ])
            #expect(try await client.groundTruth().count == 1)
            let other = try await client.account(.x, "other-x")["access_token"]?.stringValue
            #expect(
                try await client.api(.post, "/2/tweets", token: other, json: ["text": "same words"]).status == 201,
                "per account")

            try await client.advanceClock(ms: 86_400_000 + 1)
            let rotated = try await client.form(
                .post, "/2/oauth2/token",
                [
                    ("grant_type", "refresh_token"), ("refresh_token", credentials["refresh_token"]?.stringValue ?? ""),
                    ("client_id", credentials["client_id"]?.stringValue ?? ""),
                ])
            let fresh = rotated.json["access_token"]?.stringValue
            #expect(
                try await client.api(.post, "/2/tweets", token: fresh, json: ["text": "same words"]).status == 201,
                "allowed again after 24 hours")
        }
    }

    @Test(
        "280 weighted characters at the boundary",
        arguments: [
            (String(repeating: "a", count: 280), 201),
            (String(repeating: "a", count: 281), 403),
            (String(repeating: "😀", count: 140), 201),
            (String(repeating: "😀", count: 141), 403),
            (String(repeating: "日", count: 140), 201),
            (String(repeating: "日", count: 141), 403),
            (String(repeating: "a", count: 256) + " https://example.com/a/very/long/path/that/counts/as/twenty-three", 201),
            (String(repeating: "a", count: 257) + " https://example.com/a/very/long/path/that/counts/as/twenty-three", 403),
            (String(repeating: "e\u{301}", count: 280), 201),
            (String(repeating: "\u{2014}", count: 280), 201),
        ])
    func lengthLimit(text: String, status: Int) async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.x, "news-x")["access_token"]?.stringValue
            let reply = try await client.api(.post, "/2/tweets", token: token, json: ["text": .string(text)])
            #expect(reply.status == status, "\(reply.body)")
        }
    }

    @Test("a reply names an existing tweet")
    func replies() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.x, "news-x")["access_token"]?.stringValue
            let parent = try await client.api(.post, "/2/tweets", token: token, json: ["text": "thread 1"])
            let parentID = parent.json["data"]?["id"] ?? .null
            let reply = try await client.api(
                .post, "/2/tweets", token: token, json: ["text": "thread 2", "reply": ["in_reply_to_tweet_id": parentID]])
            #expect(reply.status == 201)
            #expect(try await client.groundTruth().last?["in_reply_to"] == parentID)
            let orphan = try await client.api(
                .post, "/2/tweets", token: token, json: ["text": "thread 3", "reply": ["in_reply_to_tweet_id": "42"]])
            #expect(orphan.status == 403)
        }
    }
}
