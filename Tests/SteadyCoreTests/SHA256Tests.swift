import Testing

@testable import SteadyCore

/// SHA-256 against FIPS 180-4 / NIST vectors, whole and fed in pieces cut anywhere.
@Suite(.timeLimit(.minutes(1)))
struct SHA256Tests {
    static let vectors: [(String, [UInt8], String)] = [
        ("empty", [], "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", Array("abc".utf8), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("448 bits", Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8),
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("896 bits", Array("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu".utf8),
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"),
        ("1,000,000 × a", [UInt8](repeating: 97, count: 1_000_000), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"),
    ]

    @Test("known vectors, in one piece", arguments: 0..<5)
    func whole(_ i: Int) {
        let (label, bytes, digest) = Self.vectors[i]
        #expect(SHA256.hex(bytes) == digest, "\(label)")
    }

    @Test("the same digest however the input is cut: at block boundaries, around them, byte by byte", arguments: [1, 3, 55, 56, 63, 64, 65, 127, 4096, 65_537])
    func pieces(_ piece: Int) {
        let (_, bytes, digest) = Self.vectors[4]
        var hasher = SHA256()
        var offset = 0
        while offset < bytes.count {
            let end = min(bytes.count, offset + piece)
            hasher.update(bytes[offset..<end])
            offset = end
        }
        #expect(hasher.finalizeHex() == digest)
    }

    @Test("a non-contiguous sequence and raw buffers give the same digest")
    func otherInputs() {
        let text = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq"
        #expect(SHA256.hex(text.utf8.lazy.map { $0 }) == Self.vectors[2].2)
        var hasher = SHA256()
        Array(text.utf8).withUnsafeBytes { raw in
            hasher.update(UnsafeRawBufferPointer(rebasing: raw[0..<10]))
            hasher.update(UnsafeRawBufferPointer(rebasing: raw[10...]))
        }
        #expect(hasher.finalizeHex() == Self.vectors[2].2)
    }
}
