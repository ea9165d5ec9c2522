import Testing
@testable import SteadyAPI

/// The dashboard's and /metrics' escapers, on the strings that beat escaping by
/// `Character`: a mark that joins the `<` after it into one grapheme, `"\r\n"`, bidi
/// overrides, NUL, U+2028, quotes.
@Suite("escaping by scalar", .timeLimit(.minutes(1)))
struct EscapingTests {
    static let hostile: [String] = [
        "\u{0600}<img src=x onerror=alert(1)>",        // Arabic number sign: a prepended mark
        "\u{0301}<script>alert(1)</script>",           // a combining acute accent before <
        "a\u{0301}<b>\u{20DD}>",                        // combining marks on both sides
        "\u{200D}<svg onload=alert(1)>",               // zero-width joiner
        "\u{202E}<i>gnp.exe</i>\u{202C}",              // bidi override
        "line\r\n<p>two</p>\r\u{2028}\u{2029}\u{85}",   // CR LF (one Character), LS, PS, NEL
        "nul\u{0}<x>",
        "\"'><img src=x onerror=alert(1)>",
        "'\u{0301}\"\u{0301}&\u{0301}amp;",            // quotes and & with marks on them
        "日本語 ✓ é",
    ]

    @Test("HTML.escape leaves no markup scalar raw, whatever graphemes it is part of", arguments: hostile)
    func htmlEscapeByScalar(_ text: String) {
        let escaped = HTML.escape(text)
        for u in escaped.unicodeScalars {
            #expect(!["<", ">", "\"", "'"].contains(u), "raw \(u) in \(escaped.debugDescription)")
        }
        // Every & starts one of the five references.
        let ampersands = escaped.unicodeScalars.filter { $0 == "&" }.count
        let references = ["&amp;", "&lt;", "&gt;", "&quot;", "&#39;"].map { escaped.pieces(splitAt: $0).count - 1 }.reduce(0, +)
        #expect(ampersands == references, "\(escaped.debugDescription)")
        // And decoding it gives the text back (NUL as U+FFFD, as HTML parsers make it).
        var decoded = escaped
        for (entity, raw) in [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&#39;", "'"), ("&amp;", "&")] {
            decoded = decoded.pieces(splitAt: entity).joined(separator: raw)
        }
        let expected = String(String.UnicodeScalarView(text.unicodeScalars.map { $0 == "\u{0}" ? "\u{FFFD}" : $0 }))
        #expect(Array(decoded.unicodeScalars) == Array(expected.unicodeScalars))
    }

    @Test("the Character-walking escaper's misses are caught: the mark stays, the < is escaped")
    func prependedMarkBeforeLessThan() {
        #expect(HTML.escape("\u{0600}<img src=x onerror=alert(1)>") == "\u{0600}&lt;img src=x onerror=alert(1)&gt;")
        #expect(HTML.escape("\u{0301}<") == "\u{0301}&lt;")
        #expect(HTML.escape("\"\u{0301}") == "&quot;\u{0301}")
    }

    @Test("a /metrics label value cannot end its line or its quotes", arguments: [
        ("a\r\nb", "a\r\\nb"), ("\"\u{0301}} 1\nforged 2", "\\\"\u{0301}} 1\\nforged 2"), ("back\\slash", "back\\\\slash"),
    ])
    func metricsLabelByScalar(_ value: String, _ expected: String) {
        let escaped = MetricsWriter.escape(value)
        #expect(escaped == expected)
        #expect(!escaped.unicodeScalars.contains("\n"))
        var w = MetricsWriter()
        w.sample("steadypost_test", [("name", value)], 1)
        #expect(w.text.unicodeScalars.filter { $0 == "\n" }.count == 1, "\(w.text.debugDescription)")
    }
}

extension String {
    /// The text between the occurrences of `separator`, matched scalar by scalar (matching
    /// Characters would miss `&` after U+0600, which joins it into one grapheme).
    func pieces(splitAt separator: String) -> [String] {
        let scalars = Array(unicodeScalars), sep = Array(separator.unicodeScalars)
        var parts: [String] = []
        var current = String.UnicodeScalarView()
        var i = 0
        while i < scalars.count {
            if i + sep.count <= scalars.count && Array(scalars[i..<(i + sep.count)]) == sep {
                parts.append(String(current))
                current = String.UnicodeScalarView()
                i += sep.count
            } else {
                current.append(scalars[i])
                i += 1
            }
        }
        parts.append(String(current))
        return parts
    }
}
