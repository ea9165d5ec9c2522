import Testing
import SteadyCore
import SteadyHTTP
@testable import SteadyPlatforms

/// The registry is the one list of platforms with behavior; `Platform.builtIn` is the list of
/// names a config may use. They must agree, or a configured account would have no adapter.
struct PlatformRegistryTests {
    @Test("every name a config may use has exactly one definition, and every built-in definition's name is one")
    func namesAndDefinitionsAgree() {
        let defined = PlatformRegistry.builtIn.map(\.platform)
        #expect(defined == Platform.builtIn)
        #expect(Set(defined).count == defined.count)
        for p in Platform.builtIn {
            #expect(PlatformRegistry.definition(for: p)?.platform == p)
            #expect(AdapterFactory.defaultBaseURL(p)?.hasPrefix("https://") == true)
        }
        #expect(PlatformRegistry.definition(for: Platform(rawValue: "myspace")!) == nil)
    }

    @Test("platform names: lowercase, short, starting with a letter; only built-in names are built in")
    func names() {
        for good in ["x", "mastodon", "linked-in2"] { #expect(Platform(rawValue: good) != nil, "\(good)") }
        for bad in ["", "X", "9x", "my space", "a/b", String(repeating: "a", count: 33), "é"] {
            #expect(Platform(rawValue: bad) == nil, "\(bad)")
        }
        #expect(Platform.x.isBuiltIn && !Platform(rawValue: "myspace")!.isBuiltIn)
    }

    @Test("each definition's credentials members come from its own list; secret members never show")
    func credentialsFromDefinitions() throws {
        for d in PlatformRegistry.builtIn {
            var members: [String] = []
            for f in d.credentialFields { members.append("\"\(f.name)\": \"value-of-\(f.name)-123\"") }
            let c = try Credentials.parse("{" + members.joined(separator: ", ") + "}", platform: d.platform)
            for f in d.credentialFields {
                #expect(c[f.name] == "value-of-\(f.name)-123")
                #expect(c.description.contains("value-of-\(f.name)") == !f.secret, "\(d.platform) \(f.name)")
                #expect(c.secrets.contains("value-of-\(f.name)-123") == f.secret)
            }
            #expect(AdapterFactory.make(credentials: c, baseURL: "http://127.0.0.1:9", client: HTTPClient()).platform == d.platform)
        }
    }

    @Test("each platform's rules come from its definition: idempotency material, retry base, text unit, error reading")
    func rulesFromDefinitions() {
        let key = AttemptKey(attemptId: "a_01", startedAtMicros: 1_700_000_000_000_000)
        #expect(XPlatform().idempotencyKey(for: key) == "a_01")
        #expect(MastodonPlatform().idempotencyKey(for: key) == key.mastodonIdempotencyKey)
        #expect(BlueskyPlatform().idempotencyKey(for: key) == key.blueskyRecordKey)
        #expect(RetryPolicy.noEffect(for: .x) == XPlatform().noEffectRetry)
        #expect(RetryPolicy.noEffect(for: .bluesky) == .noEffect)
        #expect(TextLength.measure("https://example.com/a", for: .x).count == 23)
        #expect(Classifier.defaultRateLimitPauseMs(.x) == 15 * 60_000)
        #expect(Classifier.defaultRateLimitPauseMs(Platform(rawValue: "myspace")!) == 5 * 60_000)
    }
}
