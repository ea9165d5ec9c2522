/// A JSON value, parsed without Foundation. Platform bodies vary (fields appear, disappear and
/// change spelling between API versions), so adapters read them as values and pick what they
/// need instead of decoding into rigid types; the protocol's Codable bodies go through it too
/// (`JSONCodable`), so the supervisor never loads Foundation. Malformed input is an error,
/// never a crash; nesting is bounded.
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(Double, raw: String)
    case string(String)
    case array([JSON])
    /// Members in document order (duplicates kept; lookups take the first).
    case object([(String, JSON)])

    public static func == (lhs: JSON, rhs: JSON) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a, _), .number(let b, _)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public subscript(key: String) -> JSON? {
        if case .object(let members) = self { return members.first { $0.0 == key }?.1 }
        return nil
    }

    public subscript(index: Int) -> JSON? {
        if case .array(let items) = self, items.indices.contains(index) { return items[index] }
        return nil
    }

    public var string: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    /// A string, or a number's literal text (ids arrive as either).
    public var stringOrNumber: String? {
        switch self {
        case .string(let s): return s
        case .number(_, let raw): return raw
        default: return nil
        }
    }

    public var int: Int? {
        switch self {
        case .number(let d, let raw): return Int(raw) ?? (d.isFinite && d == d.rounded() && abs(d) < 9e15 ? Int(d) : nil)
        case .string(let s): return Int(s)
        default: return nil
        }
    }

    public var bool: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    public var array: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }

    /// An object's members, in document order (duplicates kept).
    public var members: [(String, JSON)]? {
        if case .object(let m) = self { return m }
        return nil
    }

    public var isObject: Bool {
        if case .object = self { return true }
        return false
    }

    public var isNull: Bool { self == .null }

    // MARK: building

    public init(_ s: String) { self = .string(s) }
    public init(_ i: Int) { self = .number(Double(i), raw: String(i)) }
    /// Any other integer type, its decimal text kept exactly (an `Int64` beyond 2^53 included).
    public init<I: BinaryInteger>(_ i: I) { self = .number(Double(i), raw: String(i)) }
    public static func obj(_ members: [(String, JSON?)]) -> JSON {
        .object(members.compactMap { k, v in v.map { (k, $0) } })
    }
    /// An object from a dictionary, members sorted by name: a dictionary has no order of its
    /// own, and the same members must always give the same text.
    public static func sorted(_ members: [String: JSON]) -> JSON {
        .object(members.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    // MARK: serialising

    /// Compact JSON text, members in order, non-ASCII kept as UTF-8, control characters escaped.
    public var serialized: String {
        var out = ""
        write(to: &out)
        return out
    }

    public var bytes: [UInt8] { Array(serialized.utf8) }

    private func write(to out: inout String) {
        switch self {
        case .null: out += "null"
        case .bool(let b): out += b ? "true" : "false"
        case .number(_, let raw): out += raw
        case .string(let s): JSON.writeString(s, to: &out)
        case .array(let items):
            out += "["
            for (i, item) in items.enumerated() {
                if i > 0 { out += "," }
                item.write(to: &out)
            }
            out += "]"
        case .object(let members):
            out += "{"
            for (i, (k, v)) in members.enumerated() {
                if i > 0 { out += "," }
                JSON.writeString(k, to: &out)
                out += ":"
                v.write(to: &out)
            }
            out += "}"
        }
    }

    private static func writeString(_ s: String, to out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x2028 || scalar.value == 0x2029 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    // MARK: parsing

    public struct ParseError: Error, Sendable, Equatable, CustomStringConvertible {
        public var offset: Int
        public var reason: String
        public var description: String { "invalid JSON at byte \(offset): \(reason)" }
    }

    public static func parse(_ text: String, maxDepth: Int = 64) throws(ParseError) -> JSON {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }

    /// Parses what a person or client sent (API bodies, batch lines): as `parse`, but invalid
    /// UTF-8, a lone surrogate escape and a member name given twice in one object are errors,
    /// not quietly replaced or first-wins. (Lenient `parse` stays for peers such as Chromium,
    /// whose page text may carry lone surrogates.)
    public static func parseStrict(_ bytes: [UInt8], maxDepth: Int = 64) throws(ParseError) -> JSON {
        try parse(bytes, maxDepth: maxDepth, strict: true)
    }

    public static func parse(_ bytes: [UInt8], maxDepth: Int = 64, strict: Bool = false) throws(ParseError) -> JSON {
        var parser = Parser(bytes: bytes, maxDepth: maxDepth, strict: strict)
        parser.skipSpace()
        let value = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.i == bytes.count else { throw ParseError(offset: parser.i, reason: "trailing characters") }
        return value
    }

    private struct Parser {
        let bytes: [UInt8]
        let maxDepth: Int
        let strict: Bool
        var i = 0

        init(bytes: [UInt8], maxDepth: Int, strict: Bool) {
            self.bytes = bytes
            self.maxDepth = maxDepth
            self.strict = strict
        }

        func fail(_ reason: String) -> ParseError { ParseError(offset: i, reason: reason) }

        mutating func skipSpace() {
            while i < bytes.count, bytes[i] == 0x20 || bytes[i] == 0x0A || bytes[i] == 0x0D || bytes[i] == 0x09 { i += 1 }
        }

        mutating func value(depth: Int) throws(ParseError) -> JSON {
            guard depth < maxDepth else { throw fail("nested deeper than \(maxDepth)") }
            guard i < bytes.count else { throw fail("unexpected end") }
            switch bytes[i] {
            case UInt8(ascii: "{"):
                i += 1
                var members: [(String, JSON)] = []
                // Strict mode's duplicate check, by hash: a body of many members must not
                // cost their square.
                var names = Set<String>()
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "}") {
                    i += 1
                    return .object(members)
                }
                while true {
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                    let keyStart = i
                    let key = try string()
                    if strict, !names.insert(key).inserted {
                        i = keyStart
                        throw fail("member \"\(key)\" given twice")
                    }
                    skipSpace()
                    guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                    i += 1
                    skipSpace()
                    members.append((key, try value(depth: depth + 1)))
                    skipSpace()
                    guard i < bytes.count else { throw fail("unexpected end in object") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members) }
                    throw fail("expected ',' or '}'")
                }
            case UInt8(ascii: "["):
                i += 1
                var items: [JSON] = []
                skipSpace()
                if i < bytes.count, bytes[i] == UInt8(ascii: "]") {
                    i += 1
                    return .array(items)
                }
                while true {
                    skipSpace()
                    items.append(try value(depth: depth + 1))
                    skipSpace()
                    guard i < bytes.count else { throw fail("unexpected end in array") }
                    if bytes[i] == UInt8(ascii: ",") { i += 1; continue }
                    if bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                    throw fail("expected ',' or ']'")
                }
            case UInt8(ascii: "\""):
                return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default:
                return try number()
            }
        }

        mutating func literal(_ word: StaticString) throws(ParseError) {
            let n = word.utf8CodeUnitCount
            guard i + n <= bytes.count else { throw fail("unexpected end") }
            for k in 0..<n where bytes[i + k] != word.utf8Start[k] { throw fail("invalid literal") }
            i += n
        }

        mutating func number() throws(ParseError) -> JSON {
            let start = i
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
            func digits(_ p: inout Parser) -> Int {
                let s = p.i
                while p.i < p.bytes.count, p.bytes[p.i] >= 48, p.bytes[p.i] <= 57 { p.i += 1 }
                return p.i - s
            }
            guard i < bytes.count, bytes[i] >= 48, bytes[i] <= 57 else { throw fail("unexpected character") }
            if bytes[i] == 48 { i += 1 } else { _ = digits(&self) }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                i += 1
                guard digits(&self) > 0 else { throw fail("expected digits after '.'") }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                guard digits(&self) > 0 else { throw fail("expected exponent digits") }
            }
            let raw = String(decoding: bytes[start..<i], as: UTF8.self)
            guard let d = Double(raw) else { throw fail("bad number") }
            return .number(d, raw: raw)
        }

        mutating func hex4() throws(ParseError) -> UInt32 {
            guard i + 4 <= bytes.count else { throw fail("short \\u escape") }
            var v: UInt32 = 0
            for _ in 0..<4 {
                let c = bytes[i]
                let d: UInt32
                switch c {
                case 48...57: d = UInt32(c - 48)
                case 65...70: d = UInt32(c - 55)
                case 97...102: d = UInt32(c - 87)
                default: throw fail("bad \\u escape")
                }
                v = v << 4 | d
                i += 1
            }
            return v
        }

        mutating func string() throws(ParseError) -> String {
            i += 1  // opening quote
            var out: [UInt8] = []
            while true {
                guard i < bytes.count else { throw fail("unterminated string") }
                let c = bytes[i]
                if c == UInt8(ascii: "\"") {
                    i += 1
                    break
                }
                if c < 0x20 { throw fail("control character in string") }
                if c != UInt8(ascii: "\\") {
                    out.append(c)
                    i += 1
                    continue
                }
                i += 1
                guard i < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    let escapeStart = i - 6
                    var lone = false
                    if (0xD800...0xDBFF).contains(scalar) {
                        // A surrogate pair, or a lone high surrogate (replaced).
                        if i + 6 <= bytes.count, bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                            let save = i
                            i += 2
                            let low = try hex4()
                            if (0xDC00...0xDFFF).contains(low) {
                                scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                            } else {
                                i = save
                                lone = true
                            }
                        } else {
                            lone = true
                        }
                    } else if (0xDC00...0xDFFF).contains(scalar) {
                        lone = true
                    }
                    if lone {
                        if strict {
                            i = escapeStart
                            throw fail("a lone surrogate escape is not a character")
                        }
                        scalar = 0xFFFD
                    }
                    out.append(contentsOf: Array(String(Unicode.Scalar(scalar) ?? "\u{FFFD}").utf8))
                default:
                    throw fail("bad escape")
                }
            }
            if strict {
                guard let text = String(validating: out, as: UTF8.self) else { throw fail("the string before this point is not valid UTF-8") }
                return text
            }
            return String(decoding: out, as: UTF8.self)
        }
    }
}
