import SteadyCore
import SteadyHTTP
import Synchronization

/// The platforms steadypost speaks, each defined once. `builtIn` is the one registration line
/// per platform; its names equal `Platform.builtIn` (a test holds them so), which is what a
/// config may name.
public enum PlatformRegistry {
    public static let builtIn: [any PlatformDefinition] = [XPlatform(), MastodonPlatform(), BlueskyPlatform(), FacebookPlatform()]

    private static let added = Mutex<[Platform: any PlatformDefinition]>([:])

    /// The definition of `platform`; nil for a name steadypost does not speak.
    public static func definition(for platform: Platform) -> (any PlatformDefinition)? {
        if let d = builtIn.first(where: { $0.platform == platform }) { return d }
        return added.withLock { $0[platform] }
    }

    /// The rules of `platform`: its definition, or for a name without one the protocol's
    /// defaults (error reading, retry, text), so a rule lookup never has to handle "none".
    public static func rules(for platform: Platform) -> any PlatformDefinition {
        definition(for: platform) ?? UndefinedPlatform(platform: platform)
    }

    /// Adds a definition at run time (a test's fake platform); a built-in name cannot be
    /// replaced.
    public static func register(_ definition: any PlatformDefinition) {
        precondition(!definition.platform.isBuiltIn, "\(definition.platform) is built in")
        added.withLock { $0[definition.platform] = definition }
    }

    /// Every platform with a definition.
    public static var platforms: [Platform] {
        builtIn.map(\.platform) + added.withLock { $0.keys.sorted() }
    }
}

/// The rules a platform without a definition gets: the defaults.
struct UndefinedPlatform: PlatformDefinition {
    var platform: Platform
    var defaultBaseURL: String { "" }
    var credentialFields: [CredentialField] { [] }
    func makeAdapter(credentials: Credentials, baseURL: String, session: SessionTokens?, client: HTTPClient,
                     now: @escaping @Sendable () -> Int64) -> any PlatformAdapter {
        preconditionFailure("no adapter for platform \(platform)")
    }
    func measure(_ text: String) -> TextLength {
        TextLength(platform: platform, count: text.count, limit: Int.max, utf8Bytes: text.utf8.count, byteLimit: nil)
    }
}
