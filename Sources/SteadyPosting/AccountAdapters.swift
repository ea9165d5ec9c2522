import SteadyConfig
import SteadyHTTP
import SteadyPlatforms
import SteadyStore

/// Adapters for workers that only read an account (the reconciler): the credentials file plus
/// the tokens the posting worker last persisted for it. Such an adapter must never call
/// `refreshAuth` (X refresh tokens are single-use: only the posting worker rotates them), so
/// a refused token is reported, not renewed.
public enum AccountAdapters {
    public static func reader(for account: AccountConfig, config: Config, store: SQLitePostStore,
                              options: HTTPClientOptions) -> Result<any PlatformAdapter, CredentialsLoadError> {
        switch CredentialsLoader.load(account, config: config) {
        case .failure(let e):
            return .failure(e)
        case .success(let credentials):
            let stored = (try? store.accountStates())?[account.name]?.tokens
            let session = TokenRecord.decode(stored, fingerprint: TokenRecord.fingerprint(credentials))
            return .success(AdapterFactory.make(credentials: credentials, baseURL: account.baseURL, session: session,
                                                client: HTTPClient(options: options)))
        }
    }
}
