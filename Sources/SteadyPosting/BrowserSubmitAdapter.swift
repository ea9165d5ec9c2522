import SteadyConfig
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadySystem
import SteadyWorker
import Synchronization

/// The browser posting path (`mode = "browser"`): accounts without API write access publish
/// through the browser worker's `submit` lease (log in on the platform's web page, fill the
/// compose form, submit, read the new post's id), asked for through the supervisor's routing
/// (`browser.submit`) from the attempt's thread.
///
/// Everything else (lookup, timeline, identity, metrics, mentions, token refresh) goes to
/// the account's API adapter, with the tokens of its credentials file. Why the read API and
/// not a scrape: the simulator (SIMULATOR.md) has no profile or timeline page, only a post's
/// page by id, and an unknown outcome (F08: the result page hangs) is exactly the case where
/// the id was never seen; its read endpoints (Mastodon's statuses and account timeline,
/// Bluesky's getRecord/listRecords; X with a read token) answer without API write access.
///
/// The lease's answers map onto the taxonomy (`classify`): refused before anything was typed
/// (`busy`, `unavailable`, the deadline before the click, a page that failed to load) →
/// `noEffect`; the login refused → `auth`; the compose page's refusal → `permanent` (X's
/// duplicate-text refusal → `unknownOutcome`, as on the API); anything after the submit click
/// without the new post's id, and every answer that cannot tell (the router's `timeout`, the
/// browser worker exiting) → `unknownOutcome`, verified like any other.
///
/// Idempotency: the web form carries no key (no Mastodon Idempotency-Key, no Bluesky record
/// key), so `findByIdempotency` says `notSupported` and verification goes to the timeline.
/// (Asking Bluesky's getRecord under the attempt's record key would find nothing and call a
/// live post absent.)
public final class BrowserSubmitAdapter: PlatformAdapter {
    public let api: any PlatformAdapter
    public let account: String
    let login: Result<WebLogin, WebLoginError>
    let loginURL: String
    let composeURL: String
    let timeoutMs: Int64
    let transport: BrowserSubmitTransport
    /// The last `auth` error came from the web login (not refreshable), not from a read.
    private var webLoginRefused = false

    /// `transport` sends one routed request and blocks for its answer (`WorkerOutbox.call`).
    public init(account: AccountConfig, api: any PlatformAdapter, login: Result<WebLogin, WebLoginError>, timeoutMs: Int64,
                transport: @escaping BrowserSubmitTransport) {
        self.api = api
        self.account = account.name
        self.login = login
        let base = account.baseURL.hasSuffix("/") ? String(account.baseURL.dropLast()) : account.baseURL
        loginURL = base + "/web/login?account=" + URLEncoding.percentEncode((try? login.get())?.username ?? account.name)
        composeURL = base + "/web/compose"
        self.timeoutMs = timeoutMs
        self.transport = transport
    }

    public var platform: Platform { api.platform }
    public var session: SessionTokens { api.session }
    public var lastRateLimit: RateLimitInfo? { api.lastRateLimit }

    /// The platform's own rules, and no replies: the compose page has no reply field.
    public func validate(_ draft: PostDraft) throws(PlatformError) {
        try api.validate(draft)
        if draft.replyTo != nil {
            throw PlatformError(platform: platform, errorClass: .permanent(reason: "the browser path cannot post replies"),
                                evidence: ErrorEvidence(operation: "validate"),
                                message: "account \(account) posts through the browser (mode = \"browser\") and cannot post replies: the compose page has no reply field")
        }
    }

