import SteadyCore
import SteadyHTTP

/// Builds the adapter for an account from its credentials (which name the platform), base URL
/// and the last persisted session tokens, through the platform's definition.
public enum AdapterFactory {
    public static func make(credentials: Credentials, baseURL: String, session: SessionTokens? = nil, client: HTTPClient,
                            now: @escaping @Sendable () -> Int64 = { SteadyClock.wallMillis() }) -> any PlatformAdapter {
        // Credentials exist only for platforms with a definition (`Credentials.parse`).
        guard let definition = PlatformRegistry.definition(for: credentials.platform) else {
            preconditionFailure("no definition for platform \(credentials.platform)")
        }
        return definition.makeAdapter(credentials: credentials, baseURL: baseURL, session: session, client: client, now: now)
    }

    /// The default base URL of a platform (accounts may override it; tests use the simulator's).
    public static func defaultBaseURL(_ platform: Platform) -> String? {
        PlatformRegistry.definition(for: platform)?.defaultBaseURL
    }
}
