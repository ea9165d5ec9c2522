import Testing

@testable import SteadyConfig

/// Parses `text` and returns the node at the dotted path `keys`.
private func node(_ text: String, _ keys: String...) throws -> TOMLNode {
    let table = try TOMLParser.parse(text)
    return try #require(table.node(at: keys))
}

private func value(_ text: String, _ keys: String...) throws -> TOMLValue {
    let table = try TOMLParser.parse(text)
    return try #require(table.node(at: keys)).value
}

@Suite("TOML values")
struct TOMLValueTests {
    @Test(arguments: [
        ("a = \"hello\"", "hello"),
        ("a = \"\"", ""),
        ("a = \"tab\\there\"", "tab\there"),
        ("a = \"q\\\"uote\\\\back\"", "q\"uote\\back"),
        ("a = \"\\b\\f\\n\\r\"", "\u{08}\u{0C}\n\r"),
        ("a = \"\\u00e9\\U0001F600\"", "é😀"),
        ("a = \"caf\u{e9} \u{1F600}\"", "café 😀"),
        ("a = 'C:\\path\\no escapes'", "C:\\path\\no escapes"),
        ("a = ''", ""),
        ("a = \"\"\"\nline one\nline two\"\"\"", "line one\nline two"),
        ("a = \"\"\"one \\\n    two\"\"\"", "one two"),
        ("a = \"\"\"one \\   \n\n   two\"\"\"", "one two"),
        ("a = \"\"\"has \"quotes\" and \"\"two\"\"\"\"", "has \"quotes\" and \"\"two\""),
        ("a = \"\"\"\"\"\"\"", "\""),
        ("a = \"\"\"\r\ncrlf\r\nlines\"\"\"", "crlf\nlines"),
        ("a = '''\nraw \\n text\n'''", "raw \\n text\n"),
        ("a = '''it's'''''", "it's''"),
        ("a = \"\"\"\\u0041\\t\"\"\"", "A\t"),
    ])
    func strings(text: String, expected: String) throws {
        #expect(try value(text, "a") == .string(expected))
    }

    @Test(arguments: [
        ("a = 0", Int64(0)),
        ("a = +99", 99),
        ("a = -17", -17),
        ("a = -0", 0),
        ("a = 1_000_000", 1_000_000),
        ("a = 5_3_4", 534),
        ("a = 0xDEAD_beef", 0xDEAD_BEEF),
        ("a = 0o755", 0o755),
        ("a = 0b1101", 13),
        ("a = 9223372036854775807", Int64.max),
        ("a = -9223372036854775808", Int64.min),
        ("a = 0x7FFFFFFFFFFFFFFF", Int64.max),
    ])
    func integers(text: String, expected: Int64) throws {
        #expect(try value(text, "a") == .integer(expected))
    }

    @Test(arguments: [
        ("a = 1.5", 1.5),
        ("a = -0.25", -0.25),
        ("a = +3.0", 3.0),
        ("a = 5e3", 5000),
        ("a = 1E-2", 0.01),
        ("a = 6.626e-34", 6.626e-34),
        ("a = 1_000.000_1", 1000.0001),
        ("a = 0e0", 0),
        ("a = 0.1", 0.1),
        ("a = inf", Double.infinity),
        ("a = +inf", Double.infinity),
        ("a = -inf", -Double.infinity),
    ])
    func floats(text: String, expected: Double) throws {
        #expect(try value(text, "a") == .float(expected))
    }

    @Test func nan() throws {
        for text in ["a = nan", "a = +nan", "a = -nan"] {
            let v = try value(text, "a")
            #expect(v.floatValue?.isNaN == true)
        }
    }

    @Test func booleans() throws {
        #expect(try value("a = true", "a") == .boolean(true))
        #expect(try value("a = false", "a") == .boolean(false))
    }

    @Test func arrays() throws {
        let text = """
            a = [ 1, 2, 3 ]
            b = [
              "x",   # a comment
              'y',
              # another comment

              "z",   # trailing comma next
            ]
            c = []
            d = [ [1, 2], ["mixed", 3.5], { k = 1 } ]
            """
        let table = try TOMLParser.parse(text)
        #expect(table["a"]?.value.arrayValue?.map(\.value) == [.integer(1), .integer(2), .integer(3)])
        let b = try #require(table["b"]?.value.arrayValue)
        #expect(b.map(\.value) == [.string("x"), .string("y"), .string("z")])
        #expect(b.map(\.line) == [3, 4, 7])
        #expect(table["c"]?.value == .array([]))
        let d = try #require(table["d"]?.value.arrayValue)
        #expect(d.count == 3)
        #expect(d[0].value.arrayValue?.map(\.value) == [.integer(1), .integer(2)])
        #expect(d[2].value.tableValue?["k"]?.value == .integer(1))
    }

