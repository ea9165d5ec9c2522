import Foundation
import HummingbirdTesting
import SteadyCore
import Testing

@testable import SteadySimulator

@Suite("Fault injection", .timeLimit(.minutes(1)))
struct FaultTests {
    @Test("lose-response: the post is created, then the connection closes without a response")
    func loseResponse() async throws {
        try await withSimulator(.live) { client, _ in
            let port = try #require(client.port)
            let token = try await client.account(.x, "news-x")["access_token"]?.stringValue ?? ""
            _ = try await client.addFault(["kind": "lose-response", "endpoint": "create", "platform": "x", "count": 1])
            let lost = await RawHTTP.request(
                port: port, method: "POST", path: "/2/tweets",
                headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
                body: #"{"text":"lost in transit"}"#, timeoutMs: 10_000)
            guard case .closedWithoutResponse = lost else {
                Issue.record("expected a closed connection, got \(lost)")
                return
            }
            let truth = try await client.groundTruth("news-x")
            #expect(truth.count == 1)
            #expect(truth.first?["text"] == "lost in transit")

            let retry = await RawHTTP.request(
                port: port, method: "POST", path: "/2/tweets",
                headers: [("Authorization", "Bearer \(token)"), ("Content-Type", "application/json")],
                body: #"{"text":"lost in transit"}"#, timeoutMs: 10_000)
            #expect(retry.status == 403, "a blind retry meets the duplicate-content refusal")
            let log = try await client.admin(.get, "/_sim/requests")["requests"]?.arrayValue ?? []
            #expect(log.first?["fault"] == "lose-response")
            #expect(log.first?["responded"] == false)
            #expect(log.first?["status"] == 201)
        }
    }

    @Test("lose-response on Mastodon: the key was stored, so a retry gets the same status")
    func loseResponseMastodon() async throws {
        try await withSimulator(.live) { client, _ in
            let port = try #require(client.port)
            let token = try await client.account(.mastodon, "news-m")["access_token"]?.stringValue ?? ""
            _ = try await client.addFault(["kind": "lose-response", "endpoint": "create", "count": 1])
            let headers = [("Authorization", "Bearer \(token)"), ("Idempotency-Key", "attempt-7")]
            let lost = await RawHTTP.request(
                port: port, method: "POST", path: "/api/v1/statuses", headers: headers + [("Content-Type", "application/x-www-form-urlencoded")],
                body: "status=hello", timeoutMs: 10_000)
            guard case .closedWithoutResponse = lost else {
                Issue.record("expected a closed connection, got \(lost)")
                return
            }
            let retry = await RawHTTP.request(
                port: port, method: "POST", path: "/api/v1/statuses", headers: headers + [("Content-Type", "application/x-www-form-urlencoded")],
                body: "status=hello", timeoutMs: 10_000)
            #expect(retry.status == 200)
            let truth = try await client.groundTruth("news-m")
            #expect(truth.count == 1)
            #expect(JSON.parse(retry.body ?? "")?["id"] == truth.first?["id"])
        }
    }

    @Test("hold-response: the effect happens, the answer comes after the client gave up, others are served meanwhile")
    func holdResponse() async throws {
        try await withSimulator(.live) { client, server in
            let port = try #require(client.port)
            let (access, _, did) = try await client.blueskySession(try await client.account(.bluesky, "news-b"))
            _ = try await client.addFault(["kind": "hold-response", "endpoint": "create", "delay_ms": 30_000])
            let rkey = makeTID()
            let started = SteadyClock.monotonicMillis()
            async let held = RawHTTP.request(
                port: port, method: "POST", path: "/xrpc/com.atproto.repo.createRecord",
                headers: [("Authorization", "Bearer \(access)"), ("Content-Type", "application/json")],
                body: createRecord(did, "held", rkey: rkey).serialized, timeoutMs: 1_500)
            // Meanwhile, other requests are served.
            let other = await RawHTTP.request(port: port, method: "GET", path: "/_sim/health", timeoutMs: 20_000)
            #expect(other.status == 200)
            let outcome = await held
            guard case .timedOut = outcome else {
                Issue.record("expected the client to time out, got \(outcome)")
                return
            }
            #expect(SteadyClock.monotonicMillis() - started >= 1_400)
            let record = await RawHTTP.request(
                port: port, method: "GET",
                path: "/xrpc/com.atproto.repo.getRecord?repo=\(did)&collection=app.bsky.feed.post&rkey=\(rkey)", timeoutMs: 5_000)
            #expect(record.status == 200, "getRecord decides: the post exists")
            server.releaseHeldResponses()
        }
    }

    @Test("hold-response with a short hold: the response is sent once it ends")
    func shortHold() async throws {
        try await withSimulator(.live) { client, _ in
            let port = try #require(client.port)
            _ = try await client.addFault(["kind": "hold-response", "delay_ms": 300, "count": 1])
            let started = SteadyClock.monotonicMillis()
            let reply = await RawHTTP.request(port: port, method: "GET", path: "/api/v2/instance", timeoutMs: 10_000)
            #expect(reply.status == 200)
            #expect(SteadyClock.monotonicMillis() - started >= 300)
        }
    }

    @Test("hang-result-page: the browser's compose creates the post and never answers")
    func hangResultPage() async throws {
        try await withSimulator(.live) { client, server in
            let port = try #require(client.port)
            let password = try await client.account(.mastodon, "web-m")["web_password"]?.stringValue ?? ""
            let (_, cookie) = try await webLogin(client, "web-m", password)
            _ = try await client.addFault(["kind": "hang-result-page"])
            let outcome = await RawHTTP.request(
                port: port, method: "POST", path: "/web/compose",
                headers: [("Cookie", cookie), ("Content-Type", "application/x-www-form-urlencoded")], body: "text=hanging",
                timeoutMs: 800)
            guard case .timedOut = outcome else {
                Issue.record("expected no answer, got \(outcome)")
                return
            }
            let truth = try await client.groundTruth("web-m")
            #expect(truth.first?["via"] == "browser")
            #expect(truth.first?["text"] == "hanging")
            server.releaseHeldResponses()
        }
    }

    @Test("delay waits, then behaves normally")
    func delay() async throws {
        try await withSimulator { client, _ in
            _ = try await client.addFault(["kind": "delay", "delay_ms": 250, "endpoint": "me", "count": 1])
            let token = try await client.account(.x, "news-x")["access_token"]?.stringValue
            let started = SteadyClock.monotonicMillis()
            #expect(try await client.api(.get, "/2/users/me", token: token).status == 200)
            #expect(SteadyClock.monotonicMillis() - started >= 250)
        }
    }

    @Test("error-before answers with the platform's error body and has no effect; error-after has the effect")
    func errors() async throws {
        try await withSimulator { client, _ in
            let x = try await client.account(.x, "news-x")["access_token"]?.stringValue
            _ = try await client.addFault(["kind": "error-before", "endpoint": "create", "platform": "x", "count": 1])
            let before = try await client.api(.post, "/2/tweets", token: x, json: ["text": "not created"])
            #expect(before.status == 503)
            #expect(before.json == ["title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503])
            #expect(before.header("x-rate-limit-remaining") != nil)
            #expect(try await client.groundTruth().isEmpty)

            _ = try await client.addFault(["kind": "error-after", "endpoint": "create", "platform": "x", "count": 1])
            let after = try await client.api(.post, "/2/tweets", token: x, json: ["text": "created anyway"])
            #expect(after.status == 500)
            #expect(after.json["title"] == "Internal Server Error")
            #expect(try await client.groundTruth().count == 1)

            let (access, _, did) = try await client.blueskySession(try await client.account(.bluesky, "news-b"))
            _ = try await client.addFault(["kind": "error-before", "platform": "bluesky", "status": 502, "count": 1])
            let bsky = try await client.api(.post, "/xrpc/com.atproto.repo.createRecord", token: access, json: createRecord(did, "no"))
            #expect(bsky.status == 502)
            #expect(bsky.json["error"] == "UpstreamFailure")

            let m = try await client.account(.mastodon, "news-m")["access_token"]?.stringValue
            _ = try await client.addFault(["kind": "error-before", "platform": "mastodon", "count": 1])
            let mastodon = try await client.api(.get, "/api/v1/accounts/verify_credentials", token: m)
            #expect(mastodon.status == 503)
            #expect(mastodon.json == ["error": "Service Unavailable"])

            _ = try await client.addFault(["kind": "error-before", "endpoint": "web-result", "count": 1])
            let page = try await client.call(.get, "/web/posts/1")
            #expect(page.status == 503)
            #expect(page.header("content-type")?.hasPrefix("text/html") == true)
        }
    }

    @Test("rate-limit answers 429 with each platform's headers and body")
    func rateLimitFault() async throws {
        try await withSimulator { client, _ in
            _ = try await client.addFault(["kind": "rate-limit", "retry_after_s": 30])
            let now = SteadyClock.wallMillis() / 1000
            let x = try await client.api(.get, "/2/users/me", token: try await client.account(.x, "news-x")["access_token"]?.stringValue)
            #expect(x.status == 429)
            #expect(x.json["title"] == "Too Many Requests")
            #expect(x.header("x-rate-limit-remaining") == "0")
            let reset = Int64(x.header("x-rate-limit-reset") ?? "") ?? 0
            #expect(reset >= now + 29 && reset <= now + 32)

            let m = try await client.api(
                .get, "/api/v1/accounts/verify_credentials", token: try await client.account(.mastodon, "news-m")["access_token"]?.stringValue)
            #expect(m.status == 429)
            #expect(m.header("x-ratelimit-remaining") == "0")
            #expect(m.header("x-ratelimit-reset").flatMap(Timestamps.parse) != nil)
            #expect(m.header("x-ratelimit-reset")?.count == "2026-01-01T00:00:00.000000Z".count, "microseconds")

            let b = try await client.api(
                .post, "/xrpc/com.atproto.server.createSession", token: nil, json: ["identifier": "x", "password": "y"])
            #expect(b.status == 429)
            #expect(b.json["error"] == "RateLimitExceeded")
            #expect(b.header("retry-after") == "30")
            #expect(b.header("ratelimit-policy") != nil)
        }
    }

    @Test("token-expired and token-revoked act as the admin calls would")
    func tokenFaults() async throws {
        try await withSimulator { client, _ in
            let credentials = try await client.account(.x, "news-x")
            let token = credentials["access_token"]?.stringValue
            _ = try await client.addFault(["kind": "token-expired", "account": "news-x", "count": 1])
            #expect(try await client.api(.get, "/2/users/me", token: token).status == 401)
            let refreshed = try await client.form(
                .post, "/2/oauth2/token",
                [("grant_type", "refresh_token"), ("refresh_token", credentials["refresh_token"]?.stringValue ?? ""),
                 ("client_id", credentials["client_id"]?.stringValue ?? "")])
            #expect(refreshed.status == 200, "an expired access token is cured by a refresh")

            let (access, _, _) = try await client.blueskySession(try await client.account(.bluesky, "news-b"))
            _ = try await client.addFault(["kind": "token-revoked", "platform": "bluesky", "count": 1])
            let revoked = try await client.api(.get, "/xrpc/com.atproto.server.getSession", token: access)
            #expect(revoked.json == ["error": "ExpiredToken", "message": "Token has been revoked"])
        }
    }

    @Test("duplicate-content refuses an X create with no effect; other platforms are untouched")
    func duplicateContentFault() async throws {
        try await withSimulator { client, _ in
            _ = try await client.addFault(["kind": "duplicate-content"])
            let x = try await client.api(
                .post, "/2/tweets", token: try await client.account(.x, "news-x")["access_token"]?.stringValue, json: ["text": "fresh"])
            #expect(x.status == 403)
            #expect(x.json["detail"] == "You are not allowed to create a Tweet with duplicate content.")
            #expect(try await client.groundTruth().isEmpty)
            let m = try await client.api(
                .post, "/api/v1/statuses", token: try await client.account(.mastodon, "news-m")["access_token"]?.stringValue,
                json: ["status": "fresh"])
            #expect(m.status == 200)
        }
    }

    @Test("slow-timeline: pages of at most 5 items, each after the delay")
    func slowTimeline() async throws {
        try await withSimulator { client, _ in
            let (credentials, userID) = try await client.accountWithID(.x, "news-x")
            let token = credentials["access_token"]?.stringValue
            for n in 0..<8 {
                _ = try await client.api(.post, "/2/tweets", token: token, json: ["text": .string("p\(n)")])
            }
            _ = try await client.addFault(["kind": "slow-timeline", "delay_ms": 150])
            let started = SteadyClock.monotonicMillis()
            let page = try await client.api(.get, "/2/users/\(userID)/tweets?max_results=20", token: token)
            #expect(SteadyClock.monotonicMillis() - started >= 150)
            #expect(page.json["data"]?.arrayValue?.count == 5)
            let next = page.json["meta"]?["next_token"]?.stringValue ?? ""
            let rest = try await client.api(.get, "/2/users/\(userID)/tweets?max_results=20&pagination_token=\(next)", token: token)
            #expect(rest.json["data"]?.arrayValue?.count == 3)
            let me = try await client.api(.get, "/2/users/me", token: token)
            #expect(me.status == 200, "slow-timeline leaves other endpoints alone")
        }
    }

    @Test("rewrite-urls stores and returns links as t.co")
    func rewriteURLs() async throws {
        try await withSimulator { client, _ in
            _ = try await client.addFault(["kind": "rewrite-urls", "count": 1])
            let token = try await client.account(.x, "news-x")["access_token"]?.stringValue
            let created = try await client.api(.post, "/2/tweets", token: token, json: ["text": "read https://example.com/story now"])
            let text = created.json["data"]?["text"]?.stringValue ?? ""
            #expect(text.hasPrefix("read https://t.co/"))
            #expect(text.hasSuffix(" now"))
            #expect(text.count == "read https://t.co/".count + 10 + " now".count)
            #expect(try await client.groundTruth().first?["text"] == .string(text))
            let plain = try await client.api(.post, "/2/tweets", token: token, json: ["text": "https://example.com/other"])
            #expect(plain.json["data"]?["text"] == "https://example.com/other", "the rule retired after one")
        }
    }

    @Test("count: fires for the next N matching requests, then retires; narrowing by account")
    func countAndNarrowing() async throws {
        try await withSimulator { client, _ in
            let a = try await client.account(.x, "account-a")["access_token"]?.stringValue
            let b = try await client.account(.x, "account-b")["access_token"]?.stringValue
            let id = try await client.addFault(["kind": "error-before", "endpoint": "me", "account": "account-a", "count": 3])
            var statuses: [Int] = []
            for _ in 0..<5 {
                statuses.append(try await client.api(.get, "/2/users/me", token: b).status)
                statuses.append(try await client.api(.get, "/2/users/me", token: a).status)
            }
            #expect(statuses == [200, 503, 200, 503, 200, 503, 200, 200, 200, 200])
            let rule = try await client.admin(.get, "/_sim/faults")["faults"]?.arrayValue?.first { $0["id"]?.intValue == id }
            #expect(rule?["fired"] == 3)
            #expect(rule?["active"] == false)
        }
    }

    @Test("probability draws from the seeded generator: the same seed gives the same sequence")
    func probabilityDeterminism() async throws {
        func sequence(seed: UInt64) async throws -> [Bool] {
            try await withSimulator(seed: seed) { client, _ in
                let token = try await client.account(.x, "news-x")["access_token"]?.stringValue
                _ = try await client.addFault(["kind": "error-before", "endpoint": "me", "probability": 0.3])
                var fired: [Bool] = []
                for _ in 0..<100 {
                    fired.append(try await client.api(.get, "/2/users/me", token: token).status == 503)
                }
                let rules = try await client.admin(.get, "/_sim/faults")["faults"]?.arrayValue ?? []
                #expect(rules.first?["matched"] == 100)
                #expect(rules.first?["fired"]?.intValue == Int64(fired.filter { $0 }.count))
                return fired
            }
        }
        let first = try await sequence(seed: 42)
        let second = try await sequence(seed: 42)
        let other = try await sequence(seed: 43)
        #expect(first == second)
        #expect(first != other)
        let count = first.filter { $0 }.count
        #expect((10...50).contains(count), "about 30 of 100 fire: \(count)")
    }

    @Test("count and probability together: at most N firings")
    func countWithProbability() async throws {
        try await withSimulator(seed: 9) { client, _ in
            let token = try await client.account(.x, "news-x")["access_token"]?.stringValue
            _ = try await client.addFault(["kind": "error-before", "endpoint": "me", "probability": 0.5, "count": 4])
            var fired = 0
            for _ in 0..<60 {
                if try await client.api(.get, "/2/users/me", token: token).status == 503 { fired += 1 }
            }
            #expect(fired == 4)
        }
    }
}
