extension JSONCodable {
    /// `T` from `value`, without Foundation. Integers are read from the number's text, so a
    /// 64-bit value keeps every digit; a number that does not fit its type is an error, never
    /// a wrapped or rounded value.
    public static func decode<T: Decodable>(_ type: T.Type, from value: JSON) throws(DecodingError) -> T {
        do { return try JSONTreeDecoder(value, codingPath: []).unbox(T.self) } catch let error as DecodingError {
            throw error
        } catch {
            throw DecodingError.dataCorrupted(.init(codingPath: [], debugDescription: "\(error)", underlyingError: error))
        }
    }

    /// A short, plain account of a coding error: what, and where (`workers[2].role`).
    public static func describe(_ error: any Error) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            var out = ""
            for key in keys {
                if let index = key.intValue, key.stringValue.hasPrefix("Index ") { out += "[\(index)]" } else {
                    out += (out.isEmpty ? "" : ".") + key.stringValue
                }
            }
            return out.isEmpty ? "the top level" : out
        }
        switch error {
        case DecodingError.keyNotFound(let key, let context):
            return "missing key \(path(context.codingPath + [key]))"
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context),
             DecodingError.dataCorrupted(let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        case EncodingError.invalidValue(_, let context):
            return "\(path(context.codingPath)): \(context.debugDescription)"
        default:
            return "\(error)"
        }
    }
}

struct JSONTreeDecoder: Decoder {
    let value: JSON
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ value: JSON, codingPath: [any CodingKey]) {
        self.value = value
        self.codingPath = codingPath
    }

    /// The value is not what `expected` needs: null is "no value", anything else a mismatch.
    /// (Optionals never get here: they ask `decodeNil` first.)
    func mismatch(_ expected: Any.Type, _ what: String) -> DecodingError {
        if value == .null {
            return .valueNotFound(expected, .init(codingPath: codingPath, debugDescription: "null where \(expected) belongs"))
        }
        return .typeMismatch(expected, .init(codingPath: codingPath, debugDescription: "expected \(what), found \(value.kindName)"))
    }

    func unbox<T: Decodable>(_ type: T.Type) throws -> T {
        switch type {
        case is String.Type:
            guard case .string(let s) = value else { throw mismatch(type, "a string") }
            return s as! T
        case is Bool.Type:
            guard case .bool(let b) = value else { throw mismatch(type, "true or false") }
            return b as! T
        case is Int.Type: return try integer(Int.self) as! T
        case is Int8.Type: return try integer(Int8.self) as! T
        case is Int16.Type: return try integer(Int16.self) as! T
        case is Int32.Type: return try integer(Int32.self) as! T
        case is Int64.Type: return try integer(Int64.self) as! T
        case is UInt.Type: return try integer(UInt.self) as! T
        case is UInt8.Type: return try integer(UInt8.self) as! T
        case is UInt16.Type: return try integer(UInt16.self) as! T
        case is UInt32.Type: return try integer(UInt32.self) as! T
        case is UInt64.Type: return try integer(UInt64.self) as! T
        case is Double.Type: return try floating() as! T
        case is Float.Type: return try Float(floating()) as! T
        default: return try T(from: self)
        }
    }

    func integer<I: FixedWidthInteger>(_ type: I.Type) throws -> I {
        guard case .number(let d, let raw) = value else { throw mismatch(type, "a number") }
        if let exact = I(raw) { return exact }
        // "1.0" or "1e3": accepted when the value is a whole number that fits.
        if d.rounded() == d, let exact = I(exactly: d) { return exact }
        throw DecodingError.dataCorrupted(.init(codingPath: codingPath, debugDescription: "\(raw) is not a whole number that fits \(type)"))
    }

    func floating() throws -> Double {
        guard case .number(let d, _) = value else { throw mismatch(Double.self, "a number") }
        return d
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let members) = value else { throw mismatch([String: JSON].self, "an object") }
        var byKey: [String: JSON] = [:]
        for (k, v) in members where byKey[k] == nil { byKey[k] = v }  // the first of duplicates, as lookups do
        return KeyedDecodingContainer(KeyedTreeDecoder<Key>(members: byKey, order: members.map(\.0), codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        guard case .array(let items) = value else { throw mismatch([JSON].self, "an array") }
        return UnkeyedTreeDecoder(items: items, codingPath: codingPath)
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { SingleTreeDecoder(decoder: self) }
}

struct KeyedTreeDecoder<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let members: [String: JSON]
    let order: [String]
    let codingPath: [any CodingKey]

    var allKeys: [Key] { order.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { members[key.stringValue] != nil }

    func child(_ key: Key) throws -> JSONTreeDecoder {
        guard let v = members[key.stringValue] else {
            throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "no value for \(key.stringValue)"))
        }
        return JSONTreeDecoder(v, codingPath: codingPath + [key])
    }

    func decodeNil(forKey key: Key) throws -> Bool { try child(key).value == .null }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
        return try child(key).unbox(type)
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
        try child(key).container(keyedBy: type)
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
        try child(key).unkeyedContainer()
    }

    func superDecoder() throws -> any Decoder {
        JSONTreeDecoder(members["super"] ?? .null, codingPath: codingPath + [JSONKey("super")])
    }

    func superDecoder(forKey key: Key) throws -> any Decoder {
        JSONTreeDecoder(members[key.stringValue] ?? .null, codingPath: codingPath + [key])
    }
}

struct UnkeyedTreeDecoder: UnkeyedDecodingContainer {
    let items: [JSON]
    let codingPath: [any CodingKey]
    var currentIndex = 0

    init(items: [JSON], codingPath: [any CodingKey]) {
        self.items = items
        self.codingPath = codingPath
    }

    var count: Int? { items.count }
    var isAtEnd: Bool { currentIndex >= items.count }

    mutating func next(_ type: Any.Type) throws -> JSONTreeDecoder {
        guard !isAtEnd else {
            throw DecodingError.valueNotFound(type, .init(codingPath: codingPath + [JSONKey(index: currentIndex)], debugDescription: "the array has only \(items.count) item(s)"))
        }
        defer { currentIndex += 1 }
        return JSONTreeDecoder(items[currentIndex], codingPath: codingPath + [JSONKey(index: currentIndex)])
    }

    mutating func decodeNil() throws -> Bool {
        guard !isAtEnd, items[currentIndex] == .null else { return false }
        currentIndex += 1
        return true
    }

    mutating func decode<T: Decodable>(_ type: T.Type) throws -> T {
        return try next(type).unbox(type)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
        try next(type).container(keyedBy: type)
    }

    mutating func nestedUnkeyedContainer() throws -> any UnkeyedDecodingContainer {
        try next([JSON].self).unkeyedContainer()
    }

    mutating func superDecoder() throws -> any Decoder { try next(JSON.self) }
}

struct SingleTreeDecoder: SingleValueDecodingContainer {
    let decoder: JSONTreeDecoder
    var codingPath: [any CodingKey] { decoder.codingPath }

    func decodeNil() -> Bool { decoder.value == .null }

    func decode<T: Decodable>(_ type: T.Type) throws -> T {
        return try decoder.unbox(type)
    }
}

extension JSON {
    /// What kind of value this is, for errors.
    var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "a boolean"
        case .number(_, let raw): "the number \(raw)"
        case .string: "a string"
        case .array: "an array"
        case .object: "an object"
        }
    }
}
