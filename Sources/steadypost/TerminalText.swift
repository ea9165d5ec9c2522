/// What the CLI prints passes through here, so text that came from a post, a platform or a
/// config (a post's text, `last_error`, a pause reason) cannot drive the terminal: an ESC
/// sequence would recolour, retitle or rewrite the screen, a bidi override reorder what the
/// operator reads. Each such character is printed as `\uXXXX`, which is also what it means
/// inside JSON, so `--json` output stays valid and equal in meaning.
enum TerminalText {
    /// `text` with every control character but line feed and tab written as `\uXXXX`.
    static func safe(_ text: String) -> String {
        var out = ""
        out.unicodeScalars.reserveCapacity(text.unicodeScalars.count)
        for scalar in text.unicodeScalars {
            if isControl(scalar.value) {
                out += escaped(scalar.value)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// One field inside a line of a table or a `key: value` list: line breaks and tabs are
    /// escaped too, so a value cannot start a line of its own.
    static func field(_ text: String) -> String {
        safe(text.replacing("\t", with: "\\t").replacing("\r\n", with: "\\n").replacing("\n", with: "\\n"))
    }

    static func isControl(_ v: UInt32) -> Bool {
        switch v {
        case 0x0A, 0x09: return false
        case 0x00...0x1F, 0x7F...0x9F: return true                 // C0, DEL, C1 (0x9B is CSI)
        case 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true  // bidi marks and overrides
        case 0x2028, 0x2029: return true                            // line and paragraph separators
        default: return false
        }
    }

    static func escaped(_ v: UInt32) -> String {
        let hex = String(v, radix: 16)
        return "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
    }
}