    public func create(_ draft: PostDraft, attempt: AttemptKey) throws(PlatformError) -> RemotePost {
        try validate(draft)
        let web: WebLogin
        switch login {
        case .success(let w): web = w
        case .failure(let e):
            webLoginRefused = true
            throw PlatformError(platform: platform, errorClass: .auth, evidence: ErrorEvidence(operation: "create", endpoint: Self.method),
                                message: e.description)
        }
        // The lease must answer before the routed request's deadline: it decides the outcome.
        let body = JSON.obj([
            ("login_url", JSON(loginURL)), ("username", JSON(web.username)), ("password", JSON(web.password)),
            ("compose_url", JSON(composeURL)), ("text", JSON(draft.text)),
            ("deadline_ms", JSON(Int(max(1_000, timeoutMs - Self.answerMarginMs)))),
        ])
        let result = transport(Self.method, body.bytes, timeoutMs)
        let redactor = Redactor(secrets: [web.password])
        switch result {
        case .ok(let bytes):
            if let id = (try? JSON.parse(bytes))?["post_id"]?.string, !id.isEmpty {
                webLoginRefused = false
                return RemotePost(id: id, text: draft.text)
            }
            throw PlatformError(platform: platform, errorClass: .unknownOutcome,
                                evidence: ErrorEvidence(operation: "create", endpoint: Self.method, bodyExcerpt: redactor.redact(String(decoding: bytes.prefix(200), as: UTF8.self))),
                                message: "the submit lease answered without a post id; verify before any retry")
        case .error(let code, let message):
            let error = Self.classify(code: code, message: redactor.redact(message), platform: platform)
            webLoginRefused = error.errorClass == .auth
            throw error
        }
    }

    /// The routed method the adapter asks for.
    public static let method = "browser.submit"
    /// How much sooner than the routed request's deadline the lease must answer.
    static let answerMarginMs: Int64 = 500

    /// The taxonomy of one `browser.submit` error answer: lease codes (`LeaseError` in
    /// SteadyBrowser), the router's own (`unavailable`, `timeout`, `worker-exited`) and the
    /// outbox's (`abandoned`: sent, then this worker exited).
    public static func classify(code: String, message: String, platform: Platform) -> PlatformError {
        var evidence = ErrorEvidence(operation: "create", endpoint: method, platformError: code)
        let errorClass: ErrorClass
        var text = message
        switch code {
        case "abandoned":
            // The outbox closing under a request it had already sent (this worker is going
            // away): the browser may have clicked. (Refusals before sending say otherwise.)
            errorClass = .unknownOutcome
            evidence.transport = "browser lease: \(code)"
            text = "this worker exited while the browser submit was in flight; verify before any retry: \(message)"
        case "busy", "unavailable", "unknown-method":
            // Refused before any page was opened: the pool is full, Chromium is missing, the
            // browser worker is not running. Not the platform's health: no transport evidence.
            errorClass = .noEffect
            text = "the browser worker did not take the submit (\(code)); nothing was typed: \(message)"
        case "timeoutBeforeSubmit", "navigationFailed", "extractFailed", "browserCrashed":
            // The lease turns every failure after the submit click into unknownOutcome, so
            // these happened before it: nothing was submitted.
            errorClass = .noEffect
            evidence.transport = "browser lease: \(code)"
            text = "the browser lease failed before the submit click; nothing was submitted: \(message)"
        case "loginFailed":
            errorClass = .auth
            text = "the web login was refused (check web_password in the credentials file): \(message)"
        case "rejected":
            let rules = PlatformRegistry.rules(for: platform)
            if rules.isDuplicateContentMessage(message) {
                // As on the API: the text may be live already (perhaps ours): verify.
                errorClass = .unknownOutcome
                evidence.platformError = "DuplicateContent"
                text = "\(rules.displayName) refused the text as a duplicate: the post may already be live; verify, don't fail: \(message)"
            } else {
                errorClass = .permanent(reason: message)
            }
        case "badRequest":
            errorClass = .permanent(reason: "the browser worker refused the submit request: \(message)")
        default:
            // unknownOutcome (after the click), the router's timeout (the click may have
            // happened), worker-exited, and anything this code does not know: verify.
            errorClass = .unknownOutcome
            evidence.transport = "browser lease: \(code)"
            text = "the outcome of the browser submit is unknown (\(code)); verify before any retry: \(message)"
        }
        return PlatformError(platform: platform, errorClass: errorClass, evidence: evidence, message: text)
    }

    // MARK: - Reads: the API adapter

    public func lookup(id: String) throws(PlatformError) -> RemotePost? { try api.lookup(id: id) }

    /// The web form sends no idempotency material: verification goes to the timeline.
    public func findByIdempotency(_ attempt: AttemptKey, draft: PostDraft) throws(PlatformError) -> IdempotencyFind {
        .notSupported("posted through the browser: the compose form carries no idempotency key")
    }

    public func ownPosts(since sinceMs: Int64?, cursor: PageCursor?, limit: Int) throws(PlatformError) -> Page<RemotePost> {
        try api.ownPosts(since: sinceMs, cursor: cursor, limit: limit)
    }

