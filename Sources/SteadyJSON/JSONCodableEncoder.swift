/// Encodable values to `JSON`, without Foundation. Object members come out sorted by key, so
/// the same value always gives the same bytes. Integers keep every digit (their text is the
/// number's raw form); a non-finite floating-point number is an error, as JSON has none;
/// `nil` optionals are left out, as Foundation's encoder does.
public enum JSONCodable {
    public static func encode<T: Encodable>(_ value: T) throws(EncodingError) -> JSON {
        do { return try JSONTreeEncoder.box(value, codingPath: []).resolved() } catch let error as EncodingError {
            throw error
        } catch {
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "\(error)", underlyingError: error))
        }
    }

    public static func encodeBytes<T: Encodable>(_ value: T) throws(EncodingError) -> [UInt8] {
        try encode(value).bytes
    }
}

/// What an encoder builds: shared boxes, so a nested container can keep writing into its
/// parent after the parent handed it out (the `Encoder` protocol's shape).
final class JSONTreeNode {
    enum Content {
        case value(JSON)
        case object([String: JSONTreeNode])
        case array([JSONTreeNode])
        /// A `superEncoder`'s result, read when the tree is resolved.
        case pending(JSONTreeEncoder)
    }

    var content: Content

    init(_ content: Content) { self.content = content }

    func resolved() -> JSON {
        switch content {
        case .value(let v): return v
        case .object(let members): return .object(members.sorted { $0.key < $1.key }.map { ($0.key, $0.value.resolved()) })
        case .array(let items): return .array(items.map { $0.resolved() })
        case .pending(let encoder): return encoder.root?.resolved() ?? .object([])
        }
    }
}

final class JSONTreeEncoder: Encoder {
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    var root: JSONTreeNode?

    init(codingPath: [any CodingKey]) { self.codingPath = codingPath }

    /// `value` as a node: primitives directly, everything else through its `encode(to:)`.
    static func box<T: Encodable>(_ value: T, codingPath: [any CodingKey]) throws -> JSONTreeNode {
        if let primitive = try primitive(value, codingPath: codingPath) { return JSONTreeNode(.value(primitive)) }
        let encoder = JSONTreeEncoder(codingPath: codingPath)
        try value.encode(to: encoder)
        return encoder.root ?? JSONTreeNode(.object([:]))
    }

    static func primitive(_ value: some Encodable, codingPath: [any CodingKey]) throws -> JSON? {
        switch value {
        case let v as String: return .string(v)
        case let v as Bool: return .bool(v)
        case let v as Int: return integer(v)
        case let v as Int8: return integer(v)
        case let v as Int16: return integer(v)
        case let v as Int32: return integer(v)
        case let v as Int64: return integer(v)
        case let v as UInt: return integer(v)
        case let v as UInt8: return integer(v)
        case let v as UInt16: return integer(v)
        case let v as UInt32: return integer(v)
        case let v as UInt64: return integer(v)
        case let v as Double: return try floating(v, codingPath: codingPath)
        case let v as Float: return try floating(Double(v), codingPath: codingPath)
        default: return nil
        }
    }

    static func integer<I: BinaryInteger>(_ v: I) -> JSON { .number(Double(v), raw: String(v)) }

    static func floating(_ v: Double, codingPath: [any CodingKey]) throws -> JSON {
        guard v.isFinite else {
            throw EncodingError.invalidValue(v, .init(codingPath: codingPath, debugDescription: "\(v) has no JSON form"))
        }
        // Swift prints integral doubles as "1.0" and others in a form JSON accepts ("1e-05").
        return .number(v, raw: "\(v)")
    }

    func object() -> JSONTreeNode {
        if let root, case .object = root.content { return root }
        let node = JSONTreeNode(.object([:]))
        root = node
        return node
    }

    func array() -> JSONTreeNode {
        if let root, case .array = root.content { return root }
        let node = JSONTreeNode(.array([]))
        root = node
        return node
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        KeyedEncodingContainer(KeyedTreeContainer<Key>(node: object(), codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        UnkeyedTreeContainer(node: array(), codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer {
        SingleTreeContainer(encoder: self)
    }
}

struct KeyedTreeContainer<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let node: JSONTreeNode
    let codingPath: [any CodingKey]

    func set(_ child: JSONTreeNode, _ key: some CodingKey) {
        guard case .object(var members) = node.content else { return }
        node.content = .object([:])  // keep the dictionary uniquely referenced while it changes
        members[key.stringValue] = child
        node.content = .object(members)
    }

    mutating func encodeNil(forKey key: Key) throws { set(JSONTreeNode(.value(.null)), key) }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        set(try JSONTreeEncoder.box(value, codingPath: codingPath + [key]), key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let child = JSONTreeNode(.object([:]))
        set(child, key)
        return KeyedEncodingContainer(KeyedTreeContainer<NestedKey>(node: child, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let child = JSONTreeNode(.array([]))
        set(child, key)
        return UnkeyedTreeContainer(node: child, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { superEncoder(named: JSONKey("super")) }

    mutating func superEncoder(forKey key: Key) -> any Encoder { superEncoder(named: key) }

    func superEncoder(named key: some CodingKey) -> any Encoder {
        let encoder = JSONTreeEncoder(codingPath: codingPath + [key])
        set(JSONTreeNode(.pending(encoder)), key)
        return encoder
    }
}

struct UnkeyedTreeContainer: UnkeyedEncodingContainer {
    let node: JSONTreeNode
    let codingPath: [any CodingKey]

    var count: Int {
        if case .array(let items) = node.content { return items.count }
        return 0
    }

    func append(_ child: JSONTreeNode) {
        guard case .array(var items) = node.content else { return }
        node.content = .array([])
        items.append(child)
        node.content = .array(items)
    }

    var nextPath: [any CodingKey] { codingPath + [JSONKey(index: count)] }

    mutating func encodeNil() throws { append(JSONTreeNode(.value(.null))) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        append(try JSONTreeEncoder.box(value, codingPath: nextPath))
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let path = nextPath
        let child = JSONTreeNode(.object([:]))
        append(child)
        return KeyedEncodingContainer(KeyedTreeContainer<NestedKey>(node: child, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let path = nextPath
        let child = JSONTreeNode(.array([]))
        append(child)
        return UnkeyedTreeContainer(node: child, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let encoder = JSONTreeEncoder(codingPath: nextPath)
        append(JSONTreeNode(.pending(encoder)))
        return encoder
    }
}

struct SingleTreeContainer: SingleValueEncodingContainer {
    let encoder: JSONTreeEncoder
    var codingPath: [any CodingKey] { encoder.codingPath }

    mutating func encodeNil() throws { encoder.root = JSONTreeNode(.value(.null)) }

    mutating func encode<T: Encodable>(_ value: T) throws {
        encoder.root = try JSONTreeEncoder.box(value, codingPath: codingPath)
    }
}

/// A coding key made up on the spot: array positions, `super`.
struct JSONKey: CodingKey {
    var stringValue: String
    var intValue: Int?

    init(_ string: String) {
        stringValue = string
        intValue = nil
    }

    init(index: Int) {
        stringValue = "Index \(index)"
        intValue = index
    }

    init?(stringValue: String) { self.init(stringValue) }

    init?(intValue: Int) { self.init(index: intValue) }
}
