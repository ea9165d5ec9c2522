import SteadyCore
import SteadyJSON

/// What a lease does.
public enum LeaseKind: Sendable, Equatable {
    case scrape(ScrapeRequest)
    case submit(SubmitRequest)

    public var name: String {
        switch self {
        case .scrape: return "scrape"
        case .submit: return "submit"
        }
    }
}

/// Load `url`, then evaluate each expression (a JS expression returning a JSON value; a
/// promise is awaited) → `{"values": {name: value}}`.
public struct ScrapeRequest: Sendable, Equatable, Hashable {
    public var url: String
    public var extract: [String: String]

    public init(url: String, extract: [String: String]) {
        self.url = url
        self.extract = extract
    }

    /// Identical scrapes share one run (single-flight).
    var flightKey: String {
        JSON.obj([("url", JSON(url)), ("extract", JSON.sorted(extract.mapValues { JSON($0) }))]).serialized
    }
}

/// Log in through a web form, fill the compose form, submit, read the new post's id from the
/// result page → `{"post_id"}`.
public struct SubmitRequest: Sendable, Equatable {
    public var loginURL: String
    public var username: String
    public var password: String
    public var composeURL: String
    public var text: String

    public init(loginURL: String, username: String, password: String, composeURL: String, text: String) {
        self.loginURL = loginURL
        self.username = username
        self.password = password
        self.composeURL = composeURL
        self.text = text
    }
}

/// Why a lease did not produce its value. `code` is what callers switch on.
public struct LeaseError: Error, Sendable, Equatable, CustomStringConvertible {
    public var code: String
    public var message: String

    public init(_ code: String, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    /// The queue is full: refused at once; the caller decides what to do.
    public static let busy = "busy"
    /// No Chromium (missing, cannot start) or the worker is draining.
    public static let unavailable = "unavailable"
    /// The deadline passed before the lease finished (nothing was submitted).
    public static let timeout = "timeout"
    /// A submit lease ended by its deadline before the compose form was submitted: nothing
    /// was sent, so a retry is safe. (A plain `timeout` could also be the router's, which
    /// cannot tell whether the click happened.)
    public static let timeoutBeforeSubmit = "timeoutBeforeSubmit"
    /// The platform answered the submitted form with a refusal (`#compose-error`): nothing
    /// was published.
    public static let rejected = "rejected"
    /// A submit whose outcome is not known (the form was submitted): verify, never re-send.
    public static let unknownOutcome = "unknownOutcome"
    public static let badRequest = "badRequest"
    public static let navigationFailed = "navigationFailed"
    public static let extractFailed = "extractFailed"
    public static let loginFailed = "loginFailed"
    /// The browser or the tab's renderer died under the lease.
    public static let browserCrashed = "browserCrashed"
}

public typealias LeaseCompletion = (Result<JSON, LeaseError>) -> Void

/// One caller waiting on a lease (several for a shared scrape), with its own deadline.
struct LeaseWaiter {
    let deadline: Int64
    let completion: LeaseCompletion
}

/// One lease's run on one browser: its own browser context and tab, the page steps, and the
/// answer. Every step goes through `command`, which ignores replies once the lease is
/// answered, so a late reply after the deadline changes nothing.
final class Lease {
    let serial: Int
    let kind: LeaseKind
    let flightKey: String?
    let queuedAt: Int64
    var deadline: Int64
    var waiters: [LeaseWaiter]
    var startedAt: Int64?
    var browser: BrowserProcess?
    var result: Result<JSON, LeaseError>?
    var onFinish: ((Lease) -> Void)?

    // Tab state.
    private(set) var contextId: String?
    private(set) var targetId: String?
    private(set) var sessionId: String?
    private var navigated = false
    private var loaded = false
    private var loadContinuation: (() -> Void)?
    /// The submit click was sent: from here on, any failure is an unknown outcome.
    private(set) var clicked = false

    init(serial: Int, kind: LeaseKind, deadline: Int64, waiter: LeaseWaiter, now: Int64) {
        self.serial = serial
        self.kind = kind
        self.deadline = deadline
        waiters = [waiter]
        queuedAt = now
        if case .scrape(let s) = kind { flightKey = s.flightKey } else { flightKey = nil }
    }

    var isFinished: Bool { result != nil }

    // MARK: - Answering

    func succeed(_ value: JSON) { finish(.success(value)) }

