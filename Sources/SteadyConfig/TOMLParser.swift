/// A TOML v1.0 parser for configuration files that records the line of every key.
///
/// Supported: comments; bare, quoted and dotted keys; `[table]` and `[[array.of.tables]]`
/// headers; basic, literal and multi-line strings with all v1.0 escapes; integers (decimal,
/// `0x`, `0o`, `0b`, `_` separators) within Int64; floats including `inf` and `nan`;
/// booleans; arrays; inline tables. Datetimes are rejected with a message asking for a string.
///
/// The parser never traps on any input: every malformed document, including integers out of
/// range and nesting deeper than `maxNestingDepth`, yields a `TOMLParseError` with its line.
public enum TOMLParser {
    /// The deepest nesting of tables and arrays accepted; deeper documents are an error.
    public static let maxNestingDepth = 64

    /// Parses a whole document into its root table.
    public static func parse(_ text: String) throws(TOMLParseError) -> TOMLTable {
        var parser = TOMLByteParser(bytes: Array(text.utf8))
        return try parser.parseDocument()
    }
}

// MARK: - Document tree under construction

/// A table while the document is being read. Reference semantics so that the current
/// `[header]` table can be filled in place.
private final class TableBuilder {
    enum Kind {
        case root
        /// Created as an intermediate of a `[a.b.c]` header; may still be defined later.
        case implicit
        /// Defined by its own `[header]`.
        case header
        /// Created by a dotted key `a.b = 1`.
        case dotted
        /// An element of an array of tables.
        case arrayElement
        /// An inline table `{ ... }`; never extended after its closing brace.
        case inline
    }

    enum Entry {
        case value(TOMLValue, line: Int)
        case table(TableBuilder)
        case tableArray([TableBuilder], line: Int)
    }

    var kind: Kind
    var line: Int
    let path: [String]
    let depth: Int
    var keys: [String] = []
    var entries: [String: Entry] = [:]

    init(kind: Kind, line: Int, path: [String], depth: Int) {
        self.kind = kind
        self.line = line
        self.path = path
        self.depth = depth
    }

    func insert(_ key: String, _ entry: Entry) {
        if entries.updateValue(entry, forKey: key) == nil { keys.append(key) }
    }

    func freeze() -> TOMLTable {
        var table = TOMLTable()
        for key in keys {
            guard let entry = entries[key] else { continue }
            switch entry {
            case .value(let value, let line):
                table[key] = TOMLNode(value, line: line)
            case .table(let inner):
                table[key] = TOMLNode(.table(inner.freeze()), line: inner.line)
            case .tableArray(let elements, let line):
                let nodes = elements.map { TOMLNode(.table($0.freeze()), line: $0.line) }
                table[key] = TOMLNode(.array(nodes), line: line)
            }
        }
        return table
    }
}

// MARK: - Byte-level parser

private enum ASCII {
    static let tab = UInt8(ascii: "\t")
    static let lf = UInt8(ascii: "\n")
    static let cr = UInt8(ascii: "\r")
    static let space = UInt8(ascii: " ")
    static let quote = UInt8(ascii: "\"")
    static let apostrophe = UInt8(ascii: "'")
    static let backslash = UInt8(ascii: "\\")
    static let hash = UInt8(ascii: "#")
    static let equals = UInt8(ascii: "=")
    static let dot = UInt8(ascii: ".")
    static let comma = UInt8(ascii: ",")
    static let lbracket = UInt8(ascii: "[")
    static let rbracket = UInt8(ascii: "]")
    static let lbrace = UInt8(ascii: "{")
    static let rbrace = UInt8(ascii: "}")
    static let plus = UInt8(ascii: "+")
    static let minus = UInt8(ascii: "-")
    static let underscore = UInt8(ascii: "_")
    static let colon = UInt8(ascii: ":")
    static let zero = UInt8(ascii: "0")
    static let nine = UInt8(ascii: "9")

    static func isDigit(_ c: UInt8) -> Bool { c >= zero && c <= nine }

    static func isLetter(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
    }

