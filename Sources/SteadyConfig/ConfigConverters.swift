import Glibc
import SteadyCore

/// Each key's conversion from a TOML value: `.ok`, or `.bad` with the message the operator
/// reads after `PATH:LINE: KEY:`.
extension ConfigDecoder {

    static func string(_ value: TOMLValue) -> Conversion<String> {
        guard case .string(let s) = value else { return .bad("expected a string, got \(value.typeName)") }
        return .ok(s)
    }

    /// An `api.allowed_hosts` entry: `HOST` or `HOST:PORT` (IPv6 in brackets), or `"*"`;
    /// kept lowercased, as `Host` headers are compared.
    static func allowedHost(_ value: TOMLValue) -> Conversion<String> {
        guard case .string(let text) = value else { return .bad("expected a string, got \(value.typeName)") }
        if text == "*" { return .ok(text) }
        let lower = text.lowercased()
        guard APIConfig.parseHostHeader(lower) != nil else {
            return .bad("expected a host name or address, optionally with :PORT (IPv6 in brackets), or \"*\"; got \"\(text)\"")
        }
        return .ok(lower)
    }

    static func bool(_ value: TOMLValue) -> Conversion<Bool> {
        guard case .boolean(let b) = value else { return .bad("expected a boolean, got \(value.typeName)") }
        return .ok(b)
    }

    static func integer(_ value: TOMLValue, _ range: ClosedRange<Int64>) -> Conversion<Int64> {
        guard case .integer(let i) = value else { return .bad("expected an integer, got \(value.typeName)") }
        guard range.contains(i) else {
            return .bad("must be between \(range.lowerBound) and \(range.upperBound), got \(i)")
        }
        return .ok(i)
    }

    static func duration(_ value: TOMLValue, _ range: ClosedRange<Int64>) -> Conversion<Int64> {
        let millis: Int64
        switch value {
        case .integer(let i):
            millis = i
        case .string(let text):
            guard let parsed = DurationText.parseMillis(text) else {
                return .bad(
                    "invalid duration \"\(text)\" (use a number and ms, s, m or h, e.g. \"250ms\", \"1.5s\", \"2m\")")
            }
            millis = parsed
        default:
            return .bad(
                "expected a duration (a string such as \"1.5s\" or integer milliseconds), got \(value.typeName)")
        }
        guard range.contains(millis) else {
            let low = DurationText.format(millis: range.lowerBound)
            let high = DurationText.format(millis: range.upperBound)
            let got = value.integerValue.map { "\($0)ms" } ?? DurationText.format(millis: millis)
            return .bad("must be between \(low) and \(high), got \(got)")
        }
        return .ok(millis)
    }

    static func byteSize(_ value: TOMLValue, _ range: ClosedRange<UInt64>) -> Conversion<UInt64> {
        let bytes: UInt64
        switch value {
        case .integer(let i):
            guard i >= 0 else {
                return .bad(
                    "must be between \(ByteSize.format(range.lowerBound)) and \(ByteSize.format(range.upperBound)), got \(i)"
                )
            }
            bytes = UInt64(i)
        case .string(let text):
            guard let parsed = ByteSize.parse(text) else {
                return .bad("invalid byte size \"\(text)\" (use bytes or a number and K, M, G or T, e.g. \"256M\", \"1G\")")
            }
            bytes = parsed
        default:
            return .bad(
                "expected a byte size (integer bytes or a string such as \"256M\"), got \(value.typeName)")
        }
        guard range.contains(bytes) else {
            let got = value.stringValue ?? String(bytes)
            return .bad(
                "must be between \(ByteSize.format(range.lowerBound)) and \(ByteSize.format(range.upperBound)), got \(got)"
            )
        }
        return .ok(bytes)
    }

    static func path(_ value: TOMLValue, base: String) -> Conversion<String> {
        switch string(value) {
        case .bad(let message): return .bad(message)
        case .ok(let text):
            if text.isEmpty { return .bad("must not be empty") }
            if text.utf8.contains(0) { return .bad("must not contain a NUL character") }
            return .ok(ConfigPaths.resolve(text, against: base))
        }
    }

