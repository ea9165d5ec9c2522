import SteadyCore

/// AT Protocol timestamp identifiers (TIDs) and the random strings the simulator hands out.
enum Identifiers {
    static let tidAlphabet = Array("234567abcdefghijklmnopqrstuvwxyz")
    private static let tidFirst = Set("234567abcdefghij")
    private static let tidRest = Set("234567abcdefghijklmnopqrstuvwxyz")

    /// True when `s` matches `^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$`.
    static func isTID(_ s: String) -> Bool {
        let chars = Array(s)
        guard chars.count == 13, tidFirst.contains(chars[0]) else { return false }
        return chars.dropFirst().allSatisfy { tidRest.contains($0) }
    }

    /// The TID of `micros` since the epoch and a 10-bit clock id.
    static func tid(micros: Int64, clockID: UInt64) -> String {
        let value = (UInt64(max(0, micros)) & ((1 << 53) - 1)) << 10 | (clockID & 0x3FF)
        var chars: [Character] = []
        for i in (0..<13).reversed() {
            chars.append(tidAlphabet[Int((value >> (UInt64(i) * 5)) & 31)])
        }
        return String(chars)
    }

    /// The microseconds a TID carries.
    static func tidMicros(_ tid: String) -> Int64? {
        guard isTID(tid) else { return nil }
        var value: UInt64 = 0
        for c in tid {
            guard let index = tidAlphabet.firstIndex(of: c) else { return nil }
            value = value << 5 | UInt64(index)
        }
        return Int64(value >> 10)
    }

    private static let alnum = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    private static let base32 = Array("abcdefghijklmnopqrstuvwxyz234567")
    private static let base64url = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")

    static func random(_ count: Int, from alphabet: [Character], using rng: inout SplitMix64) -> String {
        var out = ""
        out.reserveCapacity(count)
        for _ in 0..<count {
            out.append(alphabet[Int(rng.next() % UInt64(alphabet.count))])
        }
        return out
    }

    static func alphanumeric(_ count: Int, using rng: inout SplitMix64) -> String {
        random(count, from: alnum, using: &rng)
    }

    static func base32Lower(_ count: Int, using rng: inout SplitMix64) -> String {
        random(count, from: base32, using: &rng)
    }

    static func base64URL(_ count: Int, using rng: inout SplitMix64) -> String {
        random(count, from: base64url, using: &rng)
    }

    /// Base64url without padding of UTF-8 text (JWT segments).
    static func base64URLEncode(_ text: String) -> String {
        let bytes = Array(text.utf8)
        var out = ""
        var i = 0
        while i < bytes.count {
            let b0 = UInt32(bytes[i])
            let b1 = i + 1 < bytes.count ? UInt32(bytes[i + 1]) : 0
            let b2 = i + 2 < bytes.count ? UInt32(bytes[i + 2]) : 0
            let triple = b0 << 16 | b1 << 8 | b2
            let remaining = bytes.count - i
            out.append(base64url[Int(triple >> 18 & 63)])
            out.append(base64url[Int(triple >> 12 & 63)])
            if remaining > 1 { out.append(base64url[Int(triple >> 6 & 63)]) }
            if remaining > 2 { out.append(base64url[Int(triple & 63)]) }
            i += 3
        }
        return out
    }

    /// A CID-looking string (`bafyrei…`), 59 characters like a real dag-cbor sha256 CIDv1.
    static func cid(using rng: inout SplitMix64) -> String {
        "bafyrei" + base32Lower(52, using: &rng)
    }
}

extension String {
    /// Percent-encodes everything but unreserved characters (RFC 3986).
    var percentEncodedComponent: String {
        var out = ""
        for byte in utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                out += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out
    }

    /// Decodes `%XX` escapes (and `+` as space when `plusIsSpace`); nil on a malformed escape
    /// or invalid UTF-8.
    func percentDecoded(plusIsSpace: Bool = false) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var iterator = Array(utf8)[...]
        while let byte = iterator.popFirst() {
            if byte == UInt8(ascii: "%") {
                guard let h = iterator.popFirst(), let l = iterator.popFirst(),
                    let hv = hexValue(h), let lv = hexValue(l)
                else { return nil }
                bytes.append(hv << 4 | lv)
            } else if plusIsSpace, byte == UInt8(ascii: "+") {
                bytes.append(UInt8(ascii: " "))
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }
}

private func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
    default: return nil
    }
}

/// Parses `application/x-www-form-urlencoded` text into ordered pairs.
func parseForm(_ text: String) -> [(String, String)] {
    text.split(separator: "&", omittingEmptySubsequences: true).map { pair in
        let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
        let key = String(parts[0]).percentDecoded(plusIsSpace: true) ?? String(parts[0])
        let value = parts.count > 1 ? (String(parts[1]).percentDecoded(plusIsSpace: true) ?? String(parts[1])) : ""
        return (key, value)
    }
}
