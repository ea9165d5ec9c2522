import SteadyCore
import SteadyHTTP
import Testing

@testable import SteadyPlatforms

/// Adapters against scripted responses: the shapes the simulator may not produce (malformed
/// bodies, odd successes), the requests they send, and what never leaks.
@Suite("adapters on scripted responses", .serialized, .timeLimit(.minutes(1)))
struct AdapterScriptedTests {
    static let attempt = AttemptKey(attemptId: "attempt-1", startedAtMicros: 1_767_225_600_000_000)

    func respond(_ status: Int, _ body: String, headers: [String] = ["Content-Type: application/json"]) -> ScriptedServer.Action {
        .respond(status: status, headers: headers, body: Array(body.utf8))
    }

    func withServer(_ script: [ScriptedServer.Action], _ body: (ScriptedServer, HTTPClient) throws -> Void) throws {
        let server = try ScriptedServer(script: script)
        defer { server.stop() }
        return try body(server, HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 1000, totalTimeoutMillis: 2000)))
    }

    func bluesky(_ url: String, _ client: HTTPClient) -> BlueskyAdapter {
        BlueskyAdapter(baseURL: url, credentials: BlueskyCredentials(identifier: "alice.test", password: "app-password-123"),
                       session: SessionTokens(accessToken: "access-jwt-abc", refreshToken: "refresh-jwt-abc", userId: "did:plc:alice"),
                       client: client)
    }

    func adapter(_ platform: Platform, _ url: String, _ client: HTTPClient) -> any PlatformAdapter {
        switch platform {
        case .x: return XAdapter(baseURL: url, credentials: XCredentials(accessToken: "x-access-abc", refreshToken: "x-refresh-abc", clientId: "cid"),
                                 session: SessionTokens(userId: "42"), client: client)
        case .mastodon: return MastodonAdapter(baseURL: url, credentials: MastodonCredentials(accessToken: "masto-token-abc"),
                                               session: SessionTokens(userId: "7"), client: client)
        case .bluesky: return bluesky(url, client)
        case .facebook: return facebook(url, client)
        default: preconditionFailure("built-in platforms only")
        }
    }

    func facebook(_ url: String, _ client: HTTPClient) -> FacebookAdapter {
        FacebookAdapter(baseURL: url, credentials: FacebookCredentials(pageId: "1234", accessToken: "EAA-page-token-abc"), client: client)
    }

    /// The token each scripted adapter sends.
    static let secrets: [Platform: String] = [.x: "x-access-abc", .mastodon: "masto-token-abc", .bluesky: "access-jwt-abc",
                                              .facebook: "EAA-page-token-abc"]

    struct Malformed: Sendable, CustomTestStringConvertible {
        var platform: Platform
        var status: Int
        var body: String
        var testDescription: String { "\(platform.rawValue) create \(status) \(body.prefix(30))" }
    }

    static let malformedCreates: [Malformed] = Platform.allCases.flatMap { p in
        [Malformed(platform: p, status: p == .x ? 201 : 200, body: "<html>ok</html>"),
         Malformed(platform: p, status: 200, body: "{\"data\": {}}"),
         Malformed(platform: p, status: 200, body: ""),
         Malformed(platform: p, status: 200, body: "{\"id\": ")]
    }

    @Test("a create's unusable 2xx body is unknownOutcome, never a crash", arguments: malformedCreates)
    func malformedCreate(_ c: Malformed) throws {
        try withServer([respond(c.status, c.body)]) { server, client throws in
            let error = #expect(throws: PlatformError.self) {
                try adapter(c.platform, server.url, client).create(PostDraft(text: "hello"), attempt: Self.attempt)
            }
            #expect(error?.errorClass == .unknownOutcome)
            #expect(error?.evidence.httpStatus == c.status)
        }
    }

    @Test("a read's unusable 2xx body is noEffect", arguments: Platform.allCases)
    func malformedRead(_ p: Platform) throws {
        try withServer([respond(200, "<html>"), respond(200, "[1,2")]) { server, client throws in
            let a = adapter(p, server.url, client)
            let e1 = #expect(throws: PlatformError.self) { try a.lookup(id: p == .bluesky ? "at://did:plc:alice/app.bsky.feed.post/3jzfcijpj2z2a" : "123") }
            #expect(e1?.errorClass == .noEffect)
            let e2 = #expect(throws: PlatformError.self) { try a.ownPosts(since: nil, cursor: nil, limit: 10) }
            #expect(e2?.errorClass == .noEffect)
        }
    }

    @Test("not-found reads are nil: X 200 with errors, X 404, Mastodon 404, Bluesky 400 RecordNotFound")
    func notFound() throws {
        let xMissing = #"{"errors": [{"value": "123", "detail": "Could not find tweet with id: [123].", "title": "Not Found Error", "resource_type": "tweet", "parameter": "id", "resource_id": "123", "type": "https://api.twitter.com/2/problems/resource-not-found"}]}"#
        try withServer([respond(200, xMissing), respond(404, #"{"title": "Not Found Error", "type": "https://api.twitter.com/2/problems/resource-not-found"}"#)]) { server, client throws in
            let a = adapter(.x, server.url, client)
            #expect(try a.lookup(id: "123") == nil)
            #expect(try a.lookup(id: "124") == nil)
            #expect(try a.lookup(id: "not-a-tweet-id") == nil)
            #expect(server.requests.count == 2)
        }
        try withServer([respond(404, #"{"error": "Record not found"}"#)]) { server, client throws in
            #expect(try adapter(.mastodon, server.url, client).lookup(id: "99") == nil)
        }
        try withServer([respond(400, #"{"error": "RecordNotFound", "message": "Could not locate record"}"#)]) { server, client throws in
            #expect(try adapter(.bluesky, server.url, client).lookup(id: "at://did:plc:alice/app.bsky.feed.post/3jzfcijpj2z2a") == nil)
            #expect(server.requests.first?.path.contains("com.atproto.repo.getRecord?repo=did%3Aplc%3Aalice&collection=app.bsky.feed.post&rkey=3jzfcijpj2z2a") == true)
        }
    }

    @Test("Facebook: the feed post names its photos in attached_media, the token only in the header; a missing node (100/33) is nil; paging keeps the after cursor only while next is given")
    func facebookRequests() throws {
        let listing = #"{"data": [{"id": "1234_9", "message": "hi", "created_time": "2026-01-01T00:00:05+0000"}], "paging": {"cursors": {"before": "QVFIb", "after": "QVFIa"}, "next": "https://graph.facebook.com/v21.0/1234/published_posts?after=QVFIa&access_token=EAA-page-token-abc"}}"#
        let last = #"{"data": [{"id": "1234_8", "created_time": "2026-01-01T00:00:01+0000"}], "paging": {"cursors": {"before": "QVFIc", "after": "QVFId"}}}"#
        let missing = #"{"error": {"message": "Unsupported get request.", "type": "GraphMethodException", "code": 100, "error_subcode": 33, "fbtrace_id": "A"}}"#
        try withServer([respond(200, #"{"id": "1234_9"}"#), respond(200, listing), respond(200, last), respond(400, missing)]) { server, client throws in
            let a = facebook(server.url, client)
            var draft = PostDraft(text: "two photos & a link https://example.com/?a=1")
            draft.mediaHandles = ["111", "222"]
            #expect(try a.create(draft, attempt: Self.attempt).id == "1234_9")
            let first = try a.ownPosts(since: 1_767_225_601_500, cursor: nil, limit: 500)
            #expect(first.items.map(\.id) == ["1234_9"] && first.items.first?.createdAtMs == 1_767_225_605_000)
            #expect(first.next == PageCursor("QVFIa"))
            let second = try a.ownPosts(since: nil, cursor: first.next, limit: 10)
            #expect(second.items.first?.text == "" && second.next == nil, "no next: the end")
            #expect(try a.lookup(id: "1234_1") == nil)
            #expect(try a.lookup(id: "../me") == nil, "not a Graph id: nothing sent")
            let requests = server.requests
            #expect(requests.count == 4)
            let create = try #require(requests.first)
            #expect(create.method == "POST" && create.path == "/v21.0/1234/feed")
            let form = String(decoding: create.body, as: UTF8.self)
            #expect(form.contains("message=two%20photos%20%26%20a%20link"), "\(form)")
            #expect(form.contains("attached_media%5B0%5D=%7B%22media_fbid%22%3A%22111%22%7D"), "\(form)")
            #expect(form.contains("attached_media%5B1%5D=%7B%22media_fbid%22%3A%22222%22%7D"), "\(form)")
            #expect(requests[1].path.contains("/v21.0/1234/published_posts?fields=id%2Cmessage%2Ccreated_time&limit=100&since=1767225601"))
            #expect(requests[2].path.hasSuffix("&after=QVFIa"))
            for r in requests {
                #expect(!r.path.contains("EAA-page-token-abc"), "the token never in a URL")
                #expect(r.headers.contains { $0.lowercased() == "authorization: bearer eaa-page-token-abc" })
            }
        }
    }

    @Test("Facebook: a base URL ending in a Graph version pins it; one without gets the default")
    func facebookVersion() {
        #expect(FacebookAdapter.splitVersion("https://graph.facebook.com/v22.0/") == ("https://graph.facebook.com", "v22.0"))
        #expect(FacebookAdapter.splitVersion("http://127.0.0.1:8700") == ("http://127.0.0.1:8700", nil))
        #expect(FacebookAdapter.splitVersion("https://graph.facebook.com/video") == ("https://graph.facebook.com/video", nil))
        #expect(facebook("https://graph.facebook.com", HTTPClient()).graphVersion == FacebookPlatform.graphVersion)
    }

    @Test("X create sends the documented JSON and reads data.id")
    func xCreate() throws {
        try withServer([respond(201, #"{"data": {"id": "1445880548472328192", "text": "R&amp;D says hi", "edit_history_tweet_ids": ["1445880548472328192"]}}"#)]) { server, client throws in
            let post = try adapter(.x, server.url, client).create(PostDraft(text: "R&D says hi", replyTo: "1445880000000000000"), attempt: Self.attempt)
            #expect(post.id == "1445880548472328192")
            #expect(post.text == "R&D says hi")
            let req = try #require(server.requests.first)
            #expect(req.method == "POST" && req.path == "/2/tweets")
            #expect(req.header("authorization") == "Bearer x-access-abc")
            let body = try JSON.parse(req.body)
            #expect(body["text"]?.string == "R&D says hi")
            #expect(body["reply"]?["in_reply_to_tweet_id"]?.string == "1445880000000000000")
        }
    }

    @Test("X metrics in both spellings")
    func xMetrics() throws {
        let old = #"{"data": {"id": "1", "text": "a", "public_metrics": {"retweet_count": 2, "reply_count": 3, "like_count": 4, "quote_count": 5, "bookmark_count": 6, "impression_count": 7}}}"#
        let new = #"{"data": {"id": "2", "text": "b", "public_metrics": {"repost_count": 9, "reply_count": 1, "like_count": 1, "quote_count": 1}}}"#
        try withServer([respond(200, old), respond(200, new)]) { server, client throws in
            let m = try adapter(.x, server.url, client).metrics(ids: ["1", "2"])
            #expect(m["1"] == PostMetrics(likes: 4, reposts: 2, replies: 3, quotes: 5, bookmarks: 6, impressions: 7))
            #expect(m["2"]?.reposts == 9)
        }
    }

    @Test("X refresh rotates both tokens, uses them next, and never shows them")
    func xRefresh() throws {
        let token = #"{"token_type": "bearer", "access_token": "x-access-NEW", "refresh_token": "x-refresh-NEW", "expires_in": 7200, "scope": "tweet.read tweet.write users.read offline.access"}"#
        try withServer([respond(200, token), respond(401, #"{"title": "Unauthorized", "detail": "x-access-NEW was refused"}"#)]) { server, client throws in
            let a = XAdapter(baseURL: server.url, credentials: XCredentials(accessToken: "x-access-OLD", refreshToken: "x-refresh-OLD", clientId: "cid"),
                             session: SessionTokens(userId: "42"), client: client, now: { 1_000 })
            let outcome = try a.refreshAuth()
            guard case .refreshed(let s) = outcome else { Issue.record("not refreshed"); return }
            #expect(s.accessToken == "x-access-NEW" && s.refreshToken == "x-refresh-NEW")
            let expires: Int64? = 7_201_000
            #expect(s.accessExpiresAtMs == expires)
            let form = String(decoding: server.requests[0].body, as: UTF8.self)
            #expect(form == "grant_type=refresh_token&refresh_token=x-refresh-OLD&client_id=cid")
            #expect(server.requests[0].header("content-type") == "application/x-www-form-urlencoded")
            let error = #expect(throws: PlatformError.self) { try a.identity() }
            #expect(error?.errorClass == .auth)
            #expect(server.requests[1].header("authorization") == "Bearer x-access-NEW")
            let shown = error?.description ?? ""
            #expect(!shown.contains("x-access-NEW"), "\(shown)")
            #expect(shown.contains("[redacted]"))
        }
    }

    @Test("X confidential clients refresh with HTTP Basic")
    func xRefreshBasic() throws {
        try withServer([respond(400, #"{"error":"invalid_request","error_description":"Value passed for the token was invalid."}"#)]) { server, client throws in
            let a = XAdapter(baseURL: server.url, credentials: XCredentials(accessToken: "a", refreshToken: "r-token-1", clientId: "id", clientSecret: "secret"),
                             client: client)
            let error = #expect(throws: PlatformError.self) { try a.refreshAuth() }
            #expect(error?.errorClass == .auth)
            #expect(server.requests[0].header("authorization") == "Basic aWQ6c2VjcmV0")
            #expect(!String(decoding: server.requests[0].body, as: UTF8.self).contains("client_id"))
        }
    }

    @Test("Mastodon create sends the Idempotency-Key and reads HTML content as text")
    func mastodonCreate() throws {
        let status = #"{"id": "109372843234", "created_at": "2026-01-01T00:00:01.000Z", "content": "<p>hi &amp; <a href=\"https://example.com/x\"><span class=\"invisible\">https://</span><span>example.com/x</span></a></p>", "url": "https://m.example/@a/109372843234", "replies_count": 1, "reblogs_count": 2, "favourites_count": 3}"#
        try withServer([respond(200, status)]) { server, client throws in
            let post = try adapter(.mastodon, server.url, client).create(PostDraft(text: "hi & https://example.com/x", replyTo: "5"), attempt: Self.attempt)
            #expect(post.id == "109372843234")
            #expect(post.text == "hi & https://example.com/x")
            #expect(post.createdAtMs == 1_767_225_601_000)
            #expect(post.metrics == PostMetrics(likes: 3, reposts: 2, replies: 1, quotes: 0))
            let req = try #require(server.requests.first)
            #expect(req.header("idempotency-key") == "attempt-1")
            let body = try JSON.parse(req.body)
            #expect(body["status"]?.string == "hi & https://example.com/x")
            #expect(body["in_reply_to_id"]?.string == "5")
        }
    }

    @Test("Mastodon timeline pages through the Link header and stops at since")
    func mastodonPaging() throws {
        let page1 = #"[{"id": "30", "created_at": "2026-01-01T00:00:30Z", "content": "<p>c</p>"}, {"id": "20", "created_at": "2026-01-01T00:00:20Z", "content": "<p>b</p>"}]"#
        let page2 = #"[{"id": "10", "created_at": "2026-01-01T00:00:10Z", "content": "<p>a</p>"}, {"id": "5", "created_at": "2025-12-31T23:59:00Z", "content": "<p>old</p>"}]"#
        try withServer([
            respond(200, page1, headers: ["Link: <http://elsewhere.example/api/v1/accounts/7/statuses?limit=2&max_id=20>; rel=\"next\", <http://elsewhere.example/api/v1/accounts/7/statuses?min_id=30>; rel=\"prev\""]),
            respond(200, page2, headers: ["Link: <http://elsewhere.example/api/v1/accounts/7/statuses?limit=2&max_id=5>; rel=\"next\""]),
        ]) { server, client throws in
            let a = adapter(.mastodon, server.url, client)
            let since: Int64 = 1_767_225_600_000
            let p1 = try a.ownPosts(since: since, cursor: nil, limit: 2)
            #expect(p1.items.map(\.id) == ["30", "20"])
            #expect(p1.next == PageCursor("20"))
            let p2 = try a.ownPosts(since: since, cursor: p1.next, limit: 2)
            #expect(p2.items.map(\.id) == ["10"])
            #expect(p2.next == nil)
            // The token went only to our base URL, never to the Link's host.
            #expect(server.requests.map(\.path) == ["/api/v1/accounts/7/statuses?limit=2&exclude_reblogs=true", "/api/v1/accounts/7/statuses?limit=2&exclude_reblogs=true&max_id=20"])
        }
    }

    @Test("Bluesky create sends the attempt's TID rkey and the attempt's createdAt")
    func blueskyCreate() throws {
        let rkey = Self.attempt.blueskyRecordKey
        try withServer([respond(200, #"{"uri": "at://did:plc:alice/app.bsky.feed.post/\#(rkey)", "cid": "bafyreib", "commit": {"cid": "bafyc", "rev": "3k"}}"#)]) { server, client throws in
            let post = try bluesky(server.url, client).create(PostDraft(text: "hello"), attempt: Self.attempt)
            #expect(post.id == "at://did:plc:alice/app.bsky.feed.post/\(rkey)")
            #expect(post.recordKey == rkey)
            let body = try JSON.parse(try #require(server.requests.first).body)
            #expect(body["repo"]?.string == "did:plc:alice")
            #expect(body["collection"]?.string == "app.bsky.feed.post")
            #expect(body["rkey"]?.string == rkey)
            #expect(body["record"]?["$type"]?.string == "app.bsky.feed.post")
            #expect(body["record"]?["createdAt"]?.string == "2026-01-01T00:00:00.000Z")
            #expect(body["record"]?["facets"] == nil)
        }
    }

    @Test("Bluesky links get facets with UTF-8 byte offsets")
    func blueskyFacets() throws {
        let facets = BlueskyAdapter.linkFacets("café ☕ see https://example.com/é. ok")
        #expect(facets.count == 1)
        // "café ☕ see " is 5 + 1 + 3 + 1 + 4 = 14 bytes; the URL "https://example.com/é" is 22 bytes.
        #expect(facets.first?["index"]?["byteStart"]?.int == 14)
        #expect(facets.first?["index"]?["byteEnd"]?.int == 36)
        #expect(facets.first?["features"]?[0]?["uri"]?.string == "https://example.com/é")
        #expect(facets.first?["features"]?[0]?["$type"]?.string == "app.bsky.richtext.facet#link")
        #expect(BlueskyAdapter.linkFacets("no links here").isEmpty)
    }

    @Test("Bluesky reply: root and parent from the parent's post view (getPosts)")
    func blueskyReply() throws {
        let parent = #"{"posts": [{"uri": "at://did:plc:bob/app.bsky.feed.post/3kparent22222", "cid": "cidP", "author": {"did": "did:plc:bob", "handle": "bob.test"}, "record": {"$type": "app.bsky.feed.post", "text": "q?", "createdAt": "2026-01-01T00:00:00Z", "reply": {"root": {"uri": "at://did:plc:carol/app.bsky.feed.post/3kroot2222222", "cid": "cidR"}, "parent": {"uri": "x", "cid": "y"}}}, "likeCount": 0}]}"#
        try withServer([respond(200, parent), respond(200, #"{"uri": "at://did:plc:alice/app.bsky.feed.post/3kzzzzzzzzzzz", "cid": "c"}"#)]) { server, client throws in
            _ = try bluesky(server.url, client).create(PostDraft(text: "a!", replyTo: "at://did:plc:bob/app.bsky.feed.post/3kparent22222"), attempt: Self.attempt)
            #expect(server.requests[0].path.hasPrefix("/xrpc/app.bsky.feed.getPosts?uris=at%3A%2F%2Fdid%3Aplc%3Abob"))
            let body = try JSON.parse(server.requests[1].body)
            #expect(body["record"]?["reply"]?["parent"]?["uri"]?.string == "at://did:plc:bob/app.bsky.feed.post/3kparent22222")
            #expect(body["record"]?["reply"]?["parent"]?["cid"]?.string == "cidP")
            #expect(body["record"]?["reply"]?["root"]?["uri"]?.string == "at://did:plc:carol/app.bsky.feed.post/3kroot2222222")
            #expect(body["record"]?["reply"]?["root"]?["cid"]?.string == "cidR")
        }
    }

    @Test("Bluesky findByIdempotency: found, absent, held by other content")
    func blueskyFind() throws {
        let rkey = Self.attempt.blueskyRecordKey
        let record = { (text: String) in #"{"uri": "at://did:plc:alice/app.bsky.feed.post/\#(rkey)", "cid": "c", "value": {"text": "\#(text)", "createdAt": "2026-01-01T00:00:00.000Z"}}"# }
        try withServer([respond(200, record("hello  world")), respond(400, #"{"error": "RecordNotFound"}"#), respond(200, record("something else"))]) { server, client throws in
            let a = bluesky(server.url, client)
            let draft = PostDraft(text: "hello world")
            guard case .found(let post) = try a.findByIdempotency(Self.attempt, draft: draft) else { Issue.record("not found"); return }
            #expect(post.recordKey == rkey)
            #expect(try a.findByIdempotency(Self.attempt, draft: draft) == .absent)
            guard case .keyHeldByOtherContent = try a.findByIdempotency(Self.attempt, draft: draft) else { Issue.record("collision missed"); return }
        }
    }

    @Test("Bluesky without a session: auth before sending; refreshAuth creates one; refused refresh falls back to createSession")
    func blueskySession() throws {
        let session = #"{"accessJwt": "eyJhbGciOiJIUzI1NiJ9.eyJzY29wZSI6ImEifQ.sig1", "refreshJwt": "eyJhbGciOiJIUzI1NiJ9.eyJzY29wZSI6InIifQ.sig2", "handle": "alice.test", "did": "did:plc:alice"}"#
        try withServer([respond(400, #"{"error": "ExpiredToken", "message": "Token has been revoked"}"#), respond(200, session)]) { server, client throws in
            let a = BlueskyAdapter(baseURL: server.url, credentials: BlueskyCredentials(identifier: "alice.test", password: "app-password-123"),
                                   session: SessionTokens(refreshToken: "old-refresh-jwt"), client: client)
            let e = #expect(throws: PlatformError.self) { try a.create(PostDraft(text: "x"), attempt: Self.attempt) }
            #expect(e?.errorClass == .auth)
            #expect(server.requests.isEmpty)
            guard case .refreshed(let s) = try a.refreshAuth() else { Issue.record("not refreshed"); return }
            #expect(s.userId == "did:plc:alice" && s.handle == "alice.test")
            #expect(server.requests.map(\.path) == ["/xrpc/com.atproto.server.refreshSession", "/xrpc/com.atproto.server.createSession"])
            #expect(server.requests[0].header("authorization") == "Bearer old-refresh-jwt")
            let body = try JSON.parse(server.requests[1].body)
            #expect(body["identifier"]?.string == "alice.test" && body["password"]?.string == "app-password-123")
            #expect(try a.identity() == Identity(userId: "did:plc:alice", handle: "alice.test"))
        }
    }

    @Test("Mastodon has nothing to refresh")
    func mastodonRefresh() throws {
        let a = adapter(.mastodon, "http://127.0.0.1:9", HTTPClient())
        guard case .notRefreshable = try a.refreshAuth() else { Issue.record("expected notRefreshable"); return }
    }

    @Test("evidence excerpts are short and redacted", arguments: Platform.allCases)
    func evidence(_ p: Platform) throws {
        let secret = try #require(Self.secrets[p])
        let body = #"{"error": "Boom", "detail": "token \#(secret) rejected", "refresh_token": "zzz-top", "pad": "\#(String(repeating: "p", count: 500))"}"#
        try withServer([respond(500, body)]) { server, client throws in
            let error = #expect(throws: PlatformError.self) { try adapter(p, server.url, client).create(PostDraft(text: "x"), attempt: Self.attempt) }
            let excerpt = error?.evidence.bodyExcerpt ?? ""
            #expect(excerpt.count <= 201)
            #expect(!excerpt.contains(secret) && !excerpt.contains("zzz-top"))
            #expect(!(error?.description.contains(secret) ?? true))
            #expect(error?.errorClass == .unknownOutcome)
        }
    }

    @Test("validation failures send nothing", arguments: Platform.allCases)
    func validationSendsNothing(_ p: Platform) throws {
        try withServer([]) { server, client throws in
            let tooLong = PlatformRegistry.rules(for: p).measure("").limit + 1
            let error = #expect(throws: PlatformError.self) {
                try adapter(p, server.url, client).create(PostDraft(text: String(repeating: "a", count: tooLong)), attempt: Self.attempt)
            }
            #expect(error?.errorClass.name == "permanent")
            #expect(server.requests.isEmpty)
        }
    }

    @Test("a lost response on create is unknownOutcome and the create is not re-sent", arguments: Platform.allCases)
    func lostResponse(_ p: Platform) throws {
        // Warm the connection with a read so the create goes out on a reused one.
        let warm: String
        switch p {
        case .x: warm = #"{"data": {"id": "42", "username": "a"}}"#
        case .mastodon: warm = #"{"id": "7", "acct": "a"}"#
        case .bluesky: warm = #"{"uri": "at://did:plc:alice/app.bsky.feed.post/3kzzzzzzzzzzz", "cid": "c", "value": {"text": "t"}}"#
        case .facebook: warm = #"{"id": "1234", "name": "a"}"#
        default: preconditionFailure("built-in platforms only")
        }
        try withServer([respond(200, warm), .closeWithoutResponse, respond(500, "{}")]) { server, client throws in
            let a = adapter(p, server.url, client)
            if p == .bluesky { _ = try a.lookup(id: "3kzzzzzzzzzzz") } else { _ = try a.identity() }
            let error = #expect(throws: PlatformError.self) { try a.create(PostDraft(text: "hello"), attempt: Self.attempt) }
            #expect(error?.errorClass == .unknownOutcome)
            #expect(server.requests.filter { $0.method == "POST" }.count == 1)
        }
    }
}
