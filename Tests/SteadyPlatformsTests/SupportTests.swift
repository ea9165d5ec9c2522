import SteadyCore
import SteadyHTTP
import Testing

@testable import SteadyPlatforms

/// JSON, TIDs, content normalization, redaction, credentials, Link headers.
@Suite(.timeLimit(.minutes(1)))
struct SupportTests {
    @Test("JSON parses what platforms send and refuses what they should not")
    func json() throws {
        let j = try JSON.parse(#"{"data": {"id": "1234567890123456789", "n": 12, "f": -1.5e3, "t": true, "z": null, "s": "a\"b\\c\u00e9\ud83d\ude00\n"}, "a": [1, [2], {}]}"#)
        #expect(j["data"]?["id"]?.string == "1234567890123456789")
        #expect(j["data"]?["n"]?.int == 12)
        #expect(j["data"]?["f"]?.int == -1500)
        #expect(j["data"]?["t"]?.bool == true)
        #expect(j["data"]?["z"]?.isNull == true)
        #expect(j["data"]?["s"]?.string == "a\"b\\cé😀\n")
        #expect(j["a"]?[1]?[0]?.int == 2)
        // Large ids keep their digits.
        #expect(try JSON.parse("{\"id\": 1234567890123456789}")["id"]?.stringOrNumber == "1234567890123456789")
        for bad in ["", "{", "{\"a\":}", "[1,]", "{\"a\" 1}", "nul", "\"\u{01}\"", "01", "1.", "{} x", "<html>"] {
            #expect(throws: JSON.ParseError.self, "\(bad)") { try JSON.parse(bad) }
        }
        let deep = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        #expect(throws: JSON.ParseError.self) { try JSON.parse(deep) }
        // Round trip.
        let built = JSON.obj([("text", JSON("line\n\"quoted\" é \u{01}")), ("n", JSON(5)), ("skip", nil)])
        #expect(built.serialized == #"{"text":"line\n\"quoted\" é \u0001","n":5}"#)
        #expect(try JSON.parse(built.serialized) == built)
    }

    @Test("TIDs: 13 valid characters, deterministic per attempt, ordered by time")
    func tid() throws {
        let pattern = { (s: String) -> Bool in
            let a = Array(s.utf8)
            let first = Set("234567abcdefghij".utf8)
            let rest = Set("234567abcdefghijklmnopqrstuvwxyz".utf8)
            return a.count == 13 && first.contains(a[0]) && a.dropFirst().allSatisfy { rest.contains($0) }
        }
        let attempt = AttemptKey(attemptId: "att-42", startedAtMicros: 1_767_225_600_123_456)
        let rkey = attempt.blueskyRecordKey
        #expect(pattern(rkey))
        #expect(TID.isValid(rkey))
        #expect(AttemptKey(attemptId: "att-42", startedAtMicros: 1_767_225_600_123_456).blueskyRecordKey == rkey)
        #expect(AttemptKey(attemptId: "att-43", startedAtMicros: 1_767_225_600_123_456).blueskyRecordKey != rkey)
        let decoded = try #require(TID(rkey))
        #expect(decoded.micros == 1_767_225_600_123_456)
        #expect(decoded.clockId == attempt.clockId)
        let later = AttemptKey(attemptId: "att-42", startedAtMicros: 1_767_225_600_123_457).blueskyRecordKey
        #expect(later > rkey)
        #expect(TID(micros: 0, clockId: 0).string == "2222222222222")
        #expect(TID(micros: (1 << 53) - 1, clockId: 1023).string == "bzzzzzzzzzzzz")  // the top bit is always 0
        for bad in ["", "3jzfcijpj2z2", "3jzfcijpj2z2aa", "kjzfcijpj2z2a", "3jzfcijpj2z2A", "3jzfcijpj2z21"] {
            #expect(!TID.isValid(bad), "\(bad)")
        }
        var rng = SplitMix64(seed: 7)
        for _ in 0..<1000 {
            let t = TID(micros: Int64(rng.next() >> 12), clockId: UInt16(rng.next() & 1023))
            #expect(pattern(t.string))
            #expect(TID(t.string) == t)
        }
    }

    @Test("Mastodon idempotency keys: the attempt id, or a hash of an unsuitable one")
    func idempotencyKey() {
        #expect(AttemptKey(attemptId: "01HZX-attempt-7", startedAtMicros: 0).mastodonIdempotencyKey == "01HZX-attempt-7")
        let odd = AttemptKey(attemptId: "with space é", startedAtMicros: 0).mastodonIdempotencyKey
        #expect(odd.hasPrefix("sp-") && odd.count == 43)
    }

    @Test("normalization matches rewritten URLs, folded whitespace, Mastodon HTML")
    func normalization() {
        let sent = "Launch day!  Read https://example.com/blog/launch?utm=x\n\nThanks @bob@example.social"
        let xShows = "Launch day! Read https://t.co/AbC123xyZ Thanks @bob@example.social"
        let mastodonHTML = #"<p>Launch day!  Read <a href="https://example.com/blog/launch?utm=x" rel="nofollow noopener noreferrer" target="_blank"><span class="invisible">https://</span><span class="ellipsis">example.com/blog/launc</span><span class="invisible">h?utm=x</span></a></p><p>Thanks <span class="h-card"><a href="https://example.social/@bob" class="u-url mention">@<span>bob</span></a></span></p>"#
        #expect(ContentNormalizer.matches(sent, xShows))
        #expect(ContentNormalizer.matches(sent, HTMLText.plainText(mastodonHTML)))
        #expect(ContentNormalizer.hash(sent) == ContentNormalizer.hash(xShows))
        #expect(ContentNormalizer.hash(sent).count == 64)
        #expect(!ContentNormalizer.matches(sent, "Launch day! Read https://t.co/x Thanks @alice"))
        #expect(ContentNormalizer.matches("e\u{0301}t\u{00E9}", "\u{00E9}te\u{0301}"))
        #expect(ContentNormalizer.normalize("  a \u{00A0}\t b\u{200B}c  ") == "a b c")
        #expect(HTMLText.plainText("<p>a &amp; b &lt;c&gt; &#39;q&#x27; &quot;</p>") == "a & b <c> 'q' \"")
        #expect(HTMLText.plainText("<p>one<br>two<br/>three</p><p>four</p>") == "one\ntwo\nthree\n\nfour")
        #expect(HTMLText.decodeEntities("R&amp;D &unknown; & done") == "R&D &unknown; & done")
    }

    @Test("redaction removes tokens, passwords and JWTs from anything shown")
    func redaction() {
        let r = Redactor(secrets: ["sekrit-access-123", "app-pass-xyz"])
        let text = #"{"accessJwt":"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkaWQifQ.c2ln","refreshJwt": "abc\"def","password":"app-pass-xyz","note":"uses sekrit-access-123"} Authorization: Bearer qwerty grant_type=refresh_token&refresh_token=r0tated&client_id=cid"#
        let out = r.redact(text)
        for secret in ["eyJhbGciOiJIUzI1NiJ9", "abc\\\"def", "app-pass-xyz", "sekrit-access-123", "qwerty", "r0tated"] {
            #expect(!out.contains(secret), "\(secret) leaked: \(out)")
        }
        #expect(out.contains("client_id=cid"))
        #expect(out.contains("grant_type=refresh_token"))
    }

    @Test("credentials files parse per INTERFACE.md and never print secrets")
    func credentials() throws {
        let x = try Credentials.parse(#"{"access_token": "AT-1", "refresh_token": "RT-1", "client_id": "cid", "web_password": "w"}"#, platform: .x)
        #expect(x == .x(XCredentials(accessToken: "AT-1", refreshToken: "RT-1", clientId: "cid")))
        #expect(!x.description.contains("AT-1") && !x.description.contains("RT-1"))
        let m = try Credentials.parse(#"{"access_token": "mastodon-token-1"}"#, platform: .mastodon)
        #expect(m.platform == .mastodon && !m.description.contains("mastodon-token-1"))
        let b = try Credentials.parse(#"{"identifier": "alice.bsky.social", "password": "abcd-efgh"}"#, platform: .bluesky)
        #expect(b == .bluesky(BlueskyCredentials(identifier: "alice.bsky.social", password: "abcd-efgh")))
        #expect(!b.description.contains("abcd-efgh"))
        let missing = #expect(throws: CredentialsError.self) { try Credentials.parse(#"{"identifier": "a"}"#, platform: .bluesky) }
        #expect(missing?.description.contains("password") == true)
        let broken = #expect(throws: CredentialsError.self) { try Credentials.parse(#"{"access_token": "TOPSECRET"#, platform: .x) }
        #expect(broken?.description.contains("TOPSECRET") == false)
        let tokens = SessionTokens(accessToken: "A1", refreshToken: "R1", accessExpiresAtMs: 99, userId: "did:plc:x", handle: "h")
        #expect(try SessionTokens(json: tokens.json) == tokens)
        #expect(!tokens.description.contains("A1") && !tokens.description.contains("R1"))
    }

    @Test("Mastodon Link headers: the next page's max_id only")
    func linkHeader() {
        let h = #"<https://m.example/api/v1/accounts/1/statuses?limit=40&max_id=109>; rel="next", <https://m.example/api/v1/accounts/1/statuses?limit=40&min_id=150>; rel="prev""#
        #expect(MastodonAdapter.nextMaxId(linkHeaders: [h]) == "109")
        #expect(MastodonAdapter.nextMaxId(linkHeaders: [#"<https://m.example/x?min_id=3>; rel="prev""#]) == nil)
        #expect(MastodonAdapter.nextMaxId(linkHeaders: [#"<https://m.example/x?a=1,2&max_id=7>; rel=next"#]) == "7")
        #expect(MastodonAdapter.nextMaxId(linkHeaders: []) == nil)
    }

    @Test("at:// URIs")
    func atURI() {
        let p = BlueskyAdapter.parseURI("at://did:plc:abc/app.bsky.feed.post/3jzfcijpj2z2a")
        #expect(p?.repo == "did:plc:abc" && p?.collection == "app.bsky.feed.post" && p?.rkey == "3jzfcijpj2z2a")
        #expect(BlueskyAdapter.parseURI("https://bsky.app/x") == nil)
        #expect(BlueskyAdapter.parseURI("at://did:plc:abc/app.bsky.feed.post") == nil)
    }
}
