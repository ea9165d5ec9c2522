import Foundation
import HummingbirdTesting
import Testing

@testable import SteadySimulator

func createRecord(_ did: String, _ text: String, rkey: String? = nil) -> JSON {
    var body: JSON = [
        "repo": .string(did),
        "collection": "app.bsky.feed.post",
        "record": ["$type": "app.bsky.feed.post", "text": .string(text), "createdAt": "2026-01-01T00:00:00.000Z"],
    ]
    if let rkey { body = body.setting("rkey", .string(rkey)) }
    return body
}

@Suite("Bluesky", .timeLimit(.minutes(1)))
struct BlueskyTests {
    @Test("session, createRecord, getRecord, listRecords to the end, getPosts with counts")
    func createAndRead() async throws {
        try await withSimulator { client, _ in
            let credentials = try await client.account(.bluesky, "news-b")
            #expect(credentials["identifier"] == "news-b.bsky.social")
            let (access, refresh, did) = try await client.blueskySession(credentials)
            #expect(did.hasPrefix("did:plc:"))
            #expect(access.split(separator: ".").count == 3)
            #expect(refresh != access)

            let wrong = try await client.api(
                .post, "/xrpc/com.atproto.server.createSession", token: nil,
                json: ["identifier": "news-b.bsky.social", "password": "nope"])
            #expect(wrong.status == 401)
            #expect(wrong.json["error"] == "AuthenticationRequired")

            let session = try await client.api(.get, "/xrpc/com.atproto.server.getSession", token: access)
            #expect(session.json["did"] == .string(did))

            var rkeys: [String] = []
            for n in 0..<7 {
                let rkey = makeTID(offsetMicros: Int64(n))
                let created = try await client.api(
                    .post, "/xrpc/com.atproto.repo.createRecord", token: access,
                    json: createRecord(did, "post \(n)", rkey: rkey))
                #expect(created.status == 200, "\(created.body)")
                #expect(created.json["uri"] == .string("at://\(did)/app.bsky.feed.post/\(rkey)"))
                #expect(created.json["cid"]?.stringValue?.hasPrefix("bafyrei") == true)
                #expect(created.json["commit"]?["rev"]?.stringValue.map(Identifiers.isTID) == true)
                #expect(created.header("ratelimit-policy") == "5000;w=3600")
                #expect(created.header("ratelimit-remaining") == String(5000 - 3 * (n + 1)))
                rkeys.append(rkey)
            }

            let record = try await client.api(
                .get, "/xrpc/com.atproto.repo.getRecord?repo=\(did)&collection=app.bsky.feed.post&rkey=\(rkeys[0])", token: nil)
            #expect(record.status == 200)
            #expect(record.json["value"]?["text"] == "post 0")
            #expect(record.json["value"]?["$type"] == "app.bsky.feed.post")

            let missing = try await client.api(
                .get, "/xrpc/com.atproto.repo.getRecord?repo=\(did)&collection=app.bsky.feed.post&rkey=\(makeTID(offsetMicros: 99))",
                token: access)
            #expect(missing.status == 400)
            #expect(missing.json["error"] == "RecordNotFound")

            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                var uri = "/xrpc/com.atproto.repo.listRecords?repo=news-b.bsky.social&collection=app.bsky.feed.post&limit=3"
                if let cursor { uri += "&cursor=\(cursor)" }
                let page = try await client.api(.get, uri, token: access)
                #expect(page.status == 200)
                seen += (page.json["records"]?.arrayValue ?? []).compactMap { $0["uri"]?.stringValue?.split(separator: "/").last.map(String.init) }
                cursor = page.json["cursor"]?.stringValue
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 3)
            #expect(seen == rkeys.reversed(), "newest first, cursor absent at the end")

            let badLimit = try await client.api(
                .get, "/xrpc/com.atproto.repo.listRecords?repo=\(did)&collection=app.bsky.feed.post&limit=101", token: nil)
            #expect(badLimit.status == 400)

            let uri = "at://\(did)/app.bsky.feed.post/\(rkeys[1])"
            try await client.admin(.post, "/_sim/metrics", ["account": "news-b", "id": .string(uri), "likes": 4, "quotes": 1])
            let posts = try await client.api(
                .get, "/xrpc/app.bsky.feed.getPosts?uris=\(uri)&uris=at://\(did)/app.bsky.feed.post/\(makeTID(offsetMicros: 50))",
                token: access)
            #expect(posts.json["posts"]?.arrayValue?.count == 1, "a missing post is just absent")
            #expect(posts.json["posts"]?.arrayValue?.first?["likeCount"] == 4)
            #expect(posts.json["posts"]?.arrayValue?.first?["quoteCount"] == 1)
            #expect(posts.json["posts"]?.arrayValue?.first?["author"]?["handle"] == "news-b.bsky.social")

            let tooMany = (0..<26).map { "uris=at://\(did)/app.bsky.feed.post/\(makeTID(offsetMicros: Int64($0)))" }.joined(separator: "&")
            #expect(try await client.api(.get, "/xrpc/app.bsky.feed.getPosts?\(tooMany)", token: access).status == 400)

            let noRkey = try await client.api(.post, "/xrpc/com.atproto.repo.createRecord", token: access, json: createRecord(did, "server tid"))
            #expect(noRkey.status == 200)
            let generated = noRkey.json["uri"]?.stringValue?.split(separator: "/").last.map(String.init) ?? ""
            #expect(Identifiers.isTID(generated))
        }
    }

    @Test("refreshSession: a new pair, the old refresh token valid for 2 hours then not; access expires after 120 minutes")
    func sessions() async throws {
        try await withSimulator { client, _ in
            let credentials = try await client.account(.bluesky, "news-b")
            let (access, refresh, did) = try await client.blueskySession(credentials)

            let asAccess = try await client.api(.post, "/xrpc/com.atproto.server.refreshSession", token: access)
            #expect(asAccess.status == 400)
            #expect(asAccess.json["error"] == "InvalidToken")

            let refreshed = try await client.api(.post, "/xrpc/com.atproto.server.refreshSession", token: refresh)
            #expect(refreshed.status == 200)
            let newAccess = refreshed.json["accessJwt"]?.stringValue ?? ""
            let newRefresh = refreshed.json["refreshJwt"]?.stringValue ?? ""
            #expect(newAccess != access && newRefresh != refresh)
            #expect(refreshed.json["did"] == .string(did))

            try await client.advanceClock(ms: 119 * 60_000)
            let again = try await client.api(.post, "/xrpc/com.atproto.server.refreshSession", token: refresh)
            #expect(again.status == 200, "the old refresh token still works within 2 hours")
            #expect(
                try await client.api(.post, "/xrpc/com.atproto.repo.createRecord", token: newAccess, json: createRecord(did, "at 119 min"))
                    .status == 200)

            try await client.advanceClock(ms: 60_000)
            let expired = try await client.api(.post, "/xrpc/com.atproto.repo.createRecord", token: newAccess, json: createRecord(did, "at 120 min"))
            #expect(expired.status == 400)
            #expect(expired.json == ["error": "ExpiredToken", "message": "Token has expired"])
            let expiredRead = try await client.api(
                .get, "/xrpc/com.atproto.repo.listRecords?repo=\(did)&collection=app.bsky.feed.post", token: newAccess)
            #expect(expiredRead.json["error"] == "ExpiredToken", "a token given is checked even where none is needed")

            let stale = try await client.api(.post, "/xrpc/com.atproto.server.refreshSession", token: refresh)
            #expect(stale.status == 400)
            #expect(stale.json == ["error": "ExpiredToken", "message": "Token has been revoked"])
            let current = try await client.api(.post, "/xrpc/com.atproto.server.refreshSession", token: newRefresh)
            #expect(current.status == 200, "an unused refresh token lives 90 days")

            let garbage = try await client.api(.post, "/xrpc/com.atproto.repo.createRecord", token: "garbage", json: createRecord(did, "x"))
            #expect(garbage.json["error"] == "InvalidToken")
            let none = try await client.api(.post, "/xrpc/com.atproto.repo.createRecord", token: nil, json: createRecord(did, "x"))
            #expect(none.status == 401)

            let latest = current.json["accessJwt"]?.stringValue
            try await client.admin(.post, "/_sim/tokens/revoke", ["account": "news-b"])
            let revoked = try await client.api(.post, "/xrpc/com.atproto.repo.createRecord", token: latest, json: createRecord(did, "x"))
            #expect(revoked.json == ["error": "ExpiredToken", "message": "Token has been revoked"])
            let relogin = try await client.api(
                .post, "/xrpc/com.atproto.server.createSession", token: nil,
                json: ["identifier": credentials["identifier"] ?? .null, "password": credentials["password"] ?? .null])
            #expect(relogin.status == 401, "a revoked app password makes no new session")
        }
    }

    @Test(
        "rkey must be a TID",
        arguments: [
            ("3jzfcijpj2z2a", 200), ("2222222222222", 200), ("jzzzzzzzzzzzz", 200),
            ("kzzzzzzzzzzzz", 400), ("1aaaaaaaaaaaa", 400), ("3jzfcijpj2z2", 400), ("3jzfcijpj2z2aa", 400),
            ("3JZFCIJPJ2Z2A", 400), ("self", 400),
        ])
    func tidValidation(rkey: String, status: Int) async throws {
        try await withSimulator { client, _ in
            let (access, _, did) = try await client.blueskySession(try await client.account(.bluesky, "news-b"))
            let reply = try await client.api(
                .post, "/xrpc/com.atproto.repo.createRecord", token: access, json: createRecord(did, "hi", rkey: rkey))
            #expect(reply.status == status, "\(reply.body)")
            if status == 400 { #expect(reply.json["error"] == "InvalidRequest") }
        }
    }

    @Test("a duplicate rkey fails with 500 InternalServerError and creates nothing")
    func duplicateRkey() async throws {
        try await withSimulator { client, _ in
            let (access, _, did) = try await client.blueskySession(try await client.account(.bluesky, "news-b"))
            let rkey = makeTID()
            let first = try await client.api(.post, "/xrpc/com.atproto.repo.createRecord", token: access, json: createRecord(did, "one", rkey: rkey))
            #expect(first.status == 200)
            let second = try await client.api(.post, "/xrpc/com.atproto.repo.createRecord", token: access, json: createRecord(did, "two", rkey: rkey))
            #expect(second.status == 500)
            #expect(second.json["error"] == "InternalServerError")
            let truth = try await client.groundTruth("news-b")
            #expect(truth.count == 1)
            #expect(truth.first?["rkey"] == .string(rkey))
            #expect(truth.first?["text"] == "one")
        }
    }

    @Test(
        "300 graphemes and 3,000 bytes",
        arguments: [
            (String(repeating: "a", count: 300), 200),
            (String(repeating: "a", count: 301), 400),
            (String(repeating: "👨‍👩‍👧", count: 166), 200),
            (String(repeating: "👨‍👩‍👧", count: 167), 400),
        ])
    func lengthLimit(text: String, status: Int) async throws {
        try await withSimulator { client, _ in
            let (access, _, did) = try await client.blueskySession(try await client.account(.bluesky, "news-b"))
            let reply = try await client.api(.post, "/xrpc/com.atproto.repo.createRecord", token: access, json: createRecord(did, text))
            #expect(reply.status == status, "\(reply.body)")
            if status == 400 { #expect(reply.json["error"] == "InvalidRequest") }
        }
    }

    @Test("listNotifications: mentions and replies, filtered by reason, paged by cursor")
    func notifications() async throws {
        try await withSimulator { client, _ in
            let (access, _, did) = try await client.blueskySession(try await client.account(.bluesky, "news-b"))
            let post = try await client.api(.post, "/xrpc/com.atproto.repo.createRecord", token: access, json: createRecord(did, "talk"))
            let postURI = post.json["uri"] ?? .null
            let reply = try await client.admin(
                .post, "/_sim/mentions", ["account": "news-b", "from": "carol", "text": "answer", "in_reply_to": postURI])
            #expect(reply["id"]?.stringValue?.hasPrefix("at://did:plc:") == true)
            for n in 0..<3 {
                try await client.admin(.post, "/_sim/mentions", ["account": "news-b", "from": "dave", "text": .string("hey \(n)")])
            }
            let all = try await client.api(
                .get, "/xrpc/app.bsky.notification.listNotifications?reasons=mention&reasons=reply&limit=3", token: access)
            #expect(all.status == 200)
            let items = all.json["notifications"]?.arrayValue ?? []
            #expect(items.count == 3)
            #expect(items.first?["reason"] == "mention")
            #expect(items.first?["author"]?["handle"] == "dave.bsky.social")
            #expect(items.first?["record"]?["text"]?.stringValue?.hasPrefix("@news-b.bsky.social") == true)
            let cursor = all.json["cursor"]?.stringValue ?? ""
            let rest = try await client.api(
                .get, "/xrpc/app.bsky.notification.listNotifications?limit=3&cursor=\(cursor)", token: access)
            let last = rest.json["notifications"]?.arrayValue ?? []
            #expect(last.count == 1)
            #expect(last.first?["reason"] == "reply")
            #expect(last.first?["reasonSubject"] == postURI)
            #expect(last.first?["record"]?["reply"]?["parent"]?["uri"] == postURI)
            #expect(rest.json["cursor"] == nil)

            let repliesOnly = try await client.api(.get, "/xrpc/app.bsky.notification.listNotifications?reasons=reply", token: access)
            #expect(repliesOnly.json["notifications"]?.arrayValue?.count == 1)
        }
    }
}