    static func groupName(_ value: TOMLValue) -> Conversion<String> {
        switch string(value) {
        case .bad(let message): return .bad(message)
        case .ok(let name):
            let bytes = Array(name.utf8)
            let valid =
                Limits.groupName.contains(bytes.count)
                && bytes.enumerated().allSatisfy { index, c in
                    let letter = (c >= 0x61 && c <= 0x7A) || (c >= 0x41 && c <= 0x5A) || c == UInt8(ascii: "_")
                    let digit = c >= 0x30 && c <= 0x39
                    return index == 0 ? letter : (letter || digit || c == UInt8(ascii: "-") || c == UInt8(ascii: "."))
                }
            guard valid else {
                return .bad(
                    "invalid group name \"\(name)\" (1-32 characters: a letter or '_', then letters, digits, '_', '-', '.')")
            }
            return .ok(name)
        }
    }

    static func accountName(_ value: TOMLValue) -> Conversion<String> {
        switch string(value) {
        case .bad(let message): return .bad(message)
        case .ok(let name):
            let valid =
                Limits.accountName.contains(name.utf8.count)
                && name.utf8.allSatisfy { c in (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == UInt8(ascii: "-") }
            guard valid else {
                return .bad("invalid account name \"\(name)\" (1-64 characters of a-z, 0-9 and '-')")
            }
            return .ok(name)
        }
    }

    static func platform(_ value: TOMLValue) -> Conversion<Platform> {
        switch string(value) {
        case .bad(let message): return .bad(message)
        case .ok(let text):
            guard let platform = Platform(rawValue: text), platform.isBuiltIn else {
                let valid = Platform.builtIn.map(\.rawValue).joined(separator: ", ")
                return .bad("unknown platform \"\(text)\" (valid platforms: \(valid))")
            }
            return .ok(platform)
        }
    }

    static func postingMode(_ value: TOMLValue) -> Conversion<PostingMode> {
        switch string(value) {
        case .bad(let message): return .bad(message)
        case .ok(let text):
            guard let mode = PostingMode(rawValue: text) else {
                return .bad("unknown mode \"\(text)\" (valid modes: api, browser)")
            }
            return .ok(mode)
        }
    }

    /// Whether an `http(s)://HOST[:PORT]/...` URL names this machine: `localhost`, 127.0.0.0/8
    /// or `[::1]`.
    static func isLoopbackURL(_ url: String) -> Bool {
        guard let scheme = ["http://", "https://"].first(where: { url.hasPrefix($0) }) else { return false }
        let rest = url.dropFirst(scheme.count)
        let authority = rest.prefix { $0 != "/" }
        let hostPort = authority.split(separator: "@").last.map(String.init) ?? ""
        let host: String
        if hostPort.hasPrefix("[") {
            host = String(hostPort.dropFirst().prefix { $0 != "]" })
        } else {
            host = String(hostPort.prefix { $0 != ":" })
        }
        return APIConfig.isLoopbackHost(host.lowercased())
    }

    static func baseURL(_ value: TOMLValue) -> Conversion<String> {
        switch string(value) {
        case .bad(let message): return .bad(message)
        case .ok(let text):
            guard let scheme = ["http://", "https://"].first(where: { text.hasPrefix($0) }) else {
                return .bad("must start with http:// or https://, got \"\(text)\"")
            }
            let rest = text.dropFirst(scheme.count)
            guard let hostStart = rest.first, hostStart != "/", hostStart != ":",
                !text.contains(where: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" || $0 == "\0" })
            else {
                return .bad("invalid URL \"\(text)\" (expected http://HOST[:PORT][/PATH])")
            }
            var url = text
            while url.hasSuffix("/") { url.removeLast() }
            return .ok(url)
        }
    }

    static func credentialsFile(_ value: TOMLValue) -> Conversion<String> {
        switch string(value) {
        case .bad(let message): return .bad(message)
        case .ok(let name):
            guard !name.isEmpty, name != ".", name != "..", !name.contains("/"), !name.utf8.contains(0) else {
                return .bad("must be a file name in credentials_dir (no '/'), got \"\(name)\"")
            }
            return .ok(name)
        }
    }
}
