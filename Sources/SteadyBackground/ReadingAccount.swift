import Logging
import SteadyConfig
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyStore
import SteadyTokens

/// One configured account as the periodic workers (metrics, replies, reconciler) read it:
/// one adapter made from the credentials file and the tokens last stored by any process.
/// Used only on the worker's one background thread (adapters are not thread-safe).
///
/// Tokens: renewed here as in the posting worker, through the one shared `TokenKeeper`
/// (one renewer per account at a time across processes; X's single-use refresh token never
/// spent twice; rotated tokens stored before use). Before each use the adapter takes tokens
/// another process stored since, and renews ahead of expiry when the platform said when the
/// token expires; a token refused anyway is renewed once and the read tried again.
public final class ReadingAccount: @unchecked Sendable {
    public let config: AccountConfig
    public var name: String { config.name }
    public var platform: Platform { config.platform }
    /// Why the account cannot be read (its credentials file is missing or unusable).
    public let credentialsError: String?
    private let credentials: Credentials?
    private let httpOptions: HTTPClientOptions
    private let stateDir: String
    private let logger: Logger
    private var current: (any PlatformAdapter)?
    private var keeper: TokenKeeper?

    public init(config: AccountConfig, daemon: Config, httpOptions: HTTPClientOptions, logger: Logger) {
        self.config = config
        self.httpOptions = httpOptions
        self.logger = logger
        stateDir = daemon.daemon.stateDir
        switch CredentialsLoader.load(config, config: daemon) {
        case .success(let c):
            credentials = c
            credentialsError = nil
        case .failure(let e):
            credentials = nil
            credentialsError = e.message
        }
    }

    /// How long a renewal may take (refresh tries and the wait for another renewer).
    static let renewalBudgetMs: Int64 = 30_000

    /// The adapter, with the tokens any process stored last.
    public func adapter(store: any AccountStore) throws(PlatformError) -> any PlatformAdapter {
        guard let credentials else {
            throw PlatformError(platform: platform, errorClass: .auth, evidence: ErrorEvidence(operation: "credentials"),
                                message: credentialsError ?? "no credentials")
        }
        let keeper = self.keeper ?? TokenKeeper(account: name, platform: platform, credentials: credentials, store: store,
                                                stateDir: stateDir, logger: logger)
        self.keeper = keeper
        guard keeper.flushUnsaved() else {
            throw PlatformError(platform: platform, errorClass: .noEffect, evidence: ErrorEvidence(operation: "credentials"),
                                message: "rotated tokens cannot be stored yet; not reading with them (nothing was sent)")
        }
        if let current {
            keeper.adoptStored(into: current)
            return current
        }
        let adapter = AdapterFactory.make(credentials: credentials, baseURL: config.baseURL,
                                          session: (try? keeper.stored()) ?? nil, client: HTTPClient(options: httpOptions))
        current = adapter
        return adapter
    }

    /// Runs `body` with the adapter; on a refused token, renews it (see the type's note) and
    /// tries once more.
    public func withAdapter<T>(store: any AccountStore, _ body: (any PlatformAdapter) throws(PlatformError) -> T) throws(PlatformError) -> T {
        let adapter = try adapter(store: store)
        if let keeper, let renewal = keeper.renewIfDue(adapter, deadline: SteadyClock.wallMillis() + Self.renewalBudgetMs), !renewal.renewed {
            logger.notice("renewing ahead of expiry did not succeed; the current token is used meanwhile: \(renewal)", metadata: ["ACCOUNT": "\(name)"])
        }
        do {
            return try body(adapter)
        } catch where error.errorClass == .auth {
            guard let keeper else { throw error }
            let renewal = keeper.renew(adapter, refused: adapter.session, deadline: SteadyClock.wallMillis() + Self.renewalBudgetMs)
            guard renewal.renewed else {
                var refused = error
                refused.message += "; renewing the token did not help: \(Self.describe(renewal))"
                throw refused
            }
            return try body(adapter)
        }
    }

    static func describe(_ renewal: TokenKeeper.Renewal) -> String {
        switch renewal {
        case .adopted: return "renewed by another process"
        case .refreshed: return "renewed"
        case .unsaved(let why), .refused(let why), .notRefreshable(let why), .transient(let why), .rateLimited(_, let why): return why
        }
    }

    /// The account's own id and handle, asked once and kept.
    public private(set) var identity: Identity?

    public func identity(store: any AccountStore) throws(PlatformError) -> Identity {
        if let identity { return identity }
        let found = try withAdapter(store: store) { (a: any PlatformAdapter) throws(PlatformError) in try a.identity() }
        identity = found
        return found
    }
}