    @Test func inlineTables() throws {
        let table = try TOMLParser.parse("quota = { hourly = 30, daily = 300 }\nempty = {}\nnest = { a.b = 1, c = { d = 'x' } }")
        let quota = try #require(table["quota"]?.value.tableValue)
        #expect(quota.keys == ["hourly", "daily"])
        #expect(quota["hourly"]?.value == .integer(30))
        #expect(quota["daily"]?.value == .integer(300))
        #expect(table["empty"]?.value == .table(TOMLTable()))
        #expect(table.node(at: ["nest", "a", "b"])?.value == .integer(1))
        #expect(table.node(at: ["nest", "c", "d"])?.value == .string("x"))
    }

    @Test func keys() throws {
        let text = """
            bare_key-1 = 1
            "quoted key" = 2
            'literal.key' = 3
            "" = 4
            a.b.c = 5
            a . "d" . e = 6
            3.14 = 7
            """
        let table = try TOMLParser.parse(text)
        #expect(table.keys == ["bare_key-1", "quoted key", "literal.key", "", "a", "3"])
        #expect(table.node(at: ["a", "b", "c"])?.value == .integer(5))
        #expect(table.node(at: ["a", "d", "e"])?.value == .integer(6))
        #expect(table.node(at: ["3", "14"])?.value == .integer(7))
        #expect(table["literal.key"]?.line == 3)
        #expect(table.node(at: ["a", "d", "e"])?.line == 6)
        #expect(table["a"]?.line == 5)
    }

    @Test func tablesAndLines() throws {
        let text = """
            # leading comment
            top = 1

            [server]   # a comment after a header
            host = "h"
              port = 80

            [server.tls]
            cert = "c"

            [a.b.c]
            x = 1
            [a]
            y = 2
            """
        let table = try TOMLParser.parse(text)
        #expect(table["top"]?.line == 2)
        #expect(table["server"]?.line == 4)
        #expect(table.node(at: ["server", "host"])?.line == 5)
        #expect(table.node(at: ["server", "port"]) == TOMLNode(.integer(80), line: 6))
        #expect(table.node(at: ["server", "tls"])?.line == 8)
        #expect(table.node(at: ["server", "tls", "cert"])?.line == 9)
        #expect(table.node(at: ["a", "b", "c", "x"])?.value == .integer(1))
        #expect(table["a"]?.line == 13)  // defined by its own header after the implicit use
        #expect(table.node(at: ["a", "y"])?.line == 14)
        #expect(table.keys == ["top", "server", "a"])
    }

    @Test func arraysOfTables() throws {
        let text = """
            [[accounts]]
            name = "one"

            [[accounts]]
            name = "two"
            [accounts.quota]
            hourly = 1

            [[accounts]]
            name = "three"
            [[accounts.aliases]]
            n = 1
            [[accounts.aliases]]
            n = 2
            """
        let table = try TOMLParser.parse(text)
        let accounts = try #require(table["accounts"]?.value.arrayValue)
        #expect(accounts.map(\.line) == [1, 4, 9])
        #expect(accounts.map { $0.value.tableValue?["name"]?.value } == [.string("one"), .string("two"), .string("three")])
        #expect(accounts[1].value.tableValue?.node(at: ["quota", "hourly"])?.value == .integer(1))
        let aliases = try #require(accounts[2].value.tableValue?["aliases"]?.value.arrayValue)
        #expect(aliases.map(\.line) == [11, 13])
        #expect(aliases.map { $0.value.tableValue?["n"]?.value } == [.integer(1), .integer(2)])
    }

    @Test func subTablesUnderDottedKeysAreAllowed() throws {
        let text = """
            [fruit]
            apple.color = "red"
            apple.taste.sweet = true
            [fruit.apple.texture]
            smooth = true
            """
        let table = try TOMLParser.parse(text)
        #expect(table.node(at: ["fruit", "apple", "color"])?.value == .string("red"))
        #expect(table.node(at: ["fruit", "apple", "texture", "smooth"])?.value == .boolean(true))
    }

