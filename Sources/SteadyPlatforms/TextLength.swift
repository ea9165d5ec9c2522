import SteadyCore

/// How long a text is by a platform's own rule (PLATFORMS.md), checked before anything is sent.
///
/// - X: NFC-normalized, then weighted: each http(s) URL counts 23; code points in
///   0–4351, 8192–8205, 8208–8223, 8242–8247 weigh 1, every other code point (emoji, CJK, each
///   scalar of a ZWJ sequence) weighs 2; limit 280.
/// - Mastodon: graphemes, with each http(s) URL counting 23 and a remote mention
///   `@user@domain` counting as `@user`; limit 500 (or the instance's configured figures).
/// - Bluesky: graphemes, limit 300, and at most 3,000 UTF-8 bytes.
///
/// NFC comes from the standard library (`String._nfcCodeUnits`), not Foundation: the
/// FoundationEssentials module has no normalization, and full Foundation would pull ICU
/// (tens of MiB of RSS) into the posting worker for one function.
public struct TextLength: Sendable, Equatable {
    public var platform: Platform
    /// The length by the platform's rule (weighted characters for X, graphemes otherwise).
    public var count: Int
    public var limit: Int
    /// UTF-8 bytes (Bluesky also caps these).
    public var utf8Bytes: Int
    public var byteLimit: Int?

    public init(platform: Platform, count: Int, limit: Int, utf8Bytes: Int, byteLimit: Int?) {
        self.platform = platform
        self.count = count
        self.limit = limit
        self.utf8Bytes = utf8Bytes
        self.byteLimit = byteLimit
    }

    public var isWithinLimit: Bool { count <= limit && (byteLimit.map { utf8Bytes <= $0 } ?? true) }
    /// How far over the limit (0 when within).
    public var excess: Int { max(0, count - limit) }

    public static let xLimit = 280
    public static let xURLWeight = 23
    public static let mastodonDefaultLimit = 500
    public static let mastodonDefaultURLLength = 23
    public static let blueskyLimit = 300
    public static let blueskyByteLimit = 3000

    /// `text` by `platform`'s rule (its definition's), with its default limits.
    public static func measure(_ text: String, for platform: Platform) -> TextLength {
        PlatformRegistry.rules(for: platform).measure(text)
    }

    /// The draft's length as a `permanent` error when it is empty or too long; `unit` names
    /// what `measured` counts.
    public static func check(_ draft: PostDraft, measured: TextLength, unit: String) throws(PlatformError) {
        let platform = measured.platform
        let trimmed = draft.text.trimmingCharacters()
        if trimmed.isEmpty {
            throw PlatformError(platform: platform, errorClass: .permanent(reason: "empty post"),
                                evidence: ErrorEvidence(operation: "validate"), message: "the post has no text")
        }
        if measured.count > measured.limit {
            let reason = "text too long: \(measured.count) of \(measured.limit) \(unit), \(measured.excess) over"
            throw PlatformError(platform: platform, errorClass: .permanent(reason: reason),
                                evidence: ErrorEvidence(operation: "validate"), message: reason)
        }
        if let byteLimit = measured.byteLimit, measured.utf8Bytes > byteLimit {
            let reason = "text too long: \(measured.utf8Bytes) of \(byteLimit) UTF-8 bytes, \(measured.utf8Bytes - byteLimit) over"
            throw PlatformError(platform: platform, errorClass: .permanent(reason: reason),
                                evidence: ErrorEvidence(operation: "validate"), message: reason)
        }
    }

    /// X's weighted length of `text` (NFC first).
    public static func xWeightedLength(_ text: String) -> Int {
        let scalars = Array(TextTools.nfc(text).unicodeScalars)
        let urls = TextTools.urlRanges(in: scalars)
        var total = 0
        var i = 0
        var u = 0
        while i < scalars.count {
            if u < urls.count, urls[u].lowerBound == i {
                total += xURLWeight
                i = urls[u].upperBound
                u += 1
                continue
            }
            total += xWeight(scalars[i])
            i += 1
        }
        return total
    }

    public static func xWeight(_ scalar: Unicode.Scalar) -> Int {
        switch scalar.value {
        case 0...4351, 8192...8205, 8208...8223, 8242...8247: return 1
        default: return 2
        }
    }