    func fail(_ error: LeaseError) {
        var error = error
        if clicked && error.code != LeaseError.unknownOutcome && error.code != LeaseError.rejected {
            error = LeaseError(LeaseError.unknownOutcome, "after the submit click: \(error.message)")
        }
        finish(.failure(error))
    }

    /// The deadline passed.
    func expire() {
        if clicked {
            fail(LeaseError(LeaseError.unknownOutcome, "the result page did not load by the deadline after the submit click; verify before any retry"))
        } else if case .submit = kind {
            fail(LeaseError(LeaseError.timeoutBeforeSubmit, "the submit lease reached its deadline before the compose form was submitted; nothing was sent"))
        } else {
            fail(LeaseError(LeaseError.timeout, "the \(kind.name) lease did not finish by its deadline"))
        }
    }

    private func finish(_ r: Result<JSON, LeaseError>) {
        guard result == nil else { return }
        result = r
        loadContinuation = nil
        if let sessionId, let browser { browser.connection.setSessionHandler(sessionId, nil) }
        onFinish?(self)
        onFinish = nil
    }

    // MARK: - Steps

    func run(on browser: BrowserProcess, now: Int64) {
        self.browser = browser
        startedAt = now
        switch kind {
        case .scrape(let s): runScrape(s)
        case .submit(let s): runSubmit(s)
        }
    }

    private func runScrape(_ s: ScrapeRequest) {
        openTab { [unowned self] in
            self.navigate(s.url) { [unowned self] in
                self.extract(s.extract.keys.sorted(), from: s.extract, into: [])
            }
        }
    }

    private func extract(_ names: [String], from all: [String: String], into values: [(String, JSON)]) {
        guard let name = names.first else {
            succeed(.obj([("values", .object(values))]))
            return
        }
        evaluate(all[name]!, what: "extract \"\(name)\"") { [unowned self] value in
            let values = values + [(name, value)]
            self.extract(Array(names.dropFirst()), from: all, into: values)
        }
    }

    private func runSubmit(_ s: SubmitRequest) {
        openTab { [unowned self] in
            self.navigate(s.loginURL) { [unowned self] in
                self.expectNavigation()
                let login = """
                    (() => { const u = document.querySelector('#username'), p = document.querySelector('#password'),
                      b = document.querySelector('button#login');
                      if (!u || !p || !b) return false;
                      u.value = \(jsString(s.username)); p.value = \(jsString(s.password)); b.click(); return true; })()
                    """
                self.evaluate(login, what: "fill the login form") { [unowned self] ok in
                    guard ok == .bool(true) else {
                        return self.fail(LeaseError(LeaseError.loginFailed, "no login form (#username, #password, button#login) at \(s.loginURL)"))
                    }
                    self.waitLoad { [unowned self] in
                        self.navigate(s.composeURL) { [unowned self] in
                            self.compose(s)
                        }
                    }
                }
            }
        }
    }

    private func compose(_ s: SubmitRequest) {
        let probe = "document.querySelector('#compose-text') !== null && document.querySelector('#compose-submit') !== null"
        evaluate(probe, what: "find the compose form") { [unowned self] ok in
            guard ok == .bool(true) else {
                return self.fail(LeaseError(LeaseError.loginFailed, "no compose form at \(s.composeURL) after logging in as \(s.username) (wrong password?)"))
            }
            self.expectNavigation()
            let submit = """
                (() => { const t = document.querySelector('#compose-text'), b = document.querySelector('#compose-submit');
                  if (!t || !b) return false; t.value = \(jsString(s.text)); b.click(); return true; })()
                """
            // Marked before sending: once this command may have run, the post may exist.
            self.clicked = true
            self.evaluate(submit, what: "submit the compose form") { [unowned self] ok in
                guard ok == .bool(true) else {
                    self.clicked = false
                    return self.fail(LeaseError(LeaseError.loginFailed, "the compose form went away before submitting"))
                }
                self.waitLoad { [unowned self] in
                    // The new post's page, or the compose page again with the refusal.
                    let read = """
                        (() => { const a = document.querySelector('article[data-post-id]');
                          if (a) return {id: a.getAttribute('data-post-id')};
                          const e = document.querySelector('#compose-error');
                          return e ? {error: e.textContent.trim()} : null; })()
                        """
                    self.evaluate(read, what: "read the new post's id") { [unowned self] page in
                        if let id = page["id"]?.string, !id.isEmpty {
                            self.succeed(.obj([("post_id", JSON(id))]))
                        } else if let refusal = page["error"]?.string {
                            self.fail(LeaseError(LeaseError.rejected, "the platform refused the post: \(refusal.prefix(300))"))
                        } else {
                            self.fail(LeaseError(LeaseError.unknownOutcome, "the page after submitting has no article[data-post-id]"))
                        }
                    }
                }
            }
        }
    }

