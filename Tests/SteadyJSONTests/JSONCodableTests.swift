import Testing
import SteadyJSON

/// The Foundation-free Codable coder the protocol bodies go through.
@Suite("JSON codable")
struct JSONCodableTests {
    enum Colour: String, Codable, Equatable { case red, green }

    struct Inner: Codable, Equatable {
        var name: String
        var weight: Double
        var tags: [String]
    }

    struct Outer: Codable, Equatable {
        var id: Int64
        var big: UInt64
        var small: Int8
        var flag: Bool
        var colour: Colour
        var note: String?
        var inner: Inner
        var list: [Inner]
        var counters: [String: Int64]
        var nested: [[Int]]
        var maybe: [Int?]
    }

    static let sample = Outer(
        id: Int64.min, big: UInt64.max, small: -128, flag: true, colour: .green, note: nil,
        inner: Inner(name: "a \"quoted\"\nline ü", weight: 0.1, tags: []),
        list: [Inner(name: "x", weight: -2.5e-7, tags: ["1", "2"])],
        counters: ["z": 1, "a": Int64.max], nested: [[], [1, 2]], maybe: [1, nil, 3])

    @Test("a value comes back equal, 64-bit integers to the last digit")
    func roundTrip() throws {
        let bytes = try JSONCodable.encodeBytes(Self.sample)
        let back = try JSONCodable.decode(Outer.self, from: try JSON.parse(bytes))
        #expect(back == Self.sample)
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.contains("\"big\":18446744073709551615"))
        #expect(text.contains("\"id\":-9223372036854775808"))
    }

    @Test("keys come out sorted at every level and nil optionals are left out, so the bytes are reproducible")
    func sortedAndCompact() throws {
        let text = String(decoding: try JSONCodable.encodeBytes(Self.sample), as: UTF8.self)
        #expect(text.hasPrefix("{\"big\":"))
        #expect(text.contains("\"counters\":{\"a\":9223372036854775807,\"z\":1}"))
        #expect(text.contains("\"inner\":{\"name\":"))
        #expect(!text.contains("note"))
        #expect(text.contains("\"maybe\":[1,null,3]"))
        #expect(try JSONCodable.encodeBytes(Self.sample) == JSONCodable.encodeBytes(Self.sample))
    }

    @Test("errors name what is wrong and where")
    func errors() throws {
        struct Pair: Codable { var a: Int; var b: [UInt8] }
        func reason(_ text: String) -> String {
            let result = Result<Pair, any Error> { try JSONCodable.decode(Pair.self, from: try JSON.parse(text)) }
            switch result {
            case .success: return "decoded"
            case .failure(let error): return JSONCodable.describe(error)
            }
        }
        #expect(reason("{\"b\":[]}") == "missing key a")
        #expect(reason("{\"a\":\"1\",\"b\":[]}").hasPrefix("a: expected a number, found a string"))
        #expect(reason("{\"a\":1,\"b\":[1,300]}").hasPrefix("b[1]: 300 is not a whole number that fits UInt8"))
        #expect(reason("{\"a\":1.5,\"b\":[]}").hasPrefix("a: 1.5 is not a whole number"))
        #expect(reason("{\"a\":null,\"b\":[]}").hasPrefix("a: null where Int belongs"))
        #expect(reason("[1]").hasPrefix("the top level: expected an object, found an array"))
        #expect(reason("{\"a\":1e2,\"b\":[]}") == "decoded", "a whole number written with an exponent fits")
        #expect(throws: EncodingError.self, "JSON has no infinity") {
            _ = try JSONCodable.encode(["x": Double.infinity])
        }
    }

    @Test("custom coding: nested containers, superEncoder and single values")
    func customCoding() throws {
        struct Custom: Codable, Equatable {
            var x: Int
            var y: [String]
            enum Keys: String, CodingKey { case box, list }
            enum BoxKeys: String, CodingKey { case x }
            init(x: Int, y: [String]) {
                self.x = x
                self.y = y
            }
            init(from decoder: any Decoder) throws {
                let c = try decoder.container(keyedBy: Keys.self)
                x = try c.nestedContainer(keyedBy: BoxKeys.self, forKey: .box).decode(Int.self, forKey: .x)
                var list = try c.nestedUnkeyedContainer(forKey: .list)
                var y: [String] = []
                while !list.isAtEnd { y.append(try list.decode(String.self)) }
                self.y = y
            }
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: Keys.self)
                var box = c.nestedContainer(keyedBy: BoxKeys.self, forKey: .box)
                try box.encode(x, forKey: .x)
                var list = c.nestedUnkeyedContainer(forKey: .list)
                for s in y { try list.encode(s) }
                var sup = c.superEncoder().singleValueContainer()
                try sup.encode("parent")
            }
        }
        let value = Custom(x: 7, y: ["p", "q"])
        let json = try JSONCodable.encode(value)
        #expect(json.serialized == "{\"box\":{\"x\":7},\"list\":[\"p\",\"q\"],\"super\":\"parent\"}")
        #expect(try JSONCodable.decode(Custom.self, from: json) == value)
        #expect(try JSONCodable.decode(Colour.self, from: .string("red")) == .red)
        #expect(throws: DecodingError.self) { _ = try JSONCodable.decode(Colour.self, from: .string("blue")) }
    }
}
