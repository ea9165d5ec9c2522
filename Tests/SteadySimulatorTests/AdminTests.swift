import Foundation
import HummingbirdTesting
import SteadyCore
import Testing

@testable import SteadySimulator

@Suite("Admin API", .timeLimit(.minutes(1)))
struct AdminTests {
    @Test("health, accounts with credentials in the INTERFACE.md format, list without secrets")
    func accounts() async throws {
        try await withSimulator { client, _ in
            #expect(try await client.admin(.get, "/_sim/health") == ["ok": true])

            let x = try await client.admin(.post, "/_sim/accounts", ["platform": "x", "name": "news-x"])
            #expect(x["name"] == "news-x")
            #expect(x["platform"] == "x")
            #expect(x["handle"] == "news_x")
            #expect(Set(Self.keys(x["credentials"])) == ["access_token", "refresh_token", "client_id", "web_password"])
            let m = try await client.admin(.post, "/_sim/accounts", ["platform": "mastodon", "name": "news-m"])
            #expect(Set(Self.keys(m["credentials"])) == ["access_token", "web_password"])
            let b = try await client.admin(.post, "/_sim/accounts", ["platform": "bluesky", "name": "news-b"])
            #expect(Set(Self.keys(b["credentials"])) == ["identifier", "password", "web_password"])
            #expect(b["user_id"]?.stringValue?.hasPrefix("did:plc:") == true)

            let duplicate = try await client.call(.post, "/_sim/accounts", body: #"{"platform":"x","name":"news-x"}"#)
            #expect(duplicate.status == 409)
            let badName = try await client.call(.post, "/_sim/accounts", body: #"{"platform":"x","name":"News X"}"#)
            #expect(badName.status == 400)
            let badPlatform = try await client.call(.post, "/_sim/accounts", body: #"{"platform":"myspace","name":"a"}"#)
            #expect(badPlatform.status == 400)

            let list = try await client.call(.get, "/_sim/accounts")
            #expect(list.json["accounts"]?.arrayValue?.compactMap { $0["name"]?.stringValue } == ["news-x", "news-m", "news-b"])
            for secret in [x["credentials"]?["access_token"], m["credentials"]?["access_token"], b["credentials"]?["password"]] {
                #expect(!list.body.contains(secret?.stringValue ?? "-"), "no secret in the list")
            }
            let again = try await client.admin(.get, "/_sim/accounts/news-x/credentials")
            #expect(again["credentials"] == x["credentials"])
        }
    }

    @Test("ground truth, injected posts (orphans and duplicates), mentions, metrics, clock")
    func groundTruthAndInjection() async throws {
        try await withSimulator { client, _ in
            let (credentials, userID) = try await client.accountWithID(.x, "news-x")
            let token = credentials["access_token"]?.stringValue
            let past = SteadyClock.wallMillis() - 60_000
            let injected = try await client.admin(
                .post, "/_sim/posts", ["account": "news-x", "text": "orphan from a lost attempt", "created_at_ms": .int(past)])
            #expect(injected["via"] == "injected")
            #expect(injected["created_at_ms"] == .int(past))
            let timeline = try await client.api(.get, "/2/users/\(userID)/tweets", token: token)
            #expect(timeline.json["data"]?.arrayValue?.first?["id"] == injected["id"])
            let duplicate = try await client.api(.post, "/2/tweets", token: token, json: ["text": "orphan from a lost attempt"])
            #expect(duplicate.status == 403, "an injected post counts for duplicate content")

            _ = try await client.account(.bluesky, "news-b")
            let rkey = makeTID()
            let bsky = try await client.admin(.post, "/_sim/posts", ["account": "news-b", "text": "orphan", "rkey": .string(rkey)])
            #expect(bsky["rkey"] == .string(rkey))
            #expect(bsky["uri"]?.stringValue?.hasSuffix("/app.bsky.feed.post/\(rkey)") == true)
            #expect(bsky["id"] == bsky["uri"])

            let truth = try await client.groundTruth()
            #expect(truth.count == 2)
            let first = truth.first
            for key in ["id", "account", "platform", "text", "created_at_ms", "in_reply_to", "reply_root", "idempotency_key", "rkey", "uri", "via", "deleted"] {
                #expect(first?[key] != nil, "ground truth has \(key)")
            }
            #expect(try await client.groundTruth("news-b").count == 1)

            let noPost = try await client.call(.post, "/_sim/metrics", body: #"{"account":"news-x","id":"1"}"#)
            #expect(noPost.status == 404)
            let noAccount = try await client.call(.post, "/_sim/mentions", body: #"{"account":"nobody","from":"a","text":"b"}"#)
            #expect(noAccount.status == 404)
            let metrics = try await client.admin(.post, "/_sim/metrics", ["account": "news-b", "id": .string(rkey), "likes": 2])
            #expect(metrics["likes"] == 2)

            let before = try await client.admin(.get, "/_sim/clock")["now_ms"]?.intValue ?? 0
            let after = try await client.admin(.post, "/_sim/clock", ["advance_ms": 3_600_000])["now_ms"]?.intValue ?? 0
            #expect(after - before >= 3_600_000)
            #expect(try await client.call(.post, "/_sim/clock", body: #"{"advance_ms":-5}"#).status == 400)
        }
    }

    @Test("fault rules: add, list with counts, delete one and all; bad rules refused")
    func faultRules() async throws {
        try await withSimulator { client, _ in
            let first = try await client.addFault(["kind": "delay", "delay_ms": 0, "endpoint": "me"])
            let second = try await client.addFault(["kind": "error-before", "platform": "x", "account": "news-x", "count": 2])
            #expect(second == first + 1)
            let listed = try await client.admin(.get, "/_sim/faults")["faults"]?.arrayValue ?? []
            #expect(listed.count == 2)
            #expect(listed.last?["kind"] == "error-before")
            #expect(listed.last?["fired"] == 0)
            #expect(listed.last?["remaining"] == 2)
            #expect(listed.first?["endpoint"] == "me")
            #expect(try await client.admin(.delete, "/_sim/faults/\(first)") == ["removed": 1])
            #expect(try await client.call(.delete, "/_sim/faults/\(first)").status == 404)
            #expect(try await client.admin(.delete, "/_sim/faults") == ["removed": 1])

            for bad in [
                #"{"kind":"explode"}"#, #"{"kind":"delay","endpoint":"everything"}"#, #"{"kind":"delay","probability":1.5}"#,
                #"{"kind":"delay","count":0}"#, #"{"kind":"error-before","status":200}"#, #"{"endpoint":"create"}"#, "[]",
            ] {
                #expect(try await client.call(.post, "/_sim/faults", body: bad).status == 400, "\(bad)")
            }
        }
    }

    @Test("the request log: method, path, account, status, fault, idempotency_key, rkey; newest last")
    func requestLog() async throws {
        try await withSimulator { client, _ in
            let mastodon = try await client.account(.mastodon, "news-m")["access_token"]?.stringValue
            _ = try await client.api(
                .post, "/api/v1/statuses", token: mastodon, json: ["status": "logged"], headers: [("idempotency-key", "k-1")])
            let (access, _, did) = try await client.blueskySession(try await client.account(.bluesky, "news-b"))
            let rkey = makeTID()
            _ = try await client.api(.post, "/xrpc/com.atproto.repo.createRecord", token: access, json: createRecord(did, "logged", rkey: rkey))
            _ = try await client.addFault(["kind": "error-before", "endpoint": "read", "count": 1])
            _ = try await client.api(.get, "/api/v1/statuses/1", token: mastodon)

            let log = try await client.admin(.get, "/_sim/requests")["requests"]?.arrayValue ?? []
            #expect(log.count == 4, "admin calls are not logged")
            #expect(log[0]["method"] == "POST")
            #expect(log[0]["path"] == "/api/v1/statuses")
            #expect(log[0]["account"] == "news-m")
            #expect(log[0]["status"] == 200)
            #expect(log[0]["idempotency_key"] == "k-1")
            #expect(log[2]["rkey"] == .string(rkey))
            #expect(log[2]["account"] == "news-b")
            #expect(log[3]["fault"] == "error-before")
            #expect(log[3]["status"] == 503)
            let last = try await client.admin(.get, "/_sim/requests?limit=1")["requests"]?.arrayValue ?? []
            #expect(last.count == 1)
            #expect(last.first?["seq"] == log.last?["seq"])
        }
    }

    static func keys(_ json: JSON?) -> [String] {
        guard case .object(let members)? = json else { return [] }
        return members.map(\.key)
    }
}
