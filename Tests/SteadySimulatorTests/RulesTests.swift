import SteadyCore
import Testing

@testable import SteadySimulator

@Suite("Length rules, TIDs, timestamps, JSON")
struct RulesTests {
    @Test(
        "X weighted length",
        arguments: [
            ("", 0), ("hello", 5), ("😀", 2), ("日本", 4), ("\u{2014}", 1), ("\u{2032}", 1), ("\u{2030}", 2),
            ("https://example.com/a/b/c/d/e/f/g/h/i/j", 23), ("see http://x.io.", 4 + 23 + 1), ("e\u{301}", 1),
            ("(https://example.com/x)", 25), ("nothttps://example.com", 22),
        ])
    func xLength(text: String, expected: Int) {
        #expect(TextRules.xWeightedLength(text) == expected)
    }

    @Test(
        "Mastodon length",
        arguments: [
            ("hello", 5), ("👍🏽", 1), ("https://example.com/" + String(repeating: "x", count: 100), 23),
            ("hi @alice@social.example.org", 9), ("mail me@home", 12),
        ])
    func mastodonLength(text: String, expected: Int) {
        #expect(TextRules.mastodonLength(text) == expected)
    }

    @Test("TIDs: made ones validate, sort by time and give their time back")
    func tids() {
        let early = Identifiers.tid(micros: 1_700_000_000_000_000, clockID: 5)
        let late = Identifiers.tid(micros: 1_700_000_000_000_001, clockID: 5)
        #expect(Identifiers.isTID(early) && Identifiers.isTID(late))
        #expect(early < late)
        #expect(Identifiers.tidMicros(early) == 1_700_000_000_000_000)
        #expect(!Identifiers.isTID("kaaaaaaaaaaaa"))
    }

    @Test("ISO 8601 round trips and offsets")
    func timestamps() {
        #expect(Timestamps.iso(ms: 0) == "1970-01-01T00:00:00.000Z")
        #expect(Timestamps.isoMicros(ms: 1_767_225_600_123) == "2026-01-01T00:00:00.123000Z")
        #expect(Timestamps.parse("2026-01-01T00:00:00.123Z") == 1_767_225_600_123)
        #expect(Timestamps.parse("2026-01-01T01:00:00+01:00") == 1_767_225_600_000)
        #expect(Timestamps.parse("2026-01-01T00:00:00.1234567Z") == 1_767_225_600_123)
        #expect(Timestamps.parse("2026-13-01T00:00:00Z") == nil)
        #expect(Timestamps.parse("yesterday") == nil)
        for ms: Int64 in [0, 951_782_400_000, 1_795_441_627_319, 4_102_444_799_999] {
            #expect(Timestamps.parse(Timestamps.iso(ms: ms)) == ms)
        }
    }

    @Test("JSON keeps member order and escapes")
    func json() {
        let value: JSON = ["b": 1, "a": ["x\n\"y\"", .null, true], "c": .double(0.5)]
        #expect(value.serialized == #"{"b":1,"a":["x\n\"y\"",null,true],"c":0.5}"#)
        #expect(JSON.parse(#"{"n": 1, "f": 1.5, "t": true, "s": "é"}"#) == ["f": .double(1.5), "n": 1, "s": "é", "t": true])
        #expect(JSON.parse("{") == nil)
    }

    @Test("same seed, same ids and tokens")
    func determinism() throws {
        func credentials(_ seed: UInt64) throws -> String? {
            let server = try SimulatorServer(
                configuration: SimulatorConfiguration(seed: seed, accounts: [SimulatorAccountSpec(platform: .x, name: "news-x")]))
            return server.credentialsJSON(of: "news-x")
        }
        #expect(try credentials(5) == credentials(5))
        #expect(try credentials(5) != credentials(6))
        #expect(SimulatorAccountSpec(argument: "bluesky:news-b") == SimulatorAccountSpec(platform: .bluesky, name: "news-b"))
        #expect(SimulatorAccountSpec(argument: "myspace:news") == nil)
        #expect(SimulatorAccountSpec(argument: "x:News") == nil)
    }
}