    /// Mastodon's length: URLs as `urlLength` characters, `@user@domain` as `@user`, then graphemes.
    public static func mastodonLength(_ text: String, urlLength: Int = mastodonDefaultURLLength) -> Int {
        let scalars = Array(text.unicodeScalars)
        let urls = TextTools.urlRanges(in: scalars)
        var countable = String.UnicodeScalarView()
        var i = 0
        var u = 0
        while i < scalars.count {
            if u < urls.count, urls[u].lowerBound == i {
                countable.append(contentsOf: String(repeating: "x", count: urlLength).unicodeScalars)
                i = urls[u].upperBound
                u += 1
                continue
            }
            countable.append(scalars[i])
            i += 1
        }
        return TextTools.foldRemoteMentions(String(countable)).count
    }
}

/// Text helpers shared by length counting and content normalization.
public enum TextTools {
    /// NFC normalization through the standard library.
    public static func nfc(_ text: String) -> String {
        if text.utf8.allSatisfy({ $0 < 0x80 }) { return text }
        return String(decoding: text._nfcCodeUnits, as: UTF8.self)
    }

    /// Ranges (in scalar offsets) of `http://` and `https://` URLs: the scheme (any case), at
    /// the start or after a character that is not a letter, digit, `@`, `$` or `#`, followed by
    /// at least one host character and running to the next whitespace; trailing punctuation
    /// `. , ; : ! ? ' "` and unbalanced closing brackets are not part of the URL.
    public static func urlRanges(in scalars: [Unicode.Scalar]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var i = 0
        let n = scalars.count
        while i < n {
            guard scalars[i] == "h" || scalars[i] == "H" else { i += 1; continue }
            if i > 0 {
                let p = scalars[i - 1]
                if p.properties.isAlphabetic || p.properties.numericType != nil || p == "@" || p == "$" || p == "#" { i += 1; continue }
            }
            var schemeLength = 0
            for scheme in ["https://", "http://"] {
                let s = Array(scheme.unicodeScalars)
                if i + s.count <= n, zip(scalars[i..<i + s.count], s).allSatisfy({ $0.0.properties.lowercaseMapping == String($0.1) }) {
                    schemeLength = s.count
                    break
                }
            }
            guard schemeLength > 0 else { i += 1; continue }
            var end = i + schemeLength
            while end < n, !isSpace(scalars[end]) { end += 1 }
            // Trim trailing punctuation and unbalanced closers.
            while end > i + schemeLength {
                let last = scalars[end - 1]
                if ".,;:!?'\"".unicodeScalars.contains(last) {
                    end -= 1
                } else if last == ")" || last == "]" || last == "}" {
                    let open: Unicode.Scalar = last == ")" ? "(" : (last == "]" ? "[" : "{")
                    let body = scalars[(i + schemeLength)..<(end - 1)]
                    let opens = body.filter { $0 == open }.count
                    let closes = body.filter { $0 == last }.count
                    if opens > closes { break }
                    end -= 1
                } else {
                    break
                }
            }
            // A URL needs a host: at least one letter or digit after the scheme.
            if scalars[(i + schemeLength)..<end].contains(where: { $0.properties.isAlphabetic || $0.properties.numericType != nil }) {
                ranges.append(i..<end)
                i = end
            } else {
                i += schemeLength
            }
        }
        return ranges
    }

    public static func urlRanges(in text: String) -> [Range<Int>] { urlRanges(in: Array(text.unicodeScalars)) }

    public static func isSpace(_ s: Unicode.Scalar) -> Bool {
        s.properties.isWhitespace || s == "\u{200B}" || s == "\u{FEFF}"
    }

    /// `@user@example.social` → `@user` (Mastodon counts and shows remote mentions so).
    public static func foldRemoteMentions(_ text: String) -> String {
        let s = Array(text.unicodeScalars)
        guard s.contains("@") else { return text }
        var out = String.UnicodeScalarView()
        var i = 0
        func isWord(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic || c.properties.numericType != nil || c == "_" }
        func isUser(_ c: Unicode.Scalar) -> Bool { c.isASCII && (isWord(c)) }
        while i < s.count {
            let precededOK = i == 0 || (!isWord(s[i - 1]) && s[i - 1] != "/" && s[i - 1] != "@")
            if s[i] == "@", precededOK {
                var j = i + 1
                while j < s.count, isUser(s[j]) { j += 1 }
                if j > i + 1, j < s.count, s[j] == "@" {
                    var k = j + 1
                    while k < s.count, isWord(s[k]) || s[k] == "." || s[k] == "-" { k += 1 }
                    // The domain ends on a word character.
                    while k > j + 1, !isWord(s[k - 1]) { k -= 1 }
                    if k > j + 1 {
                        out.append(contentsOf: s[i..<j])
                        i = k
                        continue
                    }
                }
            }
            out.append(s[i])
            i += 1
        }
        return String(out)
    }
}
