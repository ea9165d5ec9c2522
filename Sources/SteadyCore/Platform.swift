/// A social platform's name, as configs, the store, logs and the CLI spell it.
///
/// Only the name lives here, so that processes which link no adapter code (the supervisor,
/// `steadypostd check-config`) can check a config. What a platform *does* (credentials,
/// idempotency material, retry policy, text rules, error reading, its adapter) lives in one
/// `PlatformDefinition` per platform in SteadyPlatforms, registered once in
/// `PlatformRegistry`; see ARCHITECTURE.md, "Add a platform".
public struct Platform: RawRepresentable, Hashable, Comparable, Sendable, Codable, CaseIterable, CustomStringConvertible {
    public let rawValue: String

    /// Any well-formed name (lowercase ASCII letters, digits, `-`, starting with a letter, at
    /// most 32 bytes); whether steadypost supports it is `isBuiltIn` / the registry's say.
    public init?(rawValue: String) {
        guard Self.isWellFormed(rawValue) else { return nil }
        self.rawValue = rawValue
    }

    private init(builtIn name: String) {
        rawValue = name
    }

    public static func isWellFormed(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard let first = bytes.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first), bytes.count <= 32 else {
            return false
        }
        return bytes.allSatisfy {
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0)
                || $0 == UInt8(ascii: "-")
        }
    }

    public static let x = Platform(builtIn: "x")
    public static let mastodon = Platform(builtIn: "mastodon")
    public static let bluesky = Platform(builtIn: "bluesky")
    public static let facebook = Platform(builtIn: "facebook")

    /// The platforms a config may name, in the order error messages list them. Each has a
    /// definition in `PlatformRegistry` (a test holds the two lists equal).
    public static let builtIn: [Platform] = [.x, .mastodon, .bluesky, .facebook]

    /// The built-in platforms (a test's fake platform is not among them).
    public static var allCases: [Platform] { builtIn }

    public var isBuiltIn: Bool { Self.builtIn.contains(self) }

    public var description: String { rawValue }

    public static func < (lhs: Platform, rhs: Platform) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let p = Platform(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not a platform name: \(text)"))
        }
        self = p
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }
}
