import Testing
import SteadyJSON

/// `JSON.parseStrict`, for what people and clients send: nothing is quietly replaced or
/// first-wins (issue 13, item 9).
@Suite("strict JSON for requests")
struct StrictParseTests {
    @Test("invalid UTF-8, lone surrogates and duplicate members are errors in strict mode, tolerated in lenient mode")
    func strictRefusesWhatLenientTolerates() throws {
        let cases: [([UInt8], String)] = [
            (Array(#"{"text":"caf"#.utf8) + [0xC3] + Array(#""}"#.utf8), "not valid UTF-8"),
            (Array(#"{"text":""#.utf8) + [0xED, 0xA0, 0x80] + Array(#""}"#.utf8), "not valid UTF-8"),  // an encoded surrogate
            (Array(#"{"text":"\ud800"}"#.utf8), "lone surrogate"),
            (Array(#"{"text":"\udc00x"}"#.utf8), "lone surrogate"),
            (Array(#"{"text":"\ud800\u0041"}"#.utf8), "lone surrogate"),
            (Array(#"{"a":1,"b":{"c":1,"c":2}}"#.utf8), "member \"c\" given twice"),
            (Array(#"{"text":"one","text":"two"}"#.utf8), "member \"text\" given twice"),
        ]
        for (bytes, reason) in cases {
            #expect(throws: JSON.ParseError.self) { _ = try JSON.parseStrict(bytes) }
            do { _ = try JSON.parseStrict(bytes) } catch {
                #expect(error.reason.contains(reason), "\(error)")
            }
            #expect(throws: Never.self) { _ = try JSON.parse(bytes) }
        }
        // Valid input parses the same both ways: pairs, escapes, the same key in two objects.
        let fine = Array(#"{"e":"\ud83d\ude00 é \u00e9","a":{"k":1},"b":{"k":2}}"#.utf8)
        #expect(try JSON.parseStrict(fine) == JSON.parse(fine))
        #expect(try JSON.parseStrict(fine)["e"]?.string == "😀 é é")
    }
}
