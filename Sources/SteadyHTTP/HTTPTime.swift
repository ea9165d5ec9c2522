import SteadyCore

/// Timestamps as the platforms write them, to and from integer milliseconds since the Unix
/// epoch (UTC). No Foundation: plain civil-calendar arithmetic.
public enum HTTPTime {
    /// Parses ISO 8601 / RFC 3339 date-times: `2026-05-01T12:34:56Z`, with an optional
    /// fraction of any length (`.123456`), `Z`/`z` or an offset (`+02:00`, `+0200`, `-05`), and
    /// `T`, `t` or a space between date and time. A date-time without a zone is taken as UTC.
    /// Fractions below a millisecond are truncated. A day not on the calendar or an offset past
    /// ±23:59 is nil.
    public static func parseISO8601(_ text: String) -> Int64? {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in 0..<n {
                let c = b[i + k]
                guard c >= 48 && c <= 57 else { return nil }
                v = v * 10 + Int(c - 48)
            }
            i += n
            return v
        }
        func expect(_ c: UInt8) -> Bool {
            guard i < b.count, b[i] == c else { return false }
            i += 1
            return true
        }
        guard let year = digits(4), expect(45), let month = digits(2), expect(45), let day = digits(2) else { return nil }
        guard i < b.count, b[i] == 84 || b[i] == 116 || b[i] == 32 else { return nil }  // T t space
        i += 1
        guard let hour = digits(2), expect(58), let minute = digits(2), expect(58), let second = digits(2) else { return nil }
        var millis = 0
        if i < b.count, b[i] == 46 || b[i] == 44 {  // . or ,
            i += 1
            var scale = 100
            var any = false
            while i < b.count, b[i] >= 48 && b[i] <= 57 {
                millis += Int(b[i] - 48) * scale
                scale /= 10
                any = true
                i += 1
            }
            guard any else { return nil }
        }
        var offsetSeconds = 0
        if i < b.count {
            if b[i] == 90 || b[i] == 122 {  // Z z
                i += 1
            } else if b[i] == 43 || b[i] == 45 {  // + -
                let sign = b[i] == 45 ? -1 : 1
                i += 1
                guard let oh = digits(2), oh <= 23 else { return nil }
                var om = 0
                if i < b.count {
                    _ = expect(58)
                    guard let m = digits(2), m <= 59 else { return nil }
                    om = m
                }
                offsetSeconds = sign * (oh * 3600 + om * 60)
            } else {
                return nil
            }
        }
        guard i == b.count else { return nil }
        // A day the calendar has: 2099-02-31 is refused, not rolled over into March.
        guard (1...12).contains(month), (1...CivilCalendar.daysIn(month: month, year: year)).contains(day),
              hour <= 23, minute <= 59, second <= 60 else { return nil }
        let days = CivilCalendar.days(year: year, month: month, day: day)
        let seconds = Int64(days) * 86_400 + Int64(hour * 3600 + minute * 60 + second) - Int64(offsetSeconds)
        return seconds * 1000 + Int64(millis)
    }

    /// `2026-05-01T12:34:56.789Z` (always UTC, always milliseconds).
    public static func formatISO8601(millis: Int64) -> String {
        let (seconds, ms) = floorDivide(millis, 1000)
        let (days, secOfDay) = floorDivide(seconds, 86_400)
        let (y, m, d) = CivilCalendar.date(days: Int(days))
        let h = Int(secOfDay) / 3600, mi = Int(secOfDay) % 3600 / 60, s = Int(secOfDay) % 60
        return "\(pad(y, 4))-\(pad(m, 2))-\(pad(d, 2))T\(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)).\(pad(Int(ms), 3))Z"
    }

    /// `2026-05-01T12:34:56Z` (whole seconds, what X's `start_time` takes).
    public static func formatISO8601Seconds(millis: Int64) -> String {
        let full = formatISO8601(millis: millis)
        return String(full.prefix(19)) + "Z"
    }

    /// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the HTTP `Date` header's form.
    public static func formatHTTPDate(millis: Int64) -> String {
        let (seconds, _) = floorDivide(millis, 1000)
        let (days, secOfDay) = floorDivide(seconds, 86_400)
        let (y, m, d) = CivilCalendar.date(days: Int(days))
        // 1970-01-01 was a Thursday.
        let weekday = Int(floorDivide(days + 4, 7).1)
        let h = Int(secOfDay) / 3600, mi = Int(secOfDay) % 3600 / 60, s = Int(secOfDay) % 60
        return "\(weekdays[weekday]), \(pad(d, 2)) \(months[m - 1]) \(pad(y, 4)) \(pad(h, 2)):\(pad(mi, 2)):\(pad(s, 2)) GMT"
    }

    static let weekdays = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// Parses an IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`), the HTTP-date of `Retry-After`.
    public static func parseHTTPDate(_ text: String) -> Int64? {
        let parts = text.split(separator: " ")
        guard parts.count == 6, parts[5] == "GMT", let day = Int(parts[1]), let year = Int(parts[3]) else { return nil }
        guard let mIndex = months.firstIndex(of: String(parts[2])) else { return nil }
        let hms = parts[4].split(separator: ":")
        guard hms.count == 3, let h = Int(hms[0]), let mi = Int(hms[1]), let s = Int(hms[2]) else { return nil }
        // Ranges first: a wild year or hour must not overflow the arithmetic below.
        guard (1...9999).contains(year), (1...31).contains(day), (0...23).contains(h), (0...59).contains(mi), (0...60).contains(s) else { return nil }
        let days = CivilCalendar.days(year: year, month: mIndex + 1, day: day)
        return (Int64(days) * 86_400 + Int64(h * 3600 + mi * 60 + s)) * 1000
    }

    private static func floorDivide(_ a: Int64, _ b: Int64) -> (Int64, Int64) {
        var q = a / b
        var r = a % b
        if r < 0 {
            q -= 1
            r += b
        }
        return (q, r)
    }

    private static func pad(_ v: Int, _ width: Int) -> String {
        let s = String(v)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}
