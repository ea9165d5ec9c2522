/// An AT Protocol timestamp identifier, Bluesky's record key format: a 64-bit integer (top bit
/// 0, then 53 bits of microseconds since the epoch, then a 10-bit clock id) written as 13
/// characters of base32-sortable (`234567abcdefghijklmnopqrstuvwxyz`), so it always matches
/// `^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$`.
public struct TID: Sendable, Equatable, Hashable, CustomStringConvertible {
    public let value: UInt64

    static let alphabet: [Character] = Array("234567abcdefghijklmnopqrstuvwxyz")

    public init(micros: Int64, clockId: UInt16) {
        let us = UInt64(max(0, micros)) & ((1 << 53) - 1)
        value = us << 10 | UInt64(clockId & 0x3FF)
    }

    public init?(_ text: String) {
        guard TID.isValid(text) else { return nil }
        var v: UInt64 = 0
        for c in text {
            v = v << 5 | UInt64(TID.alphabet.firstIndex(of: c)!)
        }
        value = v
    }

    public var micros: Int64 { Int64(value >> 10) }
    public var clockId: UInt16 { UInt16(value & 0x3FF) }

    public var string: String {
        var out = ""
        for i in 0..<13 {
            let shift = UInt64(60 - 5 * i)
            out.append(TID.alphabet[Int((value >> shift) & 31)])
        }
        return out
    }

    public var description: String { string }

    public static func isValid(_ text: String) -> Bool {
        let chars = Array(text.utf8)
        guard chars.count == 13 else { return false }
        func index(_ c: UInt8) -> Int? {
            switch c {
            case UInt8(ascii: "2")...UInt8(ascii: "7"): return Int(c - UInt8(ascii: "2"))
            case UInt8(ascii: "a")...UInt8(ascii: "z"): return Int(c - UInt8(ascii: "a")) + 6
            default: return nil
            }
        }
        guard let first = index(chars[0]), first < 16 else { return false }
        return chars.dropFirst().allSatisfy { index($0) != nil }
    }
}