    static func hexValue(_ c: UInt8) -> UInt32? {
        switch c {
        case zero...nine: UInt32(c - zero)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(c - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(c - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Control characters other than tab, which TOML forbids in strings and comments.
    static func isForbiddenControl(_ c: UInt8) -> Bool {
        (c < 0x20 && c != tab) || c == 0x7F
    }
}

private struct TOMLByteParser {
    /// At most this many components in one dotted key or header.
    static let maxKeyComponents = 32

    let bytes: [UInt8]
    var index = 0
    var line = 1
    let root: TableBuilder
    var current: TableBuilder

    init(bytes: [UInt8]) {
        self.bytes = bytes
        let root = TableBuilder(kind: .root, line: 1, path: [], depth: 0)
        self.root = root
        self.current = root
    }

    // MARK: Reading

    @inline(__always)
    func peek(_ offset: Int = 0) -> UInt8? {
        let j = index + offset
        return j < bytes.count ? bytes[j] : nil
    }

    @inline(__always)
    mutating func advance(_ n: Int = 1) {
        index = min(index + n, bytes.count)
    }

    func fail(_ message: String, line: Int? = nil) -> TOMLParseError {
        TOMLParseError(line: line ?? self.line, message: message)
    }

    /// Describes the byte at the cursor for an error message.
    func found() -> String {
        guard let c = peek() else { return "end of file" }
        return Self.describe(c)
    }

    static func describe(_ c: UInt8) -> String {
        switch c {
        case ASCII.lf, ASCII.cr: return "end of line"
        case ASCII.tab: return "a tab"
        case 0x20...0x7E: return "'\(Character(Unicode.Scalar(c)))'"
        case 0x80...: return "a non-ASCII character"
        default: return "control character U+\(hex4(UInt32(c)))"
        }
    }

    mutating func skipSpaces() {
        // Hot loops index `bytes` directly with literal bytes: nothing is inlined in debug
        // builds, and the fuzz tests run there.
        var j = index
        let n = bytes.count
        while j < n {
            let c = bytes[j]
            guard c == 0x20 || c == 0x09 else { break }
            j += 1
        }
        index = j
    }

    /// At a newline (LF or CRLF)? A bare CR is an error.
    mutating func consumeNewline() throws(TOMLParseError) -> Bool {
        guard let c = peek() else { return false }
        if c == ASCII.lf {
            advance()
            line += 1
            return true
        }
        if c == ASCII.cr {
            guard peek(1) == ASCII.lf else { throw fail("carriage return not followed by a line feed") }
            advance(2)
            line += 1
            return true
        }
        return false
    }

    /// Skips a comment starting at `#`, up to (not including) the end of the line.
    mutating func skipComment() throws(TOMLParseError) {
        guard peek() == ASCII.hash else { return }
        var j = index + 1
        let n = bytes.count
        while j < n {
            let c = bytes[j]
            if c < 0x20 || c == 0x7F {
                if c == 0x0A || (c == 0x0D && j + 1 < n && bytes[j + 1] == 0x0A) { break }
                if c != 0x09 {
                    index = j
                    throw fail("control character U+\(hex4(UInt32(c))) in comment")
                }
            }
            j += 1
        }
        index = j
    }

    /// Skips spaces, comments and newlines (inside arrays).
    mutating func skipBlank() throws(TOMLParseError) {
        while true {
            skipSpaces()
            if peek() == ASCII.hash { try skipComment() }
            if try !consumeNewline() { return }
        }
    }

    /// After a key/value pair or a header: spaces, an optional comment, then a newline or EOF.
    mutating func expectLineEnd(after what: String) throws(TOMLParseError) {
        skipSpaces()
        if peek() == ASCII.hash { try skipComment() }
        if peek() == nil { return }
        if try consumeNewline() { return }
        throw fail("expected a newline after \(what), found \(found())")
    }

    // MARK: Document

    mutating func parseDocument() throws(TOMLParseError) -> TOMLTable {
        // A UTF-8 byte order mark is allowed at the very start.
        if bytes.count >= 3, bytes[0] == 0xEF, bytes[1] == 0xBB, bytes[2] == 0xBF { advance(3) }
        while true {
            skipSpaces()
            guard let c = peek() else { break }
            switch c {
            case ASCII.hash:
                try skipComment()
                try expectLineEnd(after: "a comment")
            case ASCII.lf, ASCII.cr:
                _ = try consumeNewline()
            case ASCII.lbracket:
                try parseHeader()
            default:
                try parseKeyValue(into: current)
                try expectLineEnd(after: "the value")
            }
        }
        return root.freeze()
    }

    // MARK: Keys

    /// A key: one or more simple keys separated by dots, with optional spaces around dots.
    mutating func parseKey() throws(TOMLParseError) -> [String] {
        var components: [String] = []
        while true {
            skipSpaces()
            guard let c = peek() else { throw fail("expected a key, found end of file") }
            if isBareKeyByte(c) {
                let start = index
                var j = index
                let n = bytes.count
                while j < n {
                    let b = bytes[j]
                    guard (b >= 0x61 && b <= 0x7A) || (b >= 0x41 && b <= 0x5A) || (b >= 0x30 && b <= 0x39) || b == 0x5F
                        || b == 0x2D
                    else { break }
                    j += 1
                }
                index = j
                components.append(String(decoding: bytes[start..<index], as: UTF8.self))
            } else if c == ASCII.quote {
                if peek(1) == ASCII.quote && peek(2) == ASCII.quote {
                    throw fail("a multi-line string cannot be a key")
                }
                components.append(try parseBasicString())
            } else if c == ASCII.apostrophe {
                if peek(1) == ASCII.apostrophe && peek(2) == ASCII.apostrophe {
                    throw fail("a multi-line string cannot be a key")
                }
                components.append(try parseLiteralString())
            } else {
                throw fail("expected a key, found \(found())")
            }
            if components.count > Self.maxKeyComponents {
                throw fail("key has more than \(Self.maxKeyComponents) dotted parts")
            }
            skipSpaces()
            if peek() == ASCII.dot {
                advance()
            } else {
                return components
            }
        }
    }

    // MARK: Headers

    mutating func parseHeader() throws(TOMLParseError) {
        let headerLine = line
        advance()  // [
        let isArray = peek() == ASCII.lbracket
        if isArray { advance() }
        let path = try parseKey()
        skipSpaces()
        let display = tomlKeyPathText(path)
        if isArray {
            guard peek() == ASCII.rbracket, peek(1) == ASCII.rbracket else {
                throw fail("expected ']]' to close the header [[\(display)]], found \(found())")
            }
            advance(2)
        } else {
            guard peek() == ASCII.rbracket else {
                throw fail("expected ']' to close the header [\(display)], found \(found())")
            }
            advance()
        }
        try expectLineEnd(after: isArray ? "the header [[\(display)]]" : "the header [\(display)]")

        // Walk to the parent of the last component.
        var table = root
        for (n, key) in path.dropLast().enumerated() {
            let sub = Array(path[0...n])
            switch table.entries[key] {
            case nil:
                let created = try makeTable(kind: .implicit, line: headerLine, path: sub, parent: table)
                table.insert(key, .table(created))
                table = created
            case .table(let inner):
                table = inner
            case .tableArray(let elements, _):
                guard let last = elements.last else { throw fail("internal: empty array of tables", line: headerLine) }
                table = last
            case .value(_, let definedLine):
                throw fail(
                    "cannot define table \(display): \(tomlKeyPathText(sub)) is already a value (line \(definedLine))",
                    line: headerLine)
            }
        }
        guard let last = path.last else { throw fail("expected a key in the table header", line: headerLine) }

        if isArray {
            switch table.entries[last] {
            case nil:
                let element = try makeTable(kind: .arrayElement, line: headerLine, path: path, parent: table)
                table.insert(last, .tableArray([element], line: headerLine))
                current = element
            case .tableArray(var elements, let firstLine):
                let element = try makeTable(kind: .arrayElement, line: headerLine, path: path, parent: table)
                elements.append(element)
                table.insert(last, .tableArray(elements, line: firstLine))
                current = element
            case .table(let inner):
                throw fail(
                    "cannot define array of tables [[\(display)]]: \(display) is already a table (line \(inner.line))",
                    line: headerLine)
            case .value(_, let definedLine):
                throw fail(
                    "cannot define array of tables [[\(display)]]: \(display) is already a value (line \(definedLine))",
                    line: headerLine)
            }
        } else {
            switch table.entries[last] {
            case nil:
                let created = try makeTable(kind: .header, line: headerLine, path: path, parent: table)
                table.insert(last, .table(created))
                current = created
            case .table(let inner):
                switch inner.kind {
                case .implicit:
                    inner.kind = .header
                    inner.line = headerLine
                    current = inner
                case .dotted:
                    throw fail(
                        "table [\(display)] is already defined by dotted keys (line \(inner.line))", line: headerLine)
                default:
                    throw fail("table [\(display)] is defined twice (first on line \(inner.line))", line: headerLine)
                }
            case .tableArray(_, let firstLine):
                throw fail(
                    "cannot define table [\(display)]: \(display) is already an array of tables (line \(firstLine))",
                    line: headerLine)
            case .value(_, let definedLine):
                throw fail(
                    "cannot define table [\(display)]: \(display) is already a value (line \(definedLine))",
                    line: headerLine)
            }
        }
    }

    func makeTable(kind: TableBuilder.Kind, line: Int, path: [String], parent: TableBuilder) throws(TOMLParseError)
        -> TableBuilder
    {
        let depth = parent.depth + 1
        if depth > TOMLParser.maxNestingDepth {
            throw fail("tables nested more than \(TOMLParser.maxNestingDepth) levels deep", line: line)
        }
        return TableBuilder(kind: kind, line: line, path: path, depth: depth)
    }

    // MARK: Key/value pairs

    /// `key = value`, inserted into `table` (the current section or an inline table).
    mutating func parseKeyValue(into table: TableBuilder) throws(TOMLParseError) {
        let keyLine = line
        let keys = try parseKey()
        skipSpaces()
        guard peek() == ASCII.equals else {
            throw fail("expected '=' after the key \(tomlKeyPathText(keys)), found \(found())")
        }
        advance()
        skipSpaces()
        let value = try parseValue(depth: table.depth + keys.count, keyPath: table.path + keys)
        try insert(value, at: keys, line: keyLine, into: table)
    }

    func insert(_ value: TOMLValue, at keys: [String], line keyLine: Int, into start: TableBuilder)
        throws(TOMLParseError)
    {
        var table = start
        for (n, key) in keys.dropLast().enumerated() {
            let sub = start.path + keys[0...n]
            switch table.entries[key] {
            case nil:
                let created = try makeTable(kind: .dotted, line: keyLine, path: sub, parent: table)
                table.insert(key, .table(created))
                table = created
            case .table(let inner):
                switch inner.kind {
                case .dotted:
                    table = inner
                case .implicit:
                    inner.kind = .dotted
                    table = inner
                default:
                    throw fail(
                        "cannot add keys to table \(tomlKeyPathText(sub)) with dotted keys: it is defined on line \(inner.line)",
                        line: keyLine)
                }
            case .tableArray(_, let firstLine):
                throw fail(
                    "cannot add keys to \(tomlKeyPathText(sub)): it is an array of tables (line \(firstLine))",
                    line: keyLine)
            case .value(_, let definedLine):
                throw fail(
                    "cannot add keys to \(tomlKeyPathText(sub)): it is already a value (line \(definedLine))",
                    line: keyLine)
            }
        }
        guard let last = keys.last else { throw fail("expected a key", line: keyLine) }
        var full: String { tomlKeyPathText(start.path + keys) }
        switch table.entries[last] {
        case nil:
            table.insert(last, .value(value, line: keyLine))
        case .value(_, let definedLine):
            throw fail("key \(full) is defined twice (first on line \(definedLine))", line: keyLine)
        case .table(let inner):
            throw fail("key \(full) is already a table (line \(inner.line))", line: keyLine)
        case .tableArray(_, let firstLine):
            throw fail("key \(full) is already an array of tables (line \(firstLine))", line: keyLine)
        }
    }

    // MARK: Values

    mutating func parseValue(depth: Int, keyPath: [String]) throws(TOMLParseError) -> TOMLValue {
        if depth > TOMLParser.maxNestingDepth {
            throw fail("values nested more than \(TOMLParser.maxNestingDepth) levels deep")
        }
        guard let c = peek() else { throw fail("expected a value, found end of file") }
        switch c {
        case ASCII.quote:
            if peek(1) == ASCII.quote && peek(2) == ASCII.quote { return .string(try parseMultilineString(quote: ASCII.quote, escapes: true)) }
            return .string(try parseBasicString())
        case ASCII.apostrophe:
            if peek(1) == ASCII.apostrophe && peek(2) == ASCII.apostrophe {
                return .string(try parseMultilineString(quote: ASCII.apostrophe, escapes: false))
            }
            return .string(try parseLiteralString())
        case ASCII.lbracket:
            return try parseArray(depth: depth, keyPath: keyPath)
        case ASCII.lbrace:
            return try parseInlineTable(depth: depth, keyPath: keyPath)
        case ASCII.lf, ASCII.cr, ASCII.hash:
            throw fail("expected a value after '=', found \(found())")
        default:
            if ASCII.isDigit(c) || ASCII.isLetter(c) || c == ASCII.plus || c == ASCII.minus {
                return try parseScalarToken()
            }
            throw fail("expected a value, found \(found())")
        }
    }

    mutating func parseArray(depth: Int, keyPath: [String]) throws(TOMLParseError) -> TOMLValue {
        let startLine = line
        advance()  // [
        var items: [TOMLNode] = []
        while true {
            try skipBlank()
            guard let c = peek() else { throw fail("unterminated array (opened on line \(startLine))", line: startLine) }
            if c == ASCII.rbracket {
                advance()
                return .array(items)
            }
            let itemLine = line
            let value = try parseValue(depth: depth + 1, keyPath: keyPath)
            items.append(TOMLNode(value, line: itemLine))
            try skipBlank()
            guard let next = peek() else {
                throw fail("unterminated array (opened on line \(startLine))", line: startLine)
            }
            if next == ASCII.comma {
                advance()
            } else if next == ASCII.rbracket {
                advance()
                return .array(items)
            } else {
                throw fail("expected ',' or ']' in the array, found \(found())")
            }
        }
    }

    mutating func parseInlineTable(depth: Int, keyPath: [String]) throws(TOMLParseError) -> TOMLValue {
        let startLine = line
        advance()  // {
        let table = TableBuilder(kind: .inline, line: startLine, path: keyPath, depth: depth)
        skipSpaces()
        if peek() == ASCII.rbrace {
            advance()
            return .table(table.freeze())
        }
        while true {
            skipSpaces()
            if peek() == ASCII.lf || peek() == ASCII.cr {
                throw fail("an inline table must be on one line; close it with '}' before the end of the line")
            }
            if peek() == nil { throw fail("unterminated inline table (opened on line \(startLine))", line: startLine) }
            try parseKeyValue(into: table)
            skipSpaces()
            guard let c = peek() else {
                throw fail("unterminated inline table (opened on line \(startLine))", line: startLine)
            }
            if c == ASCII.comma {
                advance()
                skipSpaces()
                if peek() == ASCII.rbrace { throw fail("trailing comma in an inline table") }
            } else if c == ASCII.rbrace {
                advance()
                return .table(table.freeze())
            } else if c == ASCII.lf || c == ASCII.cr {
                throw fail("an inline table must be on one line; close it with '}' before the end of the line")
            } else {
                throw fail("expected ',' or '}' in the inline table, found \(found())")
            }
        }
    }

    // MARK: Strings

    /// `"..."` with escapes; on one line.
    mutating func parseBasicString() throws(TOMLParseError) -> String {
        advance()  // "
        var out: [UInt8] = []
        while true {
            // Copy the run of plain bytes at once.
            var j = index
            let n = bytes.count
            while j < n {
                let b = bytes[j]
                guard b != 0x22, b != 0x5C, b >= 0x20 || b == 0x09, b != 0x7F else { break }
                j += 1
            }
            if j > index {
                out.append(contentsOf: bytes[index..<j])
                index = j
            }
            guard let c = peek() else { throw fail("unterminated string") }
            switch c {
            case ASCII.quote:
                advance()
                return String(decoding: out, as: UTF8.self)
            case ASCII.backslash:
                try parseEscape(into: &out)
            case ASCII.lf, ASCII.cr:
                throw fail("unterminated string (a \"...\" string must end on its line; use \"\"\" for several lines)")
            default:
                if ASCII.isForbiddenControl(c) {
                    throw fail("control character U+\(hex4(UInt32(c))) in a string; use an escape")
                }
                out.append(c)
                advance()
            }
        }
    }

    /// `'...'` without escapes; on one line.
    mutating func parseLiteralString() throws(TOMLParseError) -> String {
        advance()  // '
        let start = index
        while true {
            guard let c = peek() else { throw fail("unterminated string") }
            if c == ASCII.apostrophe {
                let text = String(decoding: bytes[start..<index], as: UTF8.self)
                advance()
                return text
            }
            if c == ASCII.lf || c == ASCII.cr {
                throw fail("unterminated string (a '...' string must end on its line; use ''' for several lines)")
            }
            if ASCII.isForbiddenControl(c) {
                throw fail("control character U+\(hex4(UInt32(c))) in a string")
            }
            advance()
        }
    }

    /// `"""..."""` (`escapes`) or `'''...'''` (no escapes): a newline right after the opening
    /// delimiter is dropped; in a basic string, a backslash at the end of a line removes the
    /// line break and the leading blanks of the next line.
    mutating func parseMultilineString(quote: UInt8, escapes: Bool) throws(TOMLParseError) -> String {
        let startLine = line
        advance(3)
        _ = try consumeNewline()
        var out: [UInt8] = []
        while true {
            guard let c = peek() else {
                throw fail("unterminated multi-line string (opened on line \(startLine))", line: startLine)
            }
            switch c {
            case quote:
                if try closeMultiline(quote: quote, into: &out) {
                    return String(decoding: out, as: UTF8.self)
                }
            case ASCII.backslash where escapes:
                // Line-ending backslash: spaces, then a newline.
                var j = 1
                while let b = peek(j), b == ASCII.space || b == ASCII.tab { j += 1 }
                if let b = peek(j), b == ASCII.lf || (b == ASCII.cr && peek(j + 1) == ASCII.lf) {
                    advance(j)
                    while true {
                        skipSpaces()
                        if try !consumeNewline() { break }
                    }
                } else {
                    try parseEscape(into: &out)
                }
            case ASCII.lf:
                out.append(ASCII.lf)
                advance()
                line += 1
            case ASCII.cr:
                guard peek(1) == ASCII.lf else { throw fail("carriage return not followed by a line feed") }
                out.append(ASCII.lf)
                advance(2)
                line += 1
            default:
                if ASCII.isForbiddenControl(c) {
                    throw fail("control character U+\(hex4(UInt32(c))) in a string\(escapes ? "; use an escape" : "")")
                }
                out.append(c)
                advance()
            }
        }
    }

    /// At a run of quote characters inside a multi-line string: three or more close it (up to
    /// two extra quotes belong to the content); fewer are content. Returns true when closed.
    mutating func closeMultiline(quote: UInt8, into out: inout [UInt8]) throws(TOMLParseError) -> Bool {
        var run = 0
        while peek(run) == quote { run += 1 }
        if run < 3 {
            out.append(contentsOf: repeatElement(quote, count: run))
            advance(run)
            return false
        }
        if run > 5 {
            throw fail("too many quotes at the end of a multi-line string (at most two may precede the delimiter)")
        }
        out.append(contentsOf: repeatElement(quote, count: run - 3))
        advance(run)
        return true
    }

    mutating func parseEscape(into out: inout [UInt8]) throws(TOMLParseError) {
        advance()  // backslash
        guard let e = peek() else { throw fail("unterminated string") }
        switch e {
        case UInt8(ascii: "b"): out.append(0x08)
        case UInt8(ascii: "t"): out.append(ASCII.tab)
        case UInt8(ascii: "n"): out.append(ASCII.lf)
        case UInt8(ascii: "f"): out.append(0x0C)
        case UInt8(ascii: "r"): out.append(ASCII.cr)
        case ASCII.quote: out.append(ASCII.quote)
        case ASCII.backslash: out.append(ASCII.backslash)
        case UInt8(ascii: "u"), UInt8(ascii: "U"):
            let count = e == UInt8(ascii: "u") ? 4 : 8
            var value: UInt32 = 0
            for k in 1...count {
                guard let d = peek(k).flatMap(ASCII.hexValue) else {
                    throw fail("invalid escape: \\\(Character(Unicode.Scalar(e))) needs \(count) hex digits")
                }
                value = value << 4 | d  // at most 8 digits: fits UInt32
            }
            guard let scalar = Unicode.Scalar(value) else {
                throw fail("invalid escape: U+\(hex4(value)) is not a Unicode scalar value")
            }
            UTF8.encode(scalar) { out.append($0) }
            advance(count)
        case ASCII.lf, ASCII.cr:
            throw fail("invalid escape: backslash at the end of a line in a one-line string")
        default:
            if e > 0x20 && e < 0x7F {
                throw fail("invalid escape sequence \\\(Character(Unicode.Scalar(e)))")
            }
            throw fail("invalid escape sequence: backslash followed by \(Self.describe(e))")
        }
        advance()
    }

    // MARK: Numbers and booleans

    mutating func parseScalarToken() throws(TOMLParseError) -> TOMLValue {
        let start = index
        while let c = peek(),
            ASCII.isDigit(c) || ASCII.isLetter(c) || c == ASCII.plus || c == ASCII.minus || c == ASCII.underscore
                || c == ASCII.dot || c == ASCII.colon
        {
            advance()
        }
        let token = Array(bytes[start..<index])
        let text = String(decoding: token, as: UTF8.self)

        if text == "true" { return .boolean(true) }
        if text == "false" { return .boolean(false) }
        if Self.looksLikeDateTime(token) {
            throw fail("datetimes are not supported here; use a string")
        }
        switch text {
        case "inf", "+inf": return .float(.infinity)
        case "-inf": return .float(-.infinity)
        case "nan", "+nan", "-nan": return .float(.nan)
        default: break
        }
        guard let first = token.first else { throw fail("expected a value, found \(found())") }
        if ASCII.isLetter(first) {
            throw fail("invalid value '\(text)' (strings must be quoted)")
        }
        if token.count > 2, first == ASCII.zero,
            let radix: Int64 = switch token[1] {
            case UInt8(ascii: "x"): 16
            case UInt8(ascii: "o"): 8
            case UInt8(ascii: "b"): 2
            default: nil
            }
        {
            return .integer(try parseRadixInteger(Array(token[2...]), radix: radix, text: text))
        }
        if token.contains(where: { $0 == ASCII.dot || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
            return .float(try parseFloat(token, text: text))
        }
        return .integer(try parseDecimalInteger(token, text: text))
    }

    static func looksLikeDateTime(_ t: [UInt8]) -> Bool {
        if t.count >= 5, t[0..<4].allSatisfy(ASCII.isDigit), t[4] == ASCII.minus { return true }
        if t.count >= 3, t[0..<2].allSatisfy(ASCII.isDigit), t[2] == ASCII.colon { return true }
        return false
    }

    /// Digits with single underscores between digits; returns the digits without underscores,
    /// or nil when the underscores are misplaced or a non-digit occurs.
    static func digitsWithUnderscores(_ t: ArraySlice<UInt8>, isDigit: (UInt8) -> Bool) -> [UInt8]? {
        guard let first = t.first, let last = t.last, isDigit(first), isDigit(last) else { return nil }
        var out: [UInt8] = []
        var previousUnderscore = false
        for c in t {
            if c == ASCII.underscore {
                if previousUnderscore { return nil }
                previousUnderscore = true
            } else if isDigit(c) {
                previousUnderscore = false
                out.append(c)
            } else {
                return nil
            }
        }
        return out
    }

    func parseDecimalInteger(_ token: [UInt8], text: String) throws(TOMLParseError) -> Int64 {
        var body = token[...]
        var negative = false
        if let s = body.first, s == ASCII.plus || s == ASCII.minus {
            negative = s == ASCII.minus
            body = body.dropFirst()
        }
        guard let digits = Self.digitsWithUnderscores(body, isDigit: ASCII.isDigit) else {
            throw fail("invalid integer '\(text)'")
        }
        if digits.count > 1 && digits[0] == ASCII.zero {
            throw fail("invalid integer '\(text)': leading zeros are not allowed")
        }
        var value: Int64 = 0
        for d in digits {
            let digit = Int64(d - ASCII.zero)
            let (shifted, o1) = value.multipliedReportingOverflow(by: 10)
            let (next, o2) = negative ? shifted.subtractingReportingOverflow(digit) : shifted.addingReportingOverflow(digit)
            if o1 || o2 { throw fail("integer '\(text)' is out of range (a signed 64-bit integer)") }
            value = next
        }
        return value
    }

    func parseRadixInteger(_ body: [UInt8], radix: Int64, text: String) throws(TOMLParseError) -> Int64 {
        let isDigit: (UInt8) -> Bool = { c in
            guard let v = ASCII.hexValue(c) else { return false }
            return Int64(v) < radix
        }
        guard let digits = Self.digitsWithUnderscores(body[...], isDigit: isDigit) else {
            throw fail("invalid integer '\(text)'")
        }
        var value: Int64 = 0
        for d in digits {
            guard let digit = ASCII.hexValue(d) else { throw fail("invalid integer '\(text)'") }
            let (shifted, o1) = value.multipliedReportingOverflow(by: radix)
            let (next, o2) = shifted.addingReportingOverflow(Int64(digit))
            if o1 || o2 { throw fail("integer '\(text)' is out of range (a signed 64-bit integer)") }
            value = next
        }
        return value
    }

    func parseFloat(_ token: [UInt8], text: String) throws(TOMLParseError) -> Double {
        let invalid = fail("invalid float '\(text)'")
        var rest = token[...]
        var cleaned: [UInt8] = []
        if let s = rest.first, s == ASCII.plus || s == ASCII.minus {
            cleaned.append(s)
            rest = rest.dropFirst()
        }
        // Integer part, up to '.', 'e' or 'E'.
        let intEnd = rest.firstIndex { $0 == ASCII.dot || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") } ?? rest.endIndex
        guard let intDigits = Self.digitsWithUnderscores(rest[rest.startIndex..<intEnd], isDigit: ASCII.isDigit) else {
            throw invalid
        }
        if intDigits.count > 1 && intDigits[0] == ASCII.zero {
            throw fail("invalid float '\(text)': leading zeros are not allowed")
        }
        cleaned += intDigits
        rest = rest[intEnd...]
        if rest.first == ASCII.dot {
            rest = rest.dropFirst()
            let fracEnd = rest.firstIndex { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") } ?? rest.endIndex
            guard let fracDigits = Self.digitsWithUnderscores(rest[rest.startIndex..<fracEnd], isDigit: ASCII.isDigit)
            else { throw invalid }
            cleaned.append(ASCII.dot)
            cleaned += fracDigits
            rest = rest[fracEnd...]
        }
        if let e = rest.first {
            guard e == UInt8(ascii: "e") || e == UInt8(ascii: "E") else { throw invalid }
            rest = rest.dropFirst()
            cleaned.append(UInt8(ascii: "e"))
            if let s = rest.first, s == ASCII.plus || s == ASCII.minus {
                cleaned.append(s)
                rest = rest.dropFirst()
            }
            guard let expDigits = Self.digitsWithUnderscores(rest, isDigit: ASCII.isDigit) else { throw invalid }
            cleaned += expDigits
        }
        guard let value = Double(String(decoding: cleaned, as: UTF8.self)) else { throw invalid }
        if !value.isFinite { throw fail("float '\(text)' is out of range") }
        return value
    }
}
