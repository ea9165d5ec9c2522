/// A parsed TOML value and the 1-based line on which it was defined.
///
/// For a key/value pair the line is the line of the key; for a table it is the line of its
/// `[header]` (or of the first dotted key that created it); for an element of an array it is the
/// line on which the element starts; for an element of an array of tables it is the line of
/// its `[[header]]`.
public struct TOMLNode: Sendable, Equatable {
    public var value: TOMLValue
    public var line: Int

    public init(_ value: TOMLValue, line: Int) {
        self.value = value
        self.line = line
    }
}

/// A TOML value. Inline tables and `[table]` sections are both `.table`; arrays of tables
/// (`[[name]]`) are `.array` of `.table` nodes.
public enum TOMLValue: Sendable, Equatable {
    case string(String)
    case integer(Int64)
    case float(Double)
    case boolean(Bool)
    case array([TOMLNode])
    case table(TOMLTable)

    /// The kind of value with its article, for messages: "a string", "an integer", ...
    public var typeName: String {
        switch self {
        case .string: "a string"
        case .integer: "an integer"
        case .float: "a float"
        case .boolean: "a boolean"
        case .array: "an array"
        case .table: "a table"
        }
    }

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }

    public var integerValue: Int64? {
        if case .integer(let i) = self { return i }
        return nil
    }

    public var floatValue: Double? {
        if case .float(let d) = self { return d }
        return nil
    }

    public var boolValue: Bool? {
        if case .boolean(let b) = self { return b }
        return nil
    }

    public var arrayValue: [TOMLNode]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var tableValue: TOMLTable? {
        if case .table(let t) = self { return t }
        return nil
    }
}

/// A TOML table: keys in the order they were first defined, each with its node.
/// Keys are unique; the parser rejects any redefinition.
public struct TOMLTable: Sendable, Equatable {
    /// Keys in definition order.
    public private(set) var keys: [String] = []
    private var storage: [String: TOMLNode] = [:]

    public init() {}

    /// Builds a table from pairs in order; a repeated key keeps its last node.
    public init(_ pairs: [(String, TOMLNode)]) {
        for (key, node) in pairs { self[key] = node }
    }

    public var count: Int { keys.count }
    public var isEmpty: Bool { keys.isEmpty }

    /// The node stored under `key`. Setting `nil` removes the key.
    public subscript(key: String) -> TOMLNode? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// Key/node pairs in definition order.
    public var entries: [(key: String, node: TOMLNode)] {
        keys.compactMap { key in storage[key].map { (key: key, node: $0) } }
    }

    /// The node at a dotted path of keys through nested tables, e.g. `["workers", "api"]`.
    /// Arrays are not traversed.
    public func node(at path: [String]) -> TOMLNode? {
        guard let first = path.first, let node = storage[first] else { return nil }
        if path.count == 1 { return node }
        guard case .table(let inner) = node.value else { return nil }
        return inner.node(at: Array(path.dropFirst()))
    }
}

/// A TOML syntax error: the 1-based line where it was found and what is wrong.
public struct TOMLParseError: Error, Equatable, Sendable, CustomStringConvertible {
    public var line: Int
    public var message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}

/// Renders a key for messages: bare when it can be written bare, otherwise quoted.
func tomlKeyText(_ key: String) -> String {
    var bare = !key.isEmpty
    for byte in key.utf8 where !isBareKeyByte(byte) {
        bare = false
        break
    }
    if bare { return key }
    var out = "\""
    for scalar in key.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\u" + hex4(scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
    }
    return out + "\""
}

/// Renders a dotted key path for messages.
func tomlKeyPathText(_ path: [String]) -> String {
    path.map(tomlKeyText).joined(separator: ".")
}

@inline(__always)
func isBareKeyByte(_ c: UInt8) -> Bool {
    (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
        || (c >= UInt8(ascii: "0") && c <= UInt8(ascii: "9")) || c == UInt8(ascii: "_") || c == UInt8(ascii: "-")
}

func hex4(_ v: UInt32) -> String {
    let s = String(v, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, 4 - s.count)) + s
}
