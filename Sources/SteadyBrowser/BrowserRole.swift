import Glibc
import Logging
import SteadyConfig
import SteadyCore
import SteadyJSON
import SteadyWorker

/// The browser worker's role: routed `browser.scrape`, `browser.submit` and `browser.status`
/// requests become pool leases answered through the runtime's deferred-reply path.
public func makeBrowserRole(config: Config, logger: Logger) -> any WorkerRole {
    var env: [String: String] = [:]
    var e = environ
    while let entry = e.pointee {
        let s = String(cString: entry)
        if let eq = s.firstIndex(of: "=") { env[String(s[..<eq])] = String(s[s.index(after: eq)...]) }
        e += 1
    }
    return BrowserRole(settings: BrowserPoolSettings(config: config.applyingEnvironment(env), environment: env), logger: logger)
}

public final class BrowserRole: WorkerRole {
    public let pool: BrowserPool?
    private let startError: String?
    private var logger: Logger
    private var replies: WorkerReplies?
    /// Answers are sent this long before the frame's deadline, so they arrive while the asker
    /// still waits.
    public static let replyMarginMs: Int64 = 100

    public init(settings: BrowserPoolSettings, logger: Logger) {
        self.logger = logger
        do {
            pool = try BrowserPool(settings: settings, logger: logger)
            startError = nil
        } catch {
            pool = nil
            startError = "the browser pool cannot start: \(error)"
        }
    }

    public var summary: String {
        guard let pool else { return startError ?? "browser pool not started" }
        if let why = pool.unavailableReason { return "browser pool unavailable: \(why); leases answer unavailable" }
        let s = pool.settings
        return "browser pool: up to \(pool.capacity) headless Chromium (\(s.maxBrowsers) configured, memory budget \(s.memoryMax >> 20) MiB at ~\(s.expectedBrowserBytes >> 20) MiB each), queue \(s.queueLimit), recycle after \(s.leasesPerBrowser) leases; \(s.chromiumPath)"
    }

    public var inFlight: Int { pool?.inFlight ?? 0 }
    public var counters: [String: Int64] { pool?.counters ?? ["unavailable": 1] }
    public func beginDrain() { pool?.beginDrain() }
    public var drained: Bool { pool?.drained ?? true }
    public var watchedDescriptors: [Int32] { pool.map { [$0.descriptor] } ?? [] }
    public func readable(_ fd: Int32) { pool?.processEvents() }
    public var wakeAt: Int64? { pool?.wakeAt }
    public func tick(now: Int64) { pool?.tick(now: now) }

    public func start(logger: Logger, replies: WorkerReplies) {
        self.logger = logger
        self.replies = replies
        if let pool, pool.available {
            logger.info("browser pool ready (capacity \(pool.capacity), browsers start on first lease)")
        } else {
            logger.error("\(summary)")
        }
    }

    public func handle(method: String, body: [UInt8]) -> WorkerReply? {
        handle(request: WorkerRequest(method: method, body: body, correlation: 0, deadline: 0))
    }

    public func handle(request: WorkerRequest) -> WorkerReply? {
        switch request.method {
        case "status":
            guard let pool else { return .ok(JSON.obj([("available", .bool(false)), ("reason", JSON(startError ?? ""))]).bytes) }
            return .ok(pool.statusJSON().bytes)
        case "scrape", "submit":
            return lease(request)
        default:
            return nil
        }
    }

    private func lease(_ request: WorkerRequest) -> WorkerReply {
        guard let pool else { return .error(code: LeaseError.unavailable, message: startError ?? "no pool") }
        let parsed: (LeaseKind, Int64?)
        do { parsed = try Self.parse(method: request.method, body: request.body) } catch {
            return .error(code: error.code, message: error.message)
        }
        let now = SteadyClock.monotonicMillis()
        let settings = pool.settings
        let budget = min(parsed.1 ?? settings.defaultLeaseMs, settings.maxLeaseMs)
        var deadline = now + budget
        if request.deadline > 0 { deadline = min(deadline, request.deadline - Self.replyMarginMs) }
        // Answered inside `lease` (a refusal) → returned here; later → through `replies`.
        final class Box { var result: Result<JSON, LeaseError>?; var returned = false }
        let box = Box()
        let correlation = request.correlation
        pool.lease(parsed.0, deadline: deadline) { [weak self] result in
            if !box.returned {
                box.result = result
            } else {
                self?.replies?.reply(correlation: correlation, Self.reply(result))
            }
        }
        box.returned = true
        if let result = box.result { return Self.reply(result) }
        return .deferred
    }

    static func reply(_ result: Result<JSON, LeaseError>) -> WorkerReply {
        switch result {
        case .success(let v): return .ok(v.bytes)
        case .failure(let e): return .error(code: e.code, message: e.message)
        }
    }

    /// The request bodies: `scrape {"url", "extract": {name: expression}, "deadline_ms"?}`,
    /// `submit {"login_url", "username", "password", "compose_url", "text", "deadline_ms"?}`.
    public static func parse(method: String, body: [UInt8]) throws(LeaseError) -> (LeaseKind, Int64?) {
        guard let o = try? JSON.parse(body), o.isObject else {
            throw LeaseError(LeaseError.badRequest, "\(method): the body must be a JSON object")
        }
        var deadlineMs: Int64?
        if let d = o["deadline_ms"] {
            guard case .number = d, let ms = d.int, ms > 0 else { throw LeaseError(LeaseError.badRequest, "deadline_ms must be a positive integer") }
            deadlineMs = Int64(ms)
        }
        func url(_ key: String) throws(LeaseError) -> String {
            guard let u = o[key]?.string, u.hasPrefix("http://") || u.hasPrefix("https://") else {
                throw LeaseError(LeaseError.badRequest, "\(key) must be an http(s) URL")
            }
            return u
        }
        func text(_ key: String) throws(LeaseError) -> String {
            guard let t = o[key]?.string else { throw LeaseError(LeaseError.badRequest, "\(key) must be a string") }
            return t
        }
        switch method {
        case "scrape":
            let u = try url("url")
            guard let extract = o["extract"]?.members, !extract.isEmpty, extract.count <= 64 else {
                throw LeaseError(LeaseError.badRequest, "extract must be an object of 1 to 64 {name: JS expression}")
            }
            var exprs: [String: String] = [:]
            for (name, v) in extract where exprs[name] == nil {  // a name given twice: the first, as lookups
                guard let e = v.string, !e.isEmpty, e.utf8.count <= 16_384 else {
                    throw LeaseError(LeaseError.badRequest, "extract.\(name) must be a non-empty JS expression (at most 16 KiB)")
                }
                exprs[name] = e
            }
            return (.scrape(ScrapeRequest(url: u, extract: exprs)), deadlineMs)
        case "submit":
            let s = SubmitRequest(loginURL: try url("login_url"), username: try text("username"), password: try text("password"),
                                  composeURL: try url("compose_url"), text: try text("text"))
            return (.submit(s), deadlineMs)
        default:
            throw LeaseError(LeaseError.badRequest, "unknown lease method \(method)")
        }
    }
}
