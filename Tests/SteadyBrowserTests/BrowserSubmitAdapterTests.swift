import Glibc
import SteadyConfig
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyPosting
import SteadySystem
import SteadyWorker
import Testing

@testable import SteadyBrowser

/// The browser posting adapter's decisions that need no browser: how each answer of a
/// `browser.submit` lease maps onto the taxonomy, where the web login comes from, and what
/// it refuses before asking for a lease. (Its real path, through the supervisor to Chromium
/// and the simulator, is `BrowserPostingTests` in IntegrationTests.)
@Suite struct BrowserSubmitAdapterTests {
    @Test func everyLeaseAnswerMapsOntoTheTaxonomy() {
        // (code, platform, message) → class; before the click no effect, after it (or when
        // it cannot be told) unknown.
        let table: [(String, Platform, String, String)] = [
            (LeaseError.busy, .mastodon, "the browser pool is full", "noEffect"),
            (LeaseError.unavailable, .mastodon, "Chromium not found", "noEffect"),
            ("unavailable", .x, "the browser worker is backoff, not running", "noEffect"),
            (LeaseError.timeoutBeforeSubmit, .bluesky, "deadline before the click", "noEffect"),
            (LeaseError.navigationFailed, .mastodon, "net::ERR_CONNECTION_REFUSED", "noEffect"),
            (LeaseError.browserCrashed, .mastodon, "the tab's renderer crashed", "noEffect"),
            (LeaseError.extractFailed, .mastodon, "fill the login form: TypeError", "noEffect"),
            (LeaseError.loginFailed, .mastodon, "no compose form after logging in", "auth"),
            (LeaseError.rejected, .mastodon, "Text is over 500 characters", "permanent"),
            (LeaseError.rejected, .x, "Whoops! You already said that.", "unknownOutcome"),
            (LeaseError.badRequest, .mastodon, "text must be a string", "permanent"),
            (LeaseError.unknownOutcome, .mastodon, "the result page did not load", "unknownOutcome"),
            // The router's: the answer did not come back in time, the click may have happened.
            ("timeout", .mastodon, "the browser worker did not answer browser.submit by its deadline", "unknownOutcome"),
            ("worker-exited", .mastodon, "the browser worker exited before answering", "unknownOutcome"),
            // The outbox closing under a request already sent (WorkerOutbox.close).
            ("abandoned", .mastodon, "the posting worker is exiting; the request was sent and its answer never came", "unknownOutcome"),
            ("unavailable", .mastodon, "the posting worker is exiting", "noEffect"),
            ("something-new", .mastodon, "?", "unknownOutcome"),
        ]
        for (code, platform, message, expected) in table {
            let e = BrowserSubmitAdapter.classify(code: code, message: message, platform: platform)
            #expect(e.errorClass.name == expected, "\(code) on \(platform): \(e)")
            #expect(e.platform == platform)
            #expect(e.evidence.operation == "create")
        }
        // X's duplicate refusal carries the name the verifier looks for.
        #expect(BrowserSubmitAdapter.classify(code: LeaseError.rejected, message: "Whoops! You already said that.", platform: .x)
            .evidence.platformError == "DuplicateContent")
        // A busy pool is not the platform's ill health: the breaker is not fed.
        #expect(PlatformHealth.of(BrowserSubmitAdapter.classify(code: LeaseError.busy, message: "", platform: .x)) == .silent)
        #expect(PlatformHealth.of(BrowserSubmitAdapter.classify(code: LeaseError.unknownOutcome, message: "", platform: .x)) == .unhealthy)
    }

    func makeConfig(_ dir: String) -> (Config, AccountConfig) {
        var config = Config(path: dir + "/steadypost.toml")
        config.daemon.credentialsDir = dir
        let account = AccountConfig(name: "web-m", platform: .mastodon, baseURL: "http://127.0.0.1:9/", credentials: "web-m.json", mode: .browser)
        config.accounts = [account]
        return (config, account)
    }

    @Test func theWebLoginComesFromTheCredentialsFile() throws {
        let tmp = TempDir("steadypost-weblogin")
        defer { tmp.remove() }
        let dir = tmp.path
        let (config, account) = makeConfig(dir)
        guard case .failure(let missing) = WebLogin.load(account, config: config) else { Issue.record("no file, yet loaded"); return }
        #expect(missing.description.contains(dir + "/web-m.json"))

        try Files.writeAtomically(dir + "/web-m.json", #"{"access_token": "tok-123456789", "web_password": "pw-secret-1"}"#, mode: 0o600)
        #expect(try WebLogin.load(account, config: config).get() == WebLogin(username: "web-m", password: "pw-secret-1"))
        #expect(!WebLogin(username: "web-m", password: "pw-secret-1").description.contains("pw-secret-1"))

        try Files.writeAtomically(dir + "/web-m.json", #"{"access_token": "tok-123456789"}"#, mode: 0o600)
        guard case .failure(let noPassword) = WebLogin.load(account, config: config) else { Issue.record("no web_password, yet loaded"); return }
        #expect(noPassword.message.contains("\"web_password\""))

        // systemd's LoadCredential spelling, and another web user name.
        _ = unlink(dir + "/web-m.json")
        try Files.writeAtomically(dir + "/accounts_web-m.json", #"{"access_token": "t", "web_password": "pw-2", "web_username": "someone"}"#, mode: 0o600)
        #expect(try WebLogin.load(account, config: config).get() == WebLogin(username: "someone", password: "pw-2"))
    }

    @Test func refusedBeforeAnyLeaseAndReadsGoToTheAPI() throws {
        let tmp = TempDir("steadypost-weblogin")
        defer { tmp.remove() }
        let dir = tmp.path
        let (config, account) = makeConfig(dir)
        let api = MastodonAdapter(baseURL: account.baseURL, credentials: MastodonCredentials(accessToken: "tok-123456789"),
                                  client: HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 500, totalTimeoutMillis: 1_000)))
        var asked: [(String, String, Int64)] = []
        func adapter(_ login: Result<WebLogin, WebLoginError>, answer: WorkerCallResult) -> BrowserSubmitAdapter {
            BrowserSubmitAdapter(account: account, api: api, login: login, timeoutMs: 9_000) { method, body, timeout in
                asked.append((method, String(decoding: body, as: UTF8.self), timeout))
                return answer
            }
        }
        let key = AttemptKey(attemptId: "a1", startedAtMicros: 1_700_000_000_000_000)
        let login = WebLogin(username: "web-m", password: "pw-secret-1")
        let ok = adapter(.success(login), answer: .ok(Array(#"{"post_id": "42"}"#.utf8)))

        // Replies and over-long texts never reach the browser.
        #expect(throws: PlatformError.self) { try ok.create(PostDraft(text: "hi", replyTo: "7"), attempt: key) }
        #expect(throws: PlatformError.self) { try ok.create(PostDraft(text: String(repeating: "x", count: 501)), attempt: key) }
        #expect(asked.isEmpty)

        // The lease request: the simulator's pages under base_url, a lease budget inside the call's.
        let posted = try ok.create(PostDraft(text: "hello"), attempt: key)
        #expect(posted.id == "42")
        let (method, body, timeout) = try #require(asked.first)
        #expect(method == "browser.submit")
        #expect(timeout == 9_000)
        let sent = try JSON.parse(body)
        #expect(sent["login_url"]?.string == "http://127.0.0.1:9/web/login?account=web-m")
        #expect(sent["compose_url"]?.string == "http://127.0.0.1:9/web/compose")
        #expect(sent["text"]?.string == "hello")
        #expect((sent["deadline_ms"]?.int ?? 0) < 9_000)

        // A lease message that echoes the password does not carry it into the error.
        let echo = adapter(.success(login), answer: .error(code: "extractFailed", message: "fill the login form: pw-secret-1 rejected"))
        do {
            _ = try echo.create(PostDraft(text: "hello"), attempt: key)
            Issue.record("no error")
        } catch {
            #expect(!error.description.contains("pw-secret-1"), "\(error)")
            #expect(error.errorClass == .noEffect)
        }

        // No web password: auth before any lease, and not refreshable.
        let none = adapter(.failure(WebLoginError(account: "web-m", message: "no web_password")), answer: .ok([]))
        asked.removeAll()
        #expect(throws: PlatformError.self) { try none.create(PostDraft(text: "hello"), attempt: key) }
        #expect(asked.isEmpty)
        guard case .notRefreshable = try none.refreshAuth() else { Issue.record("a refused web login was refreshed"); return }

        // The web form has no idempotency key: verification goes to the timeline.
        guard case .notSupported = try ok.findByIdempotency(key, draft: PostDraft(text: "hello")) else {
            Issue.record("the browser path claimed an idempotency lookup")
            return
        }
        #expect(BrowserSubmitLink(config: config, settings: PostingSettings(leaseMillis: 16_000)).adapter(for: account, api: api) is BrowserSubmitAdapter)
        var apiAccount = account
        apiAccount.mode = .api
        #expect(BrowserSubmitLink(config: config, settings: PostingSettings(leaseMillis: 16_000)).adapter(for: apiAccount, api: api) === api)
    }
}
