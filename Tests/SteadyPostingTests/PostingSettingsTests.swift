import SteadyConfig
import SteadyCore
import Testing

@testable import SteadyPosting

/// Where the posting worker's timing comes from: `[workers.posting] lease` in the config, and
/// in a build with the test hooks (the tests' debug build) the hook variables, which win.
@Suite("Posting settings from the config and the test hooks")
struct PostingSettingsTests {
    static func config(_ text: String) throws -> Config {
        try Config.parse(text, path: "/t.toml")
    }

    @Test func theLeaseComesFromTheConfig() throws {
        let configured = PostingSettings.from(config: try Self.config("[workers.posting]\nlease = \"10s\""), environment: [:])
        #expect(configured.leaseMillis == 10_000)
        // Request timeouts follow the lease: a quarter of it.
        #expect(configured.httpTimeoutMillis == 2_500)
        let defaulted = PostingSettings.from(config: try Self.config(""), environment: [:])
        #expect(defaulted.leaseMillis == 120_000)
        #expect(defaulted.httpTimeoutMillis == 30_000)
    }

    @Test func theHooksWinInABuildThatHasThem() throws {
        try #require(TestHooks.compiledIn, "the tests run a debug build, which has the test hooks")
        let env = ["STEADYPOST_POSTING_LEASE_MS": "7000", "STEADYPOST_POSTING_HTTP_TIMEOUT_MS": "1000",
                   "STEADYPOST_POSTING_QUOTA_HOUR_MS": "3000", "STEADYPOST_POSTING_SETTLE_MS": "1500",
                   "STEADYPOST_POSTING_BREAKER_OPEN_MS": "700"]
        let s = PostingSettings.from(config: try Self.config("[workers.posting]\nlease = \"10s\""), environment: env)
        #expect(s.leaseMillis == 7_000)
        #expect(s.httpTimeoutMillis == 1_000)
        #expect(s.hourMillis == 3_000)
        #expect(s.settleMillis == 1_500)
        #expect(s.breakerOpenMillis == 700)
        // A value that is not a positive integer is ignored: the config's lease stands.
        #expect(PostingSettings.from(config: try Self.config("[workers.posting]\nlease = \"10s\""),
                                     environment: ["STEADYPOST_POSTING_LEASE_MS": "soon"]).leaseMillis == 10_000)
    }
}
