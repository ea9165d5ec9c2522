import SteadyConfig
import SteadyHTTP
import SteadyPlatforms
import SteadyStore

/// Adapters for workers that only read an account (the reconciler): the credentials file plus
/// the tokens the posting worker last persisted for it. Such a reader must not renew those
/// tokens (X refresh tokens and Bluesky refresh JWTs are single-use: only the posting worker
/// rotates them). `storedSession: false` gives an adapter without the persisted session, whose
/// `refreshAuth` makes a session of its own (Bluesky createSession) and rotates nothing.
public enum AccountAdapters {
    public static func reader(for account: AccountConfig, config: Config, store: SQLitePostStore,
                              options: HTTPClientOptions, storedSession: Bool = true) -> Result<any PlatformAdapter, CredentialsLoadError> {
        switch CredentialsLoader.load(account, config: config) {
        case .failure(let e):
            return .failure(e)
        case .success(let credentials):
            let stored = storedSession ? (try? store.accountStates())?[account.name]?.tokens : nil
            let session = TokenRecord.decode(stored, fingerprint: TokenRecord.fingerprint(credentials))
            return .success(AdapterFactory.make(credentials: credentials, baseURL: account.baseURL, session: session,
                                                client: HTTPClient(options: options)))
        }
    }
}
