import Logging
import SteadyConfig
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyStore
import SteadyTokens

/// One configured account inside the posting worker.
///
/// Threading: `adapter`, `tokens` and `refusalsAfterRefresh` belong to whoever holds the slot: the job
/// thread the loop handed it to (`busy == true`), else the loop. One job per account runs at
/// a time, so the adapter (not thread-safe) is only ever used by one thread; the hand-over
/// goes through the loop's thread start and the completion queue's lock. Everything else is
/// the loop's alone.
final class AccountSlot: @unchecked Sendable {
    let config: AccountConfig
    var name: String { config.name }
    var platform: Platform { config.platform }
    /// What the platform is: its idempotency material, retry policy and rules.
    let definition: any PlatformDefinition
    /// Why the account cannot post (its credentials file is missing or unusable), if so.
    let credentialsError: String?
    /// Makes the requests (nil without usable credentials).
    let adapter: (any PlatformAdapter)?
    /// The API adapter's HTTP client: test fault points watch its transfers.
    let adapterClient: HTTPClient?
    /// Checks drafts on the loop thread; never sends anything.
    let validator: any DraftValidating
    /// The account's tokens as every process shares them (nil without usable credentials):
    /// renewals under the account's lock, rotated tokens stored before any use.
    let tokens: TokenKeeper?
    /// Attempts in a row whose freshly refreshed token was refused too (see
    /// `PostingSettings.authRefusalsAfterRefresh`); back to 0 when a create is accepted.
    var refusalsAfterRefresh = 0

    // The loop's.
    var busy = false
    var pause: AccountPause?
    var breaker: CircuitBreaker
    /// When the quota lets the next attempt go, if the last look found it used up.
    var quotaBlockedUntil: Int64?

    init(config: AccountConfig, credentials: Result<Credentials, CredentialsLoadError>, storedTokens: String?,
         breaker: CircuitBreaker, pause: AccountPause?, httpOptions: HTTPClientOptions, browser: BrowserSubmitLink? = nil,
         store: any PostingWorkerStore, stateDir: String, logger: Logger) {
        self.config = config
        // The config names only built-in platforms, each of which has a definition.
        guard let definition = PlatformRegistry.definition(for: config.platform) else {
            preconditionFailure("no definition for platform \(config.platform)")
        }
        self.definition = definition
        self.breaker = breaker
        self.pause = pause
        switch credentials {
        case .success(let c):
            credentialsError = nil
            tokens = TokenKeeper(account: config.name, platform: config.platform, credentials: c, store: store, stateDir: stateDir, logger: logger)
            let session = TokenRecord.decode(storedTokens, fingerprint: TokenRecord.fingerprint(c))
            let client = HTTPClient(options: httpOptions)
            let api = AdapterFactory.make(credentials: c, baseURL: config.baseURL, session: session, client: client)
            adapter = browser?.adapter(for: config, api: api) ?? api
            // Fault points watch the API's create requests (a browser-mode account's creates go
            // through the browser worker, so its `after_send` never fires).
            adapterClient = client
            let apiRules = AdapterFactory.make(credentials: c, baseURL: config.baseURL, client: HTTPClient(options: httpOptions))
            validator = browser?.adapter(for: config, api: apiRules) ?? apiRules
        case .failure(let e):
            credentialsError = e.message
            tokens = nil
            adapter = nil
            adapterClient = nil
            validator = definition
        }
    }

    func isPaused(now: Int64) -> Bool {
        guard let pause else { return false }
        return pause.until > now
    }
}
