import Foundation

/// Each platform's post-length rule, written from PLATFORMS.md for the simulator's own use
/// (the adapters have their own copy on purpose).
enum TextRules {
    /// X: 280 weighted characters.
    static let xLimit = 280
    /// Mastodon: 500 graphemes.
    static let mastodonLimit = 500
    /// Bluesky: 300 graphemes and 3,000 UTF-8 bytes.
    static let blueskyGraphemeLimit = 300
    static let blueskyByteLimit = 3000
    /// What a URL counts on X and Mastodon.
    static let urlWeight = 23

    /// The ranges of `text` that are links: `http://` or `https://` up to whitespace, less
    /// trailing punctuation.
    static func urlRanges(in text: String) -> [Range<String.Index>] {
        var ranges: [Range<String.Index>] = []
        var searchStart = text.startIndex
        while searchStart < text.endIndex {
            let http = text.range(of: "http://", options: [.caseInsensitive], range: searchStart..<text.endIndex)
            let https = text.range(of: "https://", options: [.caseInsensitive], range: searchStart..<text.endIndex)
            let found: Range<String.Index>?
            switch (http, https) {
            case (nil, nil): found = nil
            case (let a?, nil): found = a
            case (nil, let b?): found = b
            case (let a?, let b?): found = a.lowerBound <= b.lowerBound ? a : b
            }
            guard let start = found else { break }
            // A link starts a word.
            if start.lowerBound > text.startIndex {
                let before = text[text.index(before: start.lowerBound)]
                if !(before.isWhitespace || "([{<\"'".contains(before)) {
                    searchStart = start.upperBound
                    continue
                }
            }
            var end = start.upperBound
            while end < text.endIndex, !text[end].isWhitespace {
                end = text.index(after: end)
            }
            while end > start.upperBound, ".,;:!?)]}'\"".contains(text[text.index(before: end)]) {
                end = text.index(before: end)
            }
            if end > start.upperBound {
                ranges.append(start.lowerBound..<end)
            }
            searchStart = end > start.upperBound ? end : start.upperBound
        }
        return ranges
    }

    /// The X weight of one code point: 1 in the light ranges, 2 otherwise.
    static func xWeight(_ scalar: Unicode.Scalar) -> Int {
        switch scalar.value {
        case 0...4351, 8192...8205, 8208...8223, 8242...8247: return 1
        default: return 2
        }
    }

    /// X's weighted length: NFC-normalized, each URL 23, each code point by `xWeight`.
    static func xWeightedLength(_ text: String) -> Int {
        let normalized = text.precomposedStringWithCanonicalMapping
        var total = 0
        var cursor = normalized.startIndex
        for range in urlRanges(in: normalized) {
            total += normalized[cursor..<range.lowerBound].unicodeScalars.reduce(0) { $0 + xWeight($1) }
            total += urlWeight
            cursor = range.upperBound
        }
        total += normalized[cursor...].unicodeScalars.reduce(0) { $0 + xWeight($1) }
        return total
    }

    /// Mastodon's length: graphemes, each URL 23, `@user@domain` counted as `@user`.
    static func mastodonLength(_ text: String) -> Int {
        var total = 0
        var cursor = text.startIndex
        for range in urlRanges(in: text) {
            total += mastodonPlainLength(text[cursor..<range.lowerBound])
            total += urlWeight
            cursor = range.upperBound
        }
        total += mastodonPlainLength(text[cursor...])
        return total
    }

    private static func mastodonPlainLength(_ text: Substring) -> Int {
        // Shorten remote mentions: "@user@domain.tld" counts as "@user".
        var count = 0
        var index = text.startIndex
        while index < text.endIndex {
            let c = text[index]
            if c == "@", index == text.startIndex || !isMentionCharacter(text[text.index(before: index)]) {
                var end = text.index(after: index)
                while end < text.endIndex, isMentionCharacter(text[end]) { end = text.index(after: end) }
                if end > text.index(after: index), end < text.endIndex, text[end] == "@" {
                    var domainEnd = text.index(after: end)
                    while domainEnd < text.endIndex, isDomainCharacter(text[domainEnd]) {
                        domainEnd = text.index(after: domainEnd)
                    }
                    if domainEnd > text.index(after: end) {
                        count += text.distance(from: index, to: end)
                        index = domainEnd
                        continue
                    }
                }
            }
            count += 1
            index = text.index(after: index)
        }
        return count
    }

    private static func isMentionCharacter(_ c: Character) -> Bool {
        c.isLetter || c.isNumber || c == "_"
    }

    private static func isDomainCharacter(_ c: Character) -> Bool {
        c.isLetter || c.isNumber || c == "." || c == "-"
    }

    /// Bluesky's length in graphemes.
    static func blueskyGraphemes(_ text: String) -> Int { text.count }

    /// Bluesky's length in UTF-8 bytes.
    static func blueskyBytes(_ text: String) -> Int { text.utf8.count }

    /// `text` with every link replaced by `replacement()`.
    static func rewritingURLs(_ text: String, _ replacement: () -> String) -> String {
        var out = ""
        var cursor = text.startIndex
        for range in urlRanges(in: text) {
            out += text[cursor..<range.lowerBound]
            out += replacement()
            cursor = range.upperBound
        }
        out += text[cursor...]
        return out
    }
}
