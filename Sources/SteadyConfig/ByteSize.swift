/// The byte-size syntax of config files: a whole number of bytes, or a number and a binary
/// unit ("512K", "256M", "1G", "64MiB", "1.5G"). K, M, G and T are powers of 1024 whatever the
/// spelling (`K`, `KB`, `KiB`, case-insensitive), as in systemd's `MemoryMax=`.
public enum ByteSize {
    public static let kibibyte: UInt64 = 1 << 10
    public static let mebibyte: UInt64 = 1 << 20
    public static let gibibyte: UInt64 = 1 << 30
    public static let tebibyte: UInt64 = 1 << 40

    /// Bytes for `text`, or nil when it is not a valid size or exceeds UInt64. A fraction is
    /// rounded down to whole bytes.
    public static func parse(_ text: String) -> UInt64? {
        let bytes = Array(text.utf8)
        guard let (number, end) = parseNumber(bytes, from: 0) else { return nil }
        var i = end
        if i + 1 < bytes.count, bytes[i] == UInt8(ascii: " ") { i += 1 }
        let unit: UInt64
        switch String(decoding: bytes[i...], as: UTF8.self).lowercased() {
        case "", "b": unit = 1
        case "k", "kb", "kib": unit = kibibyte
        case "m", "mb", "mib": unit = mebibyte
        case "g", "gb", "gib": unit = gibibyte
        case "t", "tb", "tib": unit = tebibyte
        default: return nil
        }
        if unit == 1 && number.fractionDigits > 0 { return nil }
        return number.scaled(by: unit, truncating: true)
    }

    /// The shortest exact spelling: "2G", "256M", "1536K", or plain bytes.
    public static func format(_ bytes: UInt64) -> String {
        guard bytes > 0 else { return "0" }
        for (unit, suffix) in [(tebibyte, "T"), (gibibyte, "G"), (mebibyte, "M"), (kibibyte, "K")]
        where bytes % unit == 0 {
            return "\(bytes / unit)\(suffix)"
        }
        return "\(bytes)"
    }
}
