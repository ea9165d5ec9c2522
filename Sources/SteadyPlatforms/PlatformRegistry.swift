import SteadyCore
import Synchronization

/// The platforms steadypost speaks, each defined once. `builtIn` is the one registration line
/// per platform; its names equal `Platform.builtIn` (a test holds them so), which is what a
/// config may name.
public enum PlatformRegistry {
    public static let builtIn: [any PlatformDefinition] = [XPlatform(), MastodonPlatform(), BlueskyPlatform()]

    private static let added = Mutex<[Platform: any PlatformDefinition]>([:])

    /// The definition of `platform`; nil for a name steadypost does not speak.
    public static func definition(for platform: Platform) -> (any PlatformDefinition)? {
        if let d = builtIn.first(where: { $0.platform == platform }) { return d }
        return added.withLock { $0[platform] }
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
