import Testing

@testable import SteadyConfig

/// `[workers.posting] lease`: the posting worker's claim lease, the production form of what
/// the STEADYPOST_POSTING_LEASE_MS test hook does in tests.
@Suite("[workers.posting] lease")
struct PostingConfigTests {
    @Test func defaultIsTwoMinutes() throws {
        #expect(try Config.parse("", path: "/t.toml").posting.leaseMs == 120_000)
        #expect(PostingConfig.defaultLeaseMs == 120_000)
        #expect(try Config.parse("[workers.posting]\nenabled = true", path: "/t.toml").posting == PostingConfig())
    }

    @Test(arguments: [
        ("lease = \"10s\"", 10_000), ("lease = \"5s\"", 5_000), ("lease = \"1h\"", 3_600_000), ("lease = 90000", 90_000),
        ("lease = \"2.5m\"", 150_000),
    ] as [(String, Int64)])
    func accepted(line: String, millis: Int64) throws {
        #expect(try Config.parse("[workers.posting]\n\(line)", path: "/t.toml").posting.leaseMs == millis)
    }

    @Test(arguments: [
        ("[workers.posting]\nlease = \"4s\"", "t.toml:2: workers.posting.lease: must be between 5s and 1h, got 4s"),
        ("[workers.posting]\nlease = 4999", "t.toml:2: workers.posting.lease: must be between 5s and 1h, got 4999ms"),
        ("[workers.posting]\nlease = \"2h\"", "t.toml:2: workers.posting.lease: must be between 5s and 1h, got 2h"),
        (
            "[workers.posting]\n\nlease = \"soon\"",
            "t.toml:3: workers.posting.lease: invalid duration \"soon\" (use a number and ms, s, m or h, e.g. \"250ms\", \"1.5s\", \"2m\")"
        ),
        (
            "[workers.posting]\nlease = true",
            "t.toml:2: workers.posting.lease: expected a duration (a string such as \"1.5s\" or integer milliseconds), got a boolean"
        ),
    ] as [(String, String)])
    func refused(text: String, expected: String) {
        #expect(diagnostics(text) == [expected])
    }

    /// The posting worker's key only.
    @Test(arguments: ["metrics", "replies", "browser", "reconciler", "api"])
    func otherRolesRefuseIt(role: String) {
        let found = diagnostics("[workers.\(role)]\nlease = \"10s\"")
        #expect(found.count == 1)
        #expect(found.first?.hasPrefix("t.toml:2: workers.\(role).lease: unknown key") == true, "\(found)")
    }
}