    public func mentions(cursor: PageCursor?, limit: Int) throws(PlatformError) -> Page<Mention> {
        try api.mentions(cursor: cursor, limit: limit)
    }

    public func metrics(ids: [String]) throws(PlatformError) -> [String: PostMetrics] { try api.metrics(ids: ids) }

    public func identity() throws(PlatformError) -> Identity { try api.identity() }

    /// A refused web login cannot be refreshed (only a new `web_password` helps); a refused
    /// read token is the API adapter's to refresh.
    public func refreshAuth() throws(PlatformError) -> RefreshOutcome {
        if webLoginRefused { return .notRefreshable("the web login of \(account) was refused; only a new web_password helps") }
        return try api.refreshAuth()
    }

    public func adopt(_ tokens: SessionTokens) { api.adopt(tokens) }
}

/// Sends one routed request (`ROLE.method`) and blocks until its answer or `timeoutMs`.
public typealias BrowserSubmitTransport = (_ method: String, _ body: [UInt8], _ timeoutMs: Int64) -> WorkerCallResult

/// How a browser-mode account logs in on the web: `web_username` (default: the account name)
/// and `web_password` from its credentials file.
public struct WebLogin: Sendable, Equatable, CustomStringConvertible {
    public var username: String
    public var password: String

    public init(username: String, password: String) {
        self.username = username
        self.password = password
    }

    public var description: String { "web login \(username) (password redacted)" }

    /// Reads the account's credentials file (both spellings `CredentialsLoader` tries).
    public static func load(_ account: AccountConfig, config: Config) -> Result<WebLogin, WebLoginError> {
        var systemd = account
        systemd.credentials = "accounts_" + account.credentials
        let primary = config.credentialsPath(for: account)
        for path in [primary, config.credentialsPath(for: systemd)] {
            let text: String
            switch SecretFile.read(path, trustMode: config.daemon.credentialsFromSystemd) {
            case .missing: continue
            case .refused(let why): return .failure(WebLoginError(account: account.name, message: why))
            case .read(let t): text = t
            }
            guard let json = try? JSON.parse(text), json.isObject else {
                return .failure(WebLoginError(account: account.name, message: "\(path): not a JSON object"))
            }
            guard let password = json["web_password"]?.string, !password.isEmpty else {
                return .failure(WebLoginError(account: account.name, message: "\(path): missing or empty string member \"web_password\" (mode = \"browser\" logs in with it)"))
            }
            let username = json["web_username"]?.string ?? ""
            return .success(WebLogin(username: username.isEmpty ? account.name : username, password: password))
        }
        return .failure(WebLoginError(account: account.name, message: "no credentials file \(primary)"))
    }
}

public struct WebLoginError: Error, Sendable, Equatable, CustomStringConvertible {
    public var account: String
    public var message: String

    public init(account: String, message: String) {
        self.account = account
        self.message = message
    }

    public var description: String { "account \(account): \(message)" }
}

/// The posting worker's route to the browser worker: adapters are built when the engine
/// starts, the outbox arrives with the worker context (`attach`). Until then a submit is
/// refused as `unavailable` (no effect).
public final class BrowserSubmitLink: Sendable {
    let config: Config
    /// One submit's budget: within the claim lease with room to record the outcome, at most
    /// a minute (a cold Chromium start plus two page loads and the submit).
    public let timeoutMs: Int64
    private let outbox = Mutex<WorkerOutbox?>(nil)

    public init(config: Config, settings: PostingSettings) {
        self.config = config
        timeoutMs = max(1_000, min(60_000, settings.leaseMillis * 3 / 4))
    }

    public func attach(_ outbox: WorkerOutbox) { self.outbox.withLock { $0 = outbox } }

    /// The adapter an account posts through: `api` itself in API mode.
    public func adapter(for account: AccountConfig, api: any PlatformAdapter) -> any PlatformAdapter {
        guard account.mode == .browser else { return api }
        return BrowserSubmitAdapter(account: account, api: api, login: WebLogin.load(account, config: config), timeoutMs: timeoutMs) {
            [self] method, body, timeout in
            guard let outbox = self.outbox.withLock({ $0 }) else {
                return .error(code: "unavailable", message: "the posting worker has no route to the browser worker yet")
            }
            return outbox.call(method, body: body, timeoutMs: timeout)
        }
    }
}
