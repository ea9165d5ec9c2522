import SteadyCore

/// Makes the text we sent and the text a platform shows comparable, for verification after an
/// unknown outcome and for reconciliation:
/// - NFC;
/// - every http(s) URL → one placeholder, so `https://t.co/xyz` (X's rewrite) matches the
///   original link, and Mastodon's split link markup matches too;
/// - `@user@domain` → `@user` (Mastodon renders remote mentions so);
/// - every run of whitespace (spaces, newlines, NBSP, zero-width space) → one space; trimmed.
/// Platform markup is removed by the adapters before this (Mastodon `content` HTML through
/// `HTMLText.plainText`, X's `&amp;` escapes), so `RemotePost.text` is plain text.
public enum ContentNormalizer {
    /// What each URL becomes: an object-replacement character, which people do not type.
    public static let urlPlaceholder = "\u{FFFC}"

    public static func normalize(_ text: String) -> String {
        let scalars = Array(TextTools.nfc(text).unicodeScalars)
        let urls = TextTools.urlRanges(in: scalars)
        var withoutURLs = String.UnicodeScalarView()
        var i = 0
        var u = 0
        while i < scalars.count {
            if u < urls.count, urls[u].lowerBound == i {
                withoutURLs.append(contentsOf: urlPlaceholder.unicodeScalars)
                i = urls[u].upperBound
                u += 1
                continue
            }
            withoutURLs.append(scalars[i])
            i += 1
        }
        let folded = TextTools.foldRemoteMentions(String(withoutURLs))
        var out = String.UnicodeScalarView()
        var pendingSpace = false
        for s in folded.unicodeScalars {
            if TextTools.isSpace(s) {
                pendingSpace = !out.isEmpty
                continue
            }
            if pendingSpace {
                out.append(" ")
                pendingSpace = false
            }
            out.append(s)
        }
        return String(out)
    }

    /// The stable content hash stored with an attempt: SHA-256 (hex) of the normalized text.
    public static func hash(_ text: String) -> String {
        SHA256.hex(normalize(text).utf8)
    }

    /// Whether two texts are the same post after normalization.
    public static func matches(_ a: String, _ b: String) -> Bool { normalize(a) == normalize(b) }
}

/// HTML to plain text, for Mastodon's `content` (and X's escaped text).
public enum HTMLText {
    /// Drops tags, turns `<br>` into a newline and paragraph ends into a blank line, decodes
    /// entities. Mastodon's link markup (`<span class="invisible">https://</span>…`) comes
    /// back as the whole URL, because the invisible spans hold the rest of it.
    public static func plainText(_ html: String) -> String {
        var out = ""
        var i = html.startIndex
        while i < html.endIndex {
            let c = html[i]
            if c == "<", let close = html[i...].firstIndex(of: ">") {
                let tag = html[html.index(after: i)..<close].lowercased()
                let name = tag.split(whereSeparator: { $0 == " " || $0 == "/" || $0 == "\t" || $0 == "\n" }).first.map(String.init) ?? ""
                if name == "br" {
                    out += "\n"
                } else if tag.trimmingCharacters() == "/p" {
                    out += "\n\n"
                }
                i = html.index(after: close)
                continue
            }
            out.append(c)
            i = html.index(after: i)
        }
        return decodeEntities(out).trimmingCharacters()
    }

    /// `&amp; &lt; &gt; &quot; &apos; &#39; &nbsp; &#NNN; &#xHH;`; unknown entities stay as written.
    public static func decodeEntities(_ text: String) -> String {
        guard text.contains("&") else { return text }
        var out = ""
        var i = text.startIndex
        while i < text.endIndex {
            if text[i] == "&", let semi = text[i...].prefix(12).firstIndex(of: ";") {
                let name = String(text[text.index(after: i)..<semi])
                var replacement: String?
                switch name {
                case "amp": replacement = "&"
                case "lt": replacement = "<"
                case "gt": replacement = ">"
                case "quot": replacement = "\""
                case "apos": replacement = "'"
                case "nbsp": replacement = "\u{00A0}"
                default:
                    if name.hasPrefix("#x") || name.hasPrefix("#X"), let v = UInt32(name.dropFirst(2), radix: 16), let s = Unicode.Scalar(v) {
                        replacement = String(s)
                    } else if name.hasPrefix("#"), let v = UInt32(name.dropFirst()), let s = Unicode.Scalar(v) {
                        replacement = String(s)
                    }
                }
                if let replacement {
                    out += replacement
                    i = text.index(after: semi)
                    continue
                }
            }
            out.append(text[i])
            i = text.index(after: i)
        }
        return out
    }
}

extension StringProtocol {
    func trimmingCharacters() -> String {
        let scalars = Array(unicodeScalars)
        guard let first = scalars.firstIndex(where: { !TextTools.isSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !TextTools.isSpace($0) })!
        var view = String.UnicodeScalarView()
        view.append(contentsOf: scalars[first...last])
        return String(view)
    }
}
