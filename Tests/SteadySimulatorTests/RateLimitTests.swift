import Foundation
import HummingbirdTesting
import SteadyCore
import Testing

@testable import SteadySimulator

@Suite("Rate limits", .timeLimit(.minutes(1)))
struct RateLimitTests {
    @Test("X: 100 creates per 15 minutes per account, then 429 until the window resets")
    func xCreates() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.x, "news-x")["access_token"]?.stringValue
            for n in 0..<100 {
                let reply = try await client.api(.post, "/2/tweets", token: token, json: ["text": .string("post \(n)")])
                #expect(reply.status == 201)
                #expect(reply.header("x-rate-limit-limit") == "100")
                #expect(reply.header("x-rate-limit-remaining") == String(99 - n))
            }
            let limited = try await client.api(.post, "/2/tweets", token: token, json: ["text": "one too many"])
            #expect(limited.status == 429)
            #expect(limited.json["title"] == "Too Many Requests")
            #expect(limited.header("x-rate-limit-remaining") == "0")
            let reset = Int64(limited.header("x-rate-limit-reset") ?? "") ?? 0
            let now = SteadyClock.wallMillis() / 1000
            #expect(reset > now && reset <= now + 15 * 60 + 1)
            #expect(try await client.groundTruth().count == 100)

            let other = try await client.account(.x, "other-x")["access_token"]?.stringValue
            #expect(try await client.api(.post, "/2/tweets", token: other, json: ["text": "mine"]).status == 201, "per account")
            #expect(try await client.api(.get, "/2/users/me", token: token).status == 200, "per endpoint")

            try await client.advanceClock(ms: 15 * 60_000)
            let refreshed = try await client.api(.post, "/2/tweets", token: token, json: ["text": "new window"])
            #expect(refreshed.status == 201)
            #expect(refreshed.header("x-rate-limit-remaining") == "99")
        }
    }

    @Test("Mastodon: 300 requests per 5 minutes per account across endpoints")
    func mastodonRequests() async throws {
        try await withSimulator { client, _ in
            let token = try await client.account(.mastodon, "news-m")["access_token"]?.stringValue
            for n in 0..<300 {
                let path = n.isMultiple(of: 2) ? "/api/v1/accounts/verify_credentials" : "/api/v2/instance"
                let reply = try await client.api(.get, path, token: token)
                #expect(reply.status == 200)
                if n == 299 { #expect(reply.header("x-ratelimit-remaining") == "0") }
            }
            let limited = try await client.api(.get, "/api/v1/accounts/verify_credentials", token: token)
            #expect(limited.status == 429)
            #expect(limited.json["error"]?.stringValue != nil)
            let reset = limited.header("x-ratelimit-reset").flatMap(Timestamps.parse) ?? 0
            #expect(reset > SteadyClock.wallMillis())
            try await client.advanceClock(ms: 5 * 60_000)
            #expect(try await client.api(.get, "/api/v1/accounts/verify_credentials", token: token).status == 200)
        }
    }

    @Test("Bluesky: createSession 30 per 5 minutes with RateLimit-* and Retry-After; creates cost 3 points")
    func blueskyLimits() async throws {
        try await withSimulator { client, _ in
            let credentials = try await client.account(.bluesky, "news-b")
            let body: JSON = ["identifier": credentials["identifier"] ?? .null, "password": credentials["password"] ?? .null]
            for _ in 0..<30 {
                #expect(try await client.api(.post, "/xrpc/com.atproto.server.createSession", token: nil, json: body).status == 200)
            }
            let limited = try await client.api(.post, "/xrpc/com.atproto.server.createSession", token: nil, json: body)
            #expect(limited.status == 429)
            #expect(limited.json == ["error": "RateLimitExceeded", "message": "Rate Limit Exceeded"])
            #expect(limited.header("ratelimit-limit") == "30")
            #expect(limited.header("ratelimit-remaining") == "0")
            #expect(limited.header("ratelimit-policy") == "30;w=300")
            let retryAfter = Int(limited.header("retry-after") ?? "") ?? -1
            #expect((1...300).contains(retryAfter))
            let reset = Int64(limited.header("ratelimit-reset") ?? "") ?? 0
            #expect(reset > SteadyClock.wallMillis() / 1000)
        }
    }
}
