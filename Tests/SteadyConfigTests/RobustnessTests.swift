import Testing
import SteadyCore

@testable import SteadyConfig

/// Bytes that matter to the TOML grammar, weighted to reach deep into the parser.
private let interesting: [[UInt8]] = [
    "[", "]", "[[", "]]", "{", "}", "\"", "'", "\"\"\"", "'''", "=", ".", ",", "#", "\n", "\r\n", "\r", "\\", "\\u",
    "\\U0010FFFF", " ", "\t", "a", "_", "-", "+", "0", "9", "0x", "0o", "0b", "e", "E", "inf", "nan", "true", "false",
    "1979-05-27", ":", "\u{0}", "\u{7F}", "é", "😀", "9223372036854775808", "-9223372036854775809", "1e999",
    "daemon", "workers", "accounts", "posting", "hang_timeout", "\"1s\"", "\"256M\"",
].map { Array($0.utf8) }

private func randomPiece(_ rng: inout SplitMix64) -> [UInt8] {
    if Int.random(in: 0..<4, using: &rng) == 0 {
        return [UInt8.random(in: 0...127, using: &rng)]
    }
    return interesting[Int.random(in: 0..<interesting.count, using: &rng)]
}

private func mutate(_ base: [UInt8], _ rng: inout SplitMix64) -> [UInt8] {
    var bytes = base
    for _ in 0..<Int.random(in: 1...4, using: &rng) {
        let at = bytes.isEmpty ? 0 : Int.random(in: 0...bytes.count, using: &rng)
        switch Int.random(in: 0..<6, using: &rng) {
        case 0 where at < bytes.count:  // flip a byte
            bytes[at] = UInt8.random(in: 0...127, using: &rng)
        case 1:  // truncate
            bytes.removeSubrange(at...)
        case 2:  // insert a structural character
            let pieces: [[UInt8]] = [[0x5B], [0x22], [0x3D], [0x0A], [0x5D], [0x27], [0x7B], [0x2E]]
            bytes.insert(contentsOf: pieces[Int.random(in: 0..<pieces.count, using: &rng)], at: at)
        case 3:  // insert an interesting piece
            bytes.insert(contentsOf: randomPiece(&rng), at: at)
        case 4 where at < bytes.count:  // delete a range
            let end = min(bytes.count, at + Int.random(in: 1...40, using: &rng))
            bytes.removeSubrange(at..<end)
        default:  // duplicate a range (repeated keys and tables)
            let end = min(bytes.count, at + Int.random(in: 1...200, using: &rng))
            bytes.insert(contentsOf: bytes[at..<end], at: at)
        }
    }
    return bytes
}

@Suite("Robustness")
struct RobustnessTests {
    /// Feeds 24,000 random and mutated documents through the parser and the validator; each
    /// must either parse or throw diagnostics with sensible lines, never crash.
    @Test(.timeLimit(.minutes(1)))
    func randomAndMutatedInputsNeverCrash() throws {
        var rng = SplitMix64(seed: 0x5EAD_1905)
        let bases = [try readText(examplePath), try readText(demoPath)].map { Array($0.utf8) }
        var accepted = 0
        var rejected = 0
        for iteration in 0..<24_000 {
            let bytes: [UInt8]
            if iteration % 4 == 0 {
                var random: [UInt8] = []
                for _ in 0..<Int.random(in: 0...60, using: &rng) { random += randomPiece(&rng) }
                bytes = random
            } else {
                bytes = mutate(bases[iteration % 3 == 0 ? 1 : 0], &rng)
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let lineCount = text.utf8.reduce(1) { $0 + ($1 == 0x0A ? 1 : 0) }
            do {
                _ = try Config.parse(text, path: "/fuzz/steadypost.toml")
                accepted += 1
            } catch {
                rejected += 1
                #expect(!error.diagnostics.isEmpty)
                for diagnostic in error.diagnostics {
                    #expect(diagnostic.line >= 1 && diagnostic.line <= lineCount, "\(diagnostic) in \(lineCount) lines")
                }
            }
        }
        #expect(accepted + rejected == 24_000)
        // Both outcomes are exercised: the mutations are neither all fatal nor all harmless.
        #expect(accepted > 100)
        #expect(rejected > 100)
    }

    @Test func pathologicalInputs() {
        let inputs = [
            String(repeating: "[", count: 100_000),
            String(repeating: "[[a]]\n", count: 5000),
            "a = " + String(repeating: "[", count: 100_000),
            "a = " + String(repeating: "{ b = ", count: 50_000),
            String(repeating: "\"", count: 100_001),
            "a = \"" + String(repeating: "\\", count: 100_001),
            String(repeating: "a.", count: 100_000) + "b = 1",
            "x = " + String(repeating: "9", count: 10_000),
            "x = 0x" + String(repeating: "F", count: 10_000),
            "x = 1e" + String(repeating: "9", count: 10_000),
            "x = 0." + String(repeating: "0", count: 10_000) + "1",
            String(repeating: "\n", count: 100_000) + "=",
        ]
        for input in inputs {
            _ = try? TOMLParser.parse(input)
            _ = try? Config.parse(input, path: "p.toml")
        }
    }
}
