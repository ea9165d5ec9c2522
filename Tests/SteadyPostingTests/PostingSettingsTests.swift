import SteadyConfig
import Testing

@testable import SteadyPosting

/// Where the posting worker's timing comes from: `[workers.posting] lease` in the config.
@Suite("Posting settings from the config")
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
}
