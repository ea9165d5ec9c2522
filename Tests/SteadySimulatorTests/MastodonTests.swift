import Foundation
import HummingbirdTesting
import Testing

@testable import SteadySimulator

/// The path and query of the `rel="next"` link of a `Link` header.
func nextLink(_ header: String?) -> String? {
    guard let header else { return nil }
    for part in header.components(separatedBy: ", ") where part.hasSuffix("rel=\"next\"") {
        guard let start = part.firstIndex(of: "<"), let end = part.firstIndex(of: ">") else { continue }
        let url = String(part[part.index(after: start)..<end])
        guard let schemeEnd = url.range(of: "://") else { return url }
        let rest = url[schemeEnd.upperBound...]
        return rest.firstIndex(of: "/").map { String(rest[$0...]) }
    }
    return nil
}

@Suite("Mastodon", .timeLimit(.minutes(1)))
struct MastodonTests {
    @Test("verify_credentials, create by form and JSON, read, missing status")
    func createAndRead() async throws {
        try await withSimulator { client, _ in
            let credentials = try await client.account(.mastodon, "news-m")
            let token = credentials["access_token"]?.stringValue ?? ""
            #expect(credentials["web_password"]?.stringValue != nil)

            let me = try await client.api(.get, "/api/v1/accounts/verify_credentials", token: token)
            #expect(me.status == 200)
            #expect(me.json["username"] == "news-m")
            #expect(me.json["source"]?["privacy"] == "public")

            let byForm = try await client.form(
                .post, "/api/v1/statuses", [("status", "Hello <world> & https://example.com/page"), ("visibility", "unlisted")],
                headers: [("authorization", "Bearer \(token)")])
            #expect(byForm.status == 200)
            let id = byForm.json["id"]?.stringValue ?? ""
            #expect(!id.isEmpty && id.allSatisfy(\.isNumber))
            #expect(byForm.json["visibility"] == "unlisted")
            let content = byForm.json["content"]?.stringValue ?? ""
            #expect(content.hasPrefix("<p>Hello &lt;world&gt; &amp; <a href=\"https://example.com/page\""))
            #expect(byForm.json["account"]?["id"] == me.json["id"])

            let byJSON = try await client.api(.post, "/api/v1/statuses", token: token, json: ["status": "second", "in_reply_to_id": .string(id)])
            #expect(byJSON.status == 200)
            #expect(byJSON.json["in_reply_to_id"] == .string(id))
            #expect(UInt64(byJSON.json["id"]?.stringValue ?? "0")! > UInt64(id)!)

            let read = try await client.api(.get, "/api/v1/statuses/\(id)", token: token)
            #expect(read.status == 200)
            #expect(read.json["id"] == .string(id))
            #expect(read.header("x-ratelimit-limit") == "300")
            #expect(read.header("x-ratelimit-reset")?.hasSuffix("000Z") == true)

            let missing = try await client.api(.get, "/api/v1/statuses/42", token: token)
            #expect(missing.status == 404)
            #expect(missing.json == ["error": "Record not found"])

            let instance = try await client.api(.get, "/api/v2/instance", token: nil)
            #expect(instance.json["configuration"]?["statuses"]?["max_characters"] == 500)
            #expect(instance.json["configuration"]?["statuses"]?["characters_reserved_per_url"] == 23)

            try await client.admin(.post, "/_sim/tokens/revoke", ["account": "news-m"])
            let revoked = try await client.api(.get, "/api/v1/accounts/verify_credentials", token: token)
            #expect(revoked.status == 401)
            #expect(revoked.json == ["error": "The access token is invalid"])
        }
    }

