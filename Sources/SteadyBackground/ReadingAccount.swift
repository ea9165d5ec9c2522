import SteadyConfig
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyPosting
import SteadyStore

/// One configured account as the periodic workers (metrics, replies) read it: the adapter
/// made from the credentials file and the session the posting worker last stored. Used only
/// on the worker's `BackgroundQueue` thread (adapters are not thread-safe).
///
/// Tokens: the posting worker owns their rotation (X refresh tokens are single-use: a second
/// refresher would break its chain). So on a refused token this side never refreshes X: it
/// re-reads the stored session and tries again on the next run. Bluesky sessions are cheap
/// to have twice (refreshSession or createSession, kept in memory only); Mastodon tokens do not
/// expire.
public final class ReadingAccount: @unchecked Sendable {
    public let config: AccountConfig
    public var name: String { config.name }
    public var platform: Platform { config.platform }
    /// Why the account cannot be read (its credentials file is missing or unusable).
    public let credentialsError: String?
    private let credentials: Credentials?
    private let httpOptions: HTTPClientOptions
    private var current: (any PlatformAdapter)?
    private var storedTokensUsed: String?

    public init(config: AccountConfig, daemon: Config, httpOptions: HTTPClientOptions) {
        self.config = config
        self.httpOptions = httpOptions
        switch CredentialsLoader.load(config, config: daemon) {
        case .success(let c):
            credentials = c
            credentialsError = nil
        case .failure(let e):
            credentials = nil
            credentialsError = e.message
        }
    }

    /// The adapter, made again when the posting worker has stored newer tokens since.
    public func adapter(store: SQLitePostStore) throws(PlatformError) -> any PlatformAdapter {
        guard let credentials else {
            throw PlatformError(platform: platform, errorClass: .auth, evidence: ErrorEvidence(operation: "credentials"),
                                message: credentialsError ?? "no credentials")
        }
        let stored = (try? store.accountStates())?[name]?.tokens
        if let current, stored == storedTokensUsed { return current }
        let adapter = AdapterFactory.make(credentials: credentials, baseURL: config.baseURL,
                                          session: Self.storedSession(stored, credentials: credentials),
                                          client: HTTPClient(options: httpOptions))
        current = adapter
        storedTokensUsed = stored
        return adapter
    }

    /// Runs `body` with the adapter; on a refused token, renews what this side may renew
    /// (see the type's note) and tries once more.
    public func withAdapter<T>(store: SQLitePostStore, _ body: (any PlatformAdapter) throws(PlatformError) -> T) throws(PlatformError) -> T {
        let adapter = try adapter(store: store)
        do {
            return try body(adapter)
        } catch where error.errorClass == .auth && platform == .bluesky {
            _ = try adapter.refreshAuth()
            return try body(adapter)
        } catch where error.errorClass == .auth {
            current = nil
            throw error
        }
    }

    /// The account's own id and handle, asked once and kept.
    public private(set) var identity: Identity?

    public func identity(store: SQLitePostStore) throws(PlatformError) -> Identity {
        if let identity { return identity }
        let found = try withAdapter(store: store) { (a: any PlatformAdapter) throws(PlatformError) in try a.identity() }
        identity = found
        return found
    }

    /// The session in `account_state.tokens` (`{"credentials_fp", "session"}`, as the posting
    /// worker writes it) when it grew from these credentials.
    static func storedSession(_ text: String?, credentials: Credentials) -> SessionTokens? {
        guard let text, let json = try? JSON.parse(text), let session = json["session"], session.isObject else { return nil }
        let fingerprint = String(SHA256.hex(Array(credentials.secrets.joined(separator: "\u{0}").utf8)).prefix(32))
        guard json["credentials_fp"]?.string == fingerprint else { return nil }
        return try? SessionTokens(json: session.serialized)
    }
}
