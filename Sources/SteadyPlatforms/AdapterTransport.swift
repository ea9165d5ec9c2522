import SteadyCore
import SteadyHTTP

/// The HTTP plumbing every adapter shares: URL building, sending, recording rate-limit
/// headers, and turning failures into `PlatformError`s with redacted evidence.
final class AdapterTransport {
    let platform: Platform
    let baseURL: String
    let client: HTTPClient
    let now: @Sendable () -> Int64
    var lastRateLimit: RateLimitInfo?
    var redactor = Redactor()

    init(platform: Platform, baseURL: String, client: HTTPClient, now: @escaping @Sendable () -> Int64) {
        self.platform = platform
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.client = client
        self.now = now
    }

    func url(_ path: String, _ query: [(String, String)] = []) -> String {
        query.isEmpty ? baseURL + path : baseURL + path + "?" + URLEncoding.query(query)
    }

    /// Sends and returns the response whatever its status; transport failures become
    /// `PlatformError`s classified for `kind`. With `streaming`, that is the body, read as it
    /// is sent (an upload).
    func send(_ request: HTTPRequest, operation: String, kind: OperationKind, streaming: HTTPStreamBody? = nil) throws(PlatformError) -> HTTPResponse {
        do throws(HTTPError) {
            let response: HTTPResponse
            if let streaming { response = try client.send(request, streaming: streaming) } else { response = try client.send(request) }
            if let info = RateLimitInfo.parse(response.headers, nowMs: now()) { lastRateLimit = info }
            return response
        } catch {
            let outcome = Classifier.classify(transport: error, platform: platform, operation: kind)
            throw PlatformError(platform: platform, errorClass: outcome.errorClass,
                                evidence: ErrorEvidence(operation: operation, endpoint: error.target,
                                                        transport: redactor.redact(error.description)),
                                message: outcome.message)
        }
    }

    /// The error for a response that is not the expected success.
    func failure(_ response: HTTPResponse, request: HTTPRequest, operation: String, kind: OperationKind) -> PlatformError {
        let outcome = Classifier.classify(status: response.status, headers: response.headers, body: response.body,
                                          platform: platform, operation: kind, nowMs: now())
        // The message and reason quote the platform's error text, which may echo a token.
        var cls = outcome.errorClass
        if case .permanent(let reason) = cls { cls = .permanent(reason: redactor.redact(reason)) }
        return PlatformError(platform: platform, errorClass: cls,
                             evidence: evidence(response, request: request, operation: operation,
                                                platformError: outcome.platformError.map(redactor.redact)),
                             message: redactor.redact(outcome.message))
    }

    /// The error for a 2xx whose body is not what the platform documents: a create's may
    /// have published (`unknownOutcome`); a read's had no effect (`noEffect`).
    func malformed(_ response: HTTPResponse, request: HTTPRequest, operation: String, kind: OperationKind, what: String) -> PlatformError {
        let cls: ErrorClass = (kind == .create || kind == .consumingRefresh) ? .unknownOutcome : .noEffect
        let consequence = kind == .create ? ": the post may be live; verify before any retry" : ""
        return PlatformError(platform: platform, errorClass: cls,
                             evidence: evidence(response, request: request, operation: operation, platformError: nil),
                             message: "HTTP \(response.status) with an unusable body (\(what))\(consequence)")
    }

    func evidence(_ response: HTTPResponse, request: HTTPRequest, operation: String, platformError: String?) -> ErrorEvidence {
        ErrorEvidence(operation: operation, endpoint: "\(request.method.rawValue) \(HTTPClientPath.strip(request.url, base: baseURL))",
                      httpStatus: response.status, platformError: platformError, bodyExcerpt: excerpt(response.body))
    }

    /// At most 200 characters of a body, secrets redacted, control characters flattened.
    func excerpt(_ body: [UInt8]) -> String? {
        guard !body.isEmpty else { return nil }
        let text = redactor.redact(String(decoding: body.prefix(4096), as: UTF8.self))
        var flat = String(text.map { $0.isNewline || $0 == "\t" ? " " : $0 })
        if flat.count > 200 { flat = String(flat.prefix(200)) + "…" }
        return flat
    }

    /// Sends, expects a 2xx (anything else is `failure`) and parses its body as JSON (a
    /// malformed one is `malformed`); the response is returned for later checks of the body.
    func sendExpectingJSON(_ request: HTTPRequest, operation: String, kind: OperationKind) throws(PlatformError) -> (response: HTTPResponse, json: JSON) {
        let response = try send(request, operation: operation, kind: kind)
        guard response.isSuccess else { throw failure(response, request: request, operation: operation, kind: kind) }
        return (response, try json(response, request: request, operation: operation, kind: kind))
    }

    /// Parses a 2xx body as JSON; a malformed one is classified, never a crash.
    func json(_ response: HTTPResponse, request: HTTPRequest, operation: String, kind: OperationKind) throws(PlatformError) -> JSON {
        do {
            return try JSON.parse(response.body)
        } catch {
            throw malformed(response, request: request, operation: operation, kind: kind, what: error.description)
        }
    }

    /// An error raised by the adapter itself before anything was sent.
    func local(_ cls: ErrorClass, operation: String, _ message: String) -> PlatformError {
        PlatformError(platform: platform, errorClass: cls, evidence: ErrorEvidence(operation: operation), message: message)
    }
}

enum HTTPClientPath {
    /// The path of `url` without base and query, for evidence.
    static func strip(_ url: String, base: String) -> String {
        var u = url
        if u.hasPrefix(base) { u = String(u.dropFirst(base.count)) }
        if let q = u.firstIndex(of: "?") { u = String(u[..<q]) }
        return u
    }
}

/// Base64 (standard alphabet, padded), for HTTP Basic credentials.
enum Base64 {
    static func encode(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
        var out = ""
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i]
            let b1 = i + 1 < bytes.count ? bytes[i + 1] : 0
            let b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(table[Int(b0 >> 2)])
            out.append(table[Int((b0 & 3) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? table[Int((b1 & 15) << 2 | b2 >> 6)] : "=")
            out.append(i + 2 < bytes.count ? table[Int(b2 & 63)] : "=")
            i += 3
        }
        return out
    }
}
