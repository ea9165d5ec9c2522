/// The duration syntax of config files and the CLI: a number and a unit, `ms`, `s`, `m` or
/// `h` ("250ms", "1s", "1.5s", "2m", "1h"), optionally several in a row ("1m30s").
/// Values are whole milliseconds; a duration that is not a whole number of milliseconds
/// ("0.5ms") or does not fit in Int64 milliseconds is rejected.
public enum DurationText {
    /// Milliseconds for `text`, or nil when it is not a valid duration. "0" is accepted
    /// without a unit; any other number needs one.
    public static func parseMillis(_ text: String) -> Int64? {
        let bytes = Array(text.utf8)
        if bytes == [UInt8(ascii: "0")] { return 0 }
        guard !bytes.isEmpty else { return nil }
        var i = 0
        var total: Int64 = 0
        while i < bytes.count {
            guard let (value, next) = parseNumber(bytes, from: i) else { return nil }
            i = next
            let unitStart = i
            while i < bytes.count, isLetter(bytes[i]) { i += 1 }
            let unit: Int64
            switch String(decoding: bytes[unitStart..<i], as: UTF8.self) {
            case "ms": unit = 1
            case "s": unit = 1000
            case "m": unit = 60_000
            case "h": unit = 3_600_000
            default: return nil
            }
            guard let part = value.scaled(by: unit) else { return nil }
            let (sum, overflow) = total.addingReportingOverflow(part)
            if overflow { return nil }
            total = sum
        }
        return total
    }

    /// The shortest exact spelling of a duration: "250ms", "1s", "1.5s", "2m", "1h".
    public static func format(millis: Int64) -> String {
        if millis < 0 {
            if millis == .min { return "\(millis)ms" }
            return "-" + format(millis: -millis)
        }
        if millis == 0 { return "0s" }
        if millis % 3_600_000 == 0 { return "\(millis / 3_600_000)h" }
        if millis % 60_000 == 0 { return "\(millis / 60_000)m" }
        if millis % 1000 == 0 { return "\(millis / 1000)s" }
        if millis >= 1000 {
            var fraction = String(millis % 1000)
            fraction = String(repeating: "0", count: 3 - fraction.count) + fraction
            while fraction.last == "0" { fraction.removeLast() }
            return "\(millis / 1000).\(fraction)s"
        }
        return "\(millis)ms"
    }

    private static func isLetter(_ c: UInt8) -> Bool {
        (c >= UInt8(ascii: "a") && c <= UInt8(ascii: "z")) || (c >= UInt8(ascii: "A") && c <= UInt8(ascii: "Z"))
    }
}

/// A non-negative decimal number with an optional fraction, kept exact.
struct ExactDecimal {
    var integer: UInt64
    /// Fraction digits as an integer, and how many digits (at most 18).
    var fraction: UInt64
    var fractionDigits: Int

    /// `self × unit`, or nil when it overflows Int64 or is not a whole number.
    func scaled(by unit: Int64) -> Int64? {
        guard let whole = scaled(by: UInt64(unit), truncating: false), whole <= UInt64(Int64.max) else { return nil }
        return Int64(whole)
    }

    /// `self × unit` in UInt64; with `truncating` a fractional remainder is dropped, otherwise
    /// it makes the result nil.
    func scaled(by unit: UInt64, truncating: Bool) -> UInt64? {
        let (whole, o1) = integer.multipliedReportingOverflow(by: unit)
        if o1 { return nil }
        guard fractionDigits > 0 else { return whole }
        var divisor: UInt64 = 1
        for _ in 0..<fractionDigits { divisor *= 10 }
        // fraction < divisor ≤ 10^18 and unit ≤ 2^40 in our uses; use full-width multiply.
        let product = fraction.multipliedFullWidth(by: unit)
        guard product.high < divisor else { return nil }
        let (quotient, remainder) = divisor.dividingFullWidth(product)
        if remainder != 0 && !truncating { return nil }
        let (sum, o2) = whole.addingReportingOverflow(quotient)
        return o2 ? nil : sum
    }
}

/// Reads `digits[.digits]` at `from`; returns the number and the index after it.
func parseNumber(_ bytes: [UInt8], from start: Int) -> (ExactDecimal, Int)? {
    var i = start
    var integer: UInt64 = 0
    var sawDigit = false
    while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
        let (m, o1) = integer.multipliedReportingOverflow(by: 10)
        let (a, o2) = m.addingReportingOverflow(UInt64(bytes[i] - UInt8(ascii: "0")))
        if o1 || o2 { return nil }
        integer = a
        sawDigit = true
        i += 1
    }
    guard sawDigit else { return nil }
    var fraction: UInt64 = 0
    var fractionDigits = 0
    if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
        i += 1
        var sawFractionDigit = false
        while i < bytes.count, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            sawFractionDigit = true
            if fractionDigits < 18 {
                fraction = fraction * 10 + UInt64(bytes[i] - UInt8(ascii: "0"))
                fractionDigits += 1
            } else if bytes[i] != UInt8(ascii: "0") {
                return nil  // more precision than anything here can use
            }
            i += 1
        }
        if !sawFractionDigit { return nil }
    }
    return (ExactDecimal(integer: integer, fraction: fraction, fractionDigits: fractionDigits), i)
}
