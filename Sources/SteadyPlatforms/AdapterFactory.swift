import SteadyCore
import SteadyHTTP

/// Builds the adapter for an account from its platform, base URL, credentials file and the
/// last persisted session tokens.
public enum AdapterFactory {
    public static func make(credentials: Credentials, baseURL: String, session: SessionTokens? = nil, client: HTTPClient,
                            now: @escaping @Sendable () -> Int64 = { SteadyClock.wallMillis() }) -> any PlatformAdapter {
        switch credentials {
        case .x(let c): return XAdapter(baseURL: baseURL, credentials: c, session: session, client: client, now: now)
        case .mastodon(let c): return MastodonAdapter(baseURL: baseURL, credentials: c, session: session, client: client, now: now)
        case .bluesky(let c): return BlueskyAdapter(baseURL: baseURL, credentials: c, session: session, client: client, now: now)
        }
    }

    /// The default base URL of each platform (accounts may override it; tests use the simulator's).
    public static func defaultBaseURL(_ platform: Platform) -> String {
        switch platform {
        case .x: return "https://api.x.com"
        case .mastodon: return "https://mastodon.social"
        case .bluesky: return "https://bsky.social"
        }
    }
}