    /// Its own browser context (cookies and storage private to this lease), a tab in it, a
    /// flat session attached to the tab, Page events on.
    private func openTab(_ next: @escaping () -> Void) {
        command("Target.createBrowserContext", .obj([("disposeOnDetach", .bool(true))]), session: false) { [unowned self] r in
            guard let ctx = r["browserContextId"]?.string else { return self.fail(self.malformed("createBrowserContext", r)) }
            self.contextId = ctx
            self.command("Target.createTarget", .obj([("url", JSON("about:blank")), ("browserContextId", JSON(ctx))]), session: false) { [unowned self] r in
                guard let target = r["targetId"]?.string else { return self.fail(self.malformed("createTarget", r)) }
                self.targetId = target
                self.command("Target.attachToTarget", .obj([("targetId", JSON(target)), ("flatten", .bool(true))]), session: false) { [unowned self] r in
                    guard let sid = r["sessionId"]?.string, let browser = self.browser else { return self.fail(self.malformed("attachToTarget", r)) }
                    self.sessionId = sid
                    browser.connection.setSessionHandler(sid) { [weak self] event in self?.event(event) }
                    self.command("Page.enable") { _ in next() }
                }
            }
        }
    }

    private func navigate(_ url: String, _ next: @escaping () -> Void) {
        expectNavigation()
        command("Page.navigate", .obj([("url", JSON(url))])) { [unowned self] r in
            if let text = r["errorText"]?.string, !text.isEmpty {
                return self.fail(LeaseError(LeaseError.navigationFailed, "\(url): \(text)"))
            }
            self.waitLoad(next)
        }
    }

    private func evaluate(_ expression: String, what: String, _ next: @escaping (JSON) -> Void) {
        command("Runtime.evaluate", .obj([("expression", JSON(expression)), ("returnByValue", .bool(true)), ("awaitPromise", .bool(true))])) { [unowned self] r in
            if let details = r["exceptionDetails"] {
                let text = details["exception"]?["description"]?.string ?? details["text"]?.string ?? details.serialized
                return self.fail(LeaseError(LeaseError.extractFailed, "\(what): \(text.prefix(300))"))
            }
            next(r["result"]?["value"] ?? .null)
        }
    }

    /// Forget earlier loads: the next main-frame commit followed by its load event counts.
    private func expectNavigation() {
        navigated = false
        loaded = false
    }

    private func waitLoad(_ next: @escaping () -> Void) {
        if loaded {
            next()
        } else {
            loadContinuation = next
        }
    }

    private func event(_ e: CDPEvent) {
        guard result == nil else { return }
        switch e.method {
        case "Page.frameNavigated" where e.params["frame"]?["parentId"] == nil:
            navigated = true
            loaded = false
        case "Page.loadEventFired" where navigated:
            loaded = true
            if let next = loadContinuation {
                loadContinuation = nil
                next()
            }
        case "Inspector.targetCrashed":
            fail(LeaseError(LeaseError.browserCrashed, "the tab's renderer crashed"))
        default:
            break
        }
    }

    private func command(_ method: String, _ params: JSON = .object([]), session: Bool = true, _ next: @escaping (JSON) -> Void) {
        guard result == nil, let browser else { return }
        browser.connection.send(method, params, sessionId: session ? sessionId : nil) { [weak self] r in
            guard let self, self.result == nil else { return }
            switch r {
            case .success(let value):
                next(value)
            case .failure(.closed(let why)):
                self.fail(LeaseError(LeaseError.browserCrashed, "the browser went away during \(method): \(why)"))
            case .failure(let e):
                self.fail(LeaseError(method == "Page.navigate" ? LeaseError.navigationFailed : LeaseError.extractFailed, "\(method): \(e)"))
            }
        }
    }

    private func malformed(_ what: String, _ r: JSON) -> LeaseError {
        LeaseError(LeaseError.extractFailed, "\(what) answered without the expected field: \(r.serialized.prefix(200))")
    }
}

/// A JS string literal for `s` (JSON strings are JS string literals).
func jsString(_ s: String) -> String { JSON(s).serialized }
