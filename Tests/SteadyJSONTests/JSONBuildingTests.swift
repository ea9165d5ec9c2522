import Testing
import SteadyJSON

/// Building values and reading objects: what the CDP client (DevTools messages, lease
/// answers, the pool's status) needs beyond parsing.
@Suite("building JSON values")
struct JSONBuildingTests {
    @Test("any integer type keeps its exact decimal text, Int64's extremes included")
    func integers() throws {
        #expect(JSON(Int64.max).serialized == "9223372036854775807")
        #expect(JSON(Int64.min).serialized == "-9223372036854775808")
        #expect(JSON(UInt8(7)).serialized == "7")
        #expect(JSON(Int32(-12)) == JSON(-12))
        #expect(try JSON.parse(JSON(Int64.max).serialized).int == Int(Int64.max))
    }

    @Test("a dictionary becomes an object sorted by member name, the same text every time")
    func sortedObject() {
        let value = JSON.sorted(["b": JSON(2), "a": JSON("x"), "c": .obj([("z", JSON(1)), ("y", .null)])])
        #expect(value.serialized == #"{"a":"x","b":2,"c":{"z":1,"y":null}}"#)
        #expect(JSON.sorted([:]).serialized == "{}")
    }

    @Test("members: an object's pairs in document order, duplicates kept; nil for anything else")
    func members() throws {
        let value = try JSON.parse(#"{"b":1,"a":2,"b":3}"#)
        #expect(value.members?.map { $0.0 } == ["b", "a", "b"])
        #expect(value["b"] == JSON(1), "a lookup takes the first")
        #expect(JSON.array([]).members == nil)
        #expect(JSON("x").members == nil)
    }
}