    @Test func whitespaceCommentsAndLineEndings() throws {
        let text = "\u{FEFF}# comment\r\n\t a = 1 # trailing\r\n\r\n[t]\r\nb = 'x'\r\n# end without newline"
        let table = try TOMLParser.parse(text)
        #expect(table["a"] == TOMLNode(.integer(1), line: 2))
        #expect(table.node(at: ["t", "b"]) == TOMLNode(.string("x"), line: 5))
        #expect(try TOMLParser.parse("") == TOMLTable())
        #expect(try TOMLParser.parse("\n\n  # only comments\n") == TOMLTable())
    }

    @Test func typeNames() {
        #expect(TOMLValue.string("").typeName == "a string")
        #expect(TOMLValue.integer(1).typeName == "an integer")
        #expect(TOMLValue.float(1).typeName == "a float")
        #expect(TOMLValue.boolean(true).typeName == "a boolean")
        #expect(TOMLValue.array([]).typeName == "an array")
        #expect(TOMLValue.table(TOMLTable()).typeName == "a table")
    }
}

@Suite("TOML errors")
struct TOMLErrorTests {
    /// Each malformed document with the line and message of its error.
    @Test(arguments: [
        // Redefinitions.
        ("a = 1\na = 2", 2, "key a is defined twice (first on line 1)"),
        ("[t]\nx = 1\n[t]", 3, "table [t] is defined twice (first on line 1)"),
        ("a.b = 1\n[a]", 2, "table [a] is already defined by dotted keys (line 1)"),
        ("[a]\nb = 1\n[a.b]", 3, "cannot define table [a.b]: a.b is already a value (line 2)"),
        ("a = { b = 1 }\n[a]", 2, "cannot define table [a]: a is already a value (line 1)"),
        ("a = { b = 1 }\na.c = 2", 2, "cannot add keys to a: it is already a value (line 1)"),
        ("[[a]]\n[a]", 2, "cannot define table [a]: a is already an array of tables (line 1)"),
        ("[a]\n[[a]]", 2, "cannot define array of tables [[a]]: a is already a table (line 1)"),
        ("a = []\n[[a]]", 2, "cannot define array of tables [[a]]: a is already a value (line 1)"),
        ("[a.b]\nc = 1\n[a]\nb.d = 2", 4, "cannot add keys to table a.b with dotted keys: it is defined on line 1"),
        ("a = 1\na.b = 2", 2, "cannot add keys to a: it is already a value (line 1)"),
        ("x = { a = 1, a = 2 }", 1, "key x.a is defined twice (first on line 1)"),
        ("[t]\na.b = 1\n[t.a]", 3, "table [t.a] is already defined by dotted keys (line 2)"),
        // Strings.
        ("a = \"open", 1, "unterminated string"),
        ("a = \"open\nb = 1", 1, "unterminated string (a \"...\" string must end on its line; use \"\"\" for several lines)"),
        ("a = 'open", 1, "unterminated string"),
        ("\n\na = \"\"\"\nnever closed\n", 3, "unterminated multi-line string (opened on line 3)"),
        ("a = '''\nnever closed", 1, "unterminated multi-line string (opened on line 1)"),
        ("a = \"bad \\x escape\"", 1, "invalid escape sequence \\x"),
        ("a = \"\\u12\"", 1, "invalid escape: \\u needs 4 hex digits"),
        ("a = \"\\UFFFFFFFF\"", 1, "invalid escape: U+FFFFFFFF is not a Unicode scalar value"),
        ("a = \"\\uD800\"", 1, "invalid escape: U+D800 is not a Unicode scalar value"),
        ("a = \"nul\u{0}\"", 1, "control character U+0000 in a string; use an escape"),
        ("a = \"\"\"x\"\"\"\"\"\"", 1, "too many quotes at the end of a multi-line string (at most two may precede the delimiter)"),
        ("\"\"\"k\"\"\" = 1", 1, "a multi-line string cannot be a key"),
        // Garbage after a value or header.
        ("a = 1 2", 1, "expected a newline after the value, found '2'"),
        ("a = \"x\" y", 1, "expected a newline after the value, found 'y'"),
        ("[t] x", 1, "expected a newline after the header [t], found 'x'"),
        ("a = true false", 1, "expected a newline after the value, found 'f'"),
        // Integers.
        ("a = 9223372036854775808", 1, "integer '9223372036854775808' is out of range (a signed 64-bit integer)"),
        ("a = -9223372036854775809", 1, "integer '-9223372036854775809' is out of range (a signed 64-bit integer)"),
        ("a = 0x8000000000000000", 1, "integer '0x8000000000000000' is out of range (a signed 64-bit integer)"),
        ("a = 0123", 1, "invalid integer '0123': leading zeros are not allowed"),
        ("a = 1__0", 1, "invalid integer '1__0'"),
        ("a = _1", 1, "expected a value, found '_'"),
        ("a = 1_", 1, "invalid integer '1_'"),
        ("a = 0xG1", 1, "invalid integer '0xG1'"),
        ("a = -0x10", 1, "invalid integer '-0x10'"),
        ("a = 0b102", 1, "invalid integer '0b102'"),
        ("a = 12abc", 1, "invalid integer '12abc'"),
        // Floats.
        ("a = 1.", 1, "invalid float '1.'"),
        ("a = .5", 1, "expected a value, found '.'"),
        ("a = 1e", 1, "invalid float '1e'"),
        ("a = 01.5", 1, "invalid float '01.5': leading zeros are not allowed"),
        ("a = 1e999", 1, "float '1e999' is out of range"),
        // Datetimes and bare words.
        ("when = 1979-05-27T07:32:00Z", 1, "datetimes are not supported here; use a string"),
        ("when = 1979-05-27", 1, "datetimes are not supported here; use a string"),
        ("when = 07:32:00", 1, "datetimes are not supported here; use a string"),
        ("a = hello", 1, "invalid value 'hello' (strings must be quoted)"),
        ("a = True", 1, "invalid value 'True' (strings must be quoted)"),
        // Structure.
        ("a =", 1, "expected a value, found end of file"),
        ("a = # nothing", 1, "expected a value after '=', found '#'"),
        ("a 1", 1, "expected '=' after the key a, found '1'"),
        ("= 1", 1, "expected a key, found '='"),
        ("a. = 1", 1, "expected a key, found '='"),
        ("[t", 1, "expected ']' to close the header [t], found end of file"),
        ("[[t]", 1, "expected ']]' to close the header [[t]], found ']'"),
        ("[[t] ]", 1, "expected ']]' to close the header [[t]], found ']'"),
        ("[]", 1, "expected a key, found ']'"),
        ("a = [1, 2", 1, "unterminated array (opened on line 1)"),
        ("a = [1 2]", 1, "expected ',' or ']' in the array, found '2'"),
        ("a = [,]", 1, "expected a value, found ','"),
        ("a = { b = 1", 1, "unterminated inline table (opened on line 1)"),
        ("a = { b = 1, }", 1, "trailing comma in an inline table"),
        ("a = { b = 1\n}", 1, "an inline table must be on one line; close it with '}' before the end of the line"),
        ("a = { b = 1 c = 2 }", 1, "expected ',' or '}' in the inline table, found 'c'"),
        ("a = 1\rb = 2", 1, "carriage return not followed by a line feed"),
        ("a = 1\n\r", 2, "carriage return not followed by a line feed"),
        ("# bad \u{7} bell", 1, "control character U+0007 in comment"),
        ("a = @", 1, "expected a value, found '@'"),
    ] as [(String, Int, String)])
    func errors(text: String, line: Int, message: String) {
        #expect(throws: TOMLParseError(line: line, message: message)) {
            try TOMLParser.parse(text)
        }
    }

    @Test func errorDescription() {
        #expect(TOMLParseError(line: 7, message: "unterminated string").description == "line 7: unterminated string")
    }

    @Test func nestingIsBounded() {
        let depth = 10_000
        let arrays = "a = " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(throws: TOMLParseError.self) { try TOMLParser.parse(arrays) }
        let inline = "a = " + String(repeating: "{b=", count: depth) + "1" + String(repeating: "}", count: depth)
        #expect(throws: TOMLParseError.self) { try TOMLParser.parse(inline) }
        let dotted = String(repeating: "a.", count: depth) + "a = 1"
        #expect(throws: TOMLParseError.self) { try TOMLParser.parse(dotted) }
        // Within the limit, nesting works.
        let ok = "a = " + String(repeating: "[", count: 20) + "1" + String(repeating: "]", count: 20)
        #expect(throws: Never.self) { try TOMLParser.parse(ok) }
    }
}