    @Test("Idempotency-Key: same status within the hour, a new one after it, none kept after a failure")
    func idempotency() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.mastodon, "news-m")["access_token"]?.stringValue
            let key = [("idempotency-key", "attempt-1")]
            let first = try await client.api(.post, "/api/v1/statuses", token: token, json: ["status": "once"], headers: key)
            #expect(first.status == 200)
            let replay = try await client.api(.post, "/api/v1/statuses", token: token, json: ["status": "once"], headers: key)
            #expect(replay.status == 200)
            #expect(replay.json["id"] == first.json["id"])
            #expect(try await client.groundTruth("news-m").count == 1)
            #expect(try await client.groundTruth("news-m").first?["idempotency_key"] == "attempt-1")

            // A minute's margin each side: the wall clock keeps running under a loaded machine.
            try await client.advanceClock(ms: 3_540_000)
            let stillSame = try await client.api(.post, "/api/v1/statuses", token: token, json: ["status": "once"], headers: key)
            #expect(stillSame.json["id"] == first.json["id"])
            try await client.advanceClock(ms: 60_000)
            let afterHour = try await client.api(.post, "/api/v1/statuses", token: token, json: ["status": "once"], headers: key)
            #expect(afterHour.status == 200)
            #expect(afterHour.json["id"] != first.json["id"])
            #expect(try await client.groundTruth("news-m").count == 2)

            let other = [("idempotency-key", "attempt-2")]
            let failed = try await client.api(
                .post, "/api/v1/statuses", token: token, json: ["status": .string(text(501))], headers: other)
            #expect(failed.status == 422)
            #expect(failed.json == ["error": "Validation failed: Text character limit of 500 exceeded"])
            let retried = try await client.api(.post, "/api/v1/statuses", token: token, json: ["status": "fixed"], headers: other)
            #expect(retried.status == 200)
            #expect(retried.json["content"] == "<p>fixed</p>", "the failed create stored no key")
            #expect(try await client.groundTruth("news-m").count == 3)

            let otherAccount = try await client.account(.mastodon, "other-m")["access_token"]?.stringValue
            let perAccount = try await client.api(
                .post, "/api/v1/statuses", token: otherAccount, json: ["status": "once"], headers: key)
            #expect(perAccount.json["id"] != first.json["id"], "keys are per account")
        }
    }

    @Test(
        "500 graphemes, URLs count 23",
        arguments: [
            (String(repeating: "a", count: 500), 200),
            (String(repeating: "a", count: 501), 422),
            (String(repeating: "👍🏽", count: 500), 200),
            (String(repeating: "👍🏽", count: 501), 422),
            (String(repeating: "a", count: 476) + " https://example.com/" + String(repeating: "p", count: 80), 200),
            (String(repeating: "a", count: 477) + " https://example.com/" + String(repeating: "p", count: 80), 422),
            ("   ", 422),
        ])
    func lengthLimit(text: String, status: Int) async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.mastodon, "news-m")["access_token"]?.stringValue
            let reply = try await client.api(.post, "/api/v1/statuses", token: token, json: ["status": .string(text)])
            #expect(reply.status == status, "\(reply.body)")
        }
    }

    @Test("timeline pages by Link to the end; exclude_replies")
    func timelinePaging() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.mastodon, "news-m")["access_token"]?.stringValue
            let accountID = try await client.api(.get, "/api/v1/accounts/verify_credentials", token: token).json["id"]?.stringValue ?? ""
            var created: [String] = []
            for n in 0..<45 {
                let reply = try await client.api(.post, "/api/v1/statuses", token: token, json: ["status": .string("status \(n)")])
                created.append(reply.json["id"]?.stringValue ?? "")
            }
            var uri: String? = "/api/v1/accounts/\(accountID)/statuses"
            var seen: [String] = []
            var sizes: [Int] = []
            while let next = uri, sizes.count < 10 {
                let page = try await client.api(.get, next, token: token)
                #expect(page.status == 200)
                let items = page.json.arrayValue ?? []
                sizes.append(items.count)
                seen += items.compactMap { $0["id"]?.stringValue }
                uri = nextLink(page.header("link"))
            }
            #expect(sizes == [20, 20, 5])
            #expect(seen == created.reversed())

            let big = try await client.api(.get, "/api/v1/accounts/\(accountID)/statuses?limit=100", token: token)
            #expect(big.json.arrayValue?.count == 40, "limit is capped at 40")

            let minID = try await client.api(.get, "/api/v1/accounts/\(accountID)/statuses?min_id=\(created[40])&limit=2", token: token)
            #expect(minID.json.arrayValue?.compactMap { $0["id"]?.stringValue } == [created[42], created[41]])

            _ = try await client.api(
                .post, "/api/v1/statuses", token: token, json: ["status": "a reply", "in_reply_to_id": .string(created[0])])
            let noReplies = try await client.api(
                .get, "/api/v1/accounts/\(accountID)/statuses?exclude_replies=true&limit=1", token: token)
            #expect(noReplies.json.arrayValue?.first?["id"] == .string(created[44]))

            let unknown = try await client.api(.get, "/api/v1/accounts/1/statuses", token: token)
            #expect(unknown.status == 404)
        }
    }

    @Test("notifications carry mentions, page by Link; counts show in the status")
    func notificationsAndMetrics() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.mastodon, "news-m")["access_token"]?.stringValue
            let status = try await client.api(.post, "/api/v1/statuses", token: token, json: ["status": "talk to me"])
            let statusID = status.json["id"] ?? .null
            var notificationIDs: [String] = []
            for n in 0..<3 {
                let mention = try await client.admin(
                    .post, "/_sim/mentions",
                    ["account": "news-m", "from": "alice@other.example", "text": .string("reply \(n)"), "in_reply_to": statusID])
                notificationIDs.append(mention["id"]?.stringValue ?? "")
                #expect(mention["status_id"]?.stringValue != nil)
            }
            let first = try await client.api(.get, "/api/v1/notifications?types[]=mention&limit=2", token: token)
            #expect(first.status == 200)
            let items = first.json.arrayValue ?? []
            #expect(items.compactMap { $0["id"]?.stringValue } == [notificationIDs[2], notificationIDs[1]])
            #expect(items.first?["type"] == "mention")
            #expect(items.first?["account"]?["acct"] == "alice@other.example")
            #expect(items.first?["status"]?["in_reply_to_id"] == statusID)
            #expect(items.first?["status"]?["content"]?.stringValue?.contains("reply 2") == true)
            let next = nextLink(first.header("link"))
            #expect(next != nil)
            let second = try await client.api(.get, next ?? "", token: token)
            #expect(second.json.arrayValue?.compactMap { $0["id"]?.stringValue } == [notificationIDs[0]])
            #expect(nextLink(second.header("link")) == nil)

            let mentionStatus = items.first?["status"]?["id"]?.stringValue ?? ""
            #expect(try await client.api(.get, "/api/v1/statuses/\(mentionStatus)", token: token).status == 200)

            let favourites = try await client.api(.get, "/api/v1/notifications?types[]=favourite", token: token)
            #expect(favourites.json == [])

            try await client.admin(.post, "/_sim/metrics", ["account": "news-m", "id": statusID, "likes": 5, "reposts": 1, "replies": 3])
            let read = try await client.api(.get, "/api/v1/statuses/\(statusID.stringValue ?? "")", token: token)
            #expect(read.json["favourites_count"] == 5)
            #expect(read.json["reblogs_count"] == 1)
            #expect(read.json["replies_count"] == 3)
        }
    }
}
