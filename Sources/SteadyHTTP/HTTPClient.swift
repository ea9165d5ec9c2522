import CCurlLoader
import SteadyCore

/// Limits every request of a client obeys.
public struct HTTPClientOptions: Sendable, Equatable {
    /// Time allowed to establish the TCP (and TLS) connection.
    public var connectTimeoutMillis: Int
    /// Time allowed for the whole transfer, connection included.
    public var totalTimeoutMillis: Int
    /// Response bodies (and header blocks) larger than this abort the transfer.
    public var maxResponseBytes: Int
    public var userAgent: String

    public init(connectTimeoutMillis: Int = 5_000, totalTimeoutMillis: Int = 30_000, maxResponseBytes: Int = 4 << 20,
                userAgent: String = "steadypost/1") {
        self.connectTimeoutMillis = connectTimeoutMillis
        self.totalTimeoutMillis = totalTimeoutMillis
        self.maxResponseBytes = maxResponseBytes
        self.userAgent = userAgent
    }
}

/// libcurl's global state, initialised once before the first handle (curl_global_init is not
/// thread-safe; Swift's lazy globals are initialised exactly once).
private let curlGlobalInit: CURLcode = steady_curl_global_init(Int(CURL_GLOBAL_DEFAULT))

/// A blocking HTTP/1.1 and HTTP/2 client over one libcurl easy handle.
///
/// Guarantees:
/// - One handle for the client's life, so kept-alive connections are reused between requests
///   (one TCP and TLS handshake per host, not per request).
/// - Every request is bounded: a connect timeout, a total timeout and a response-size cap.
/// - No signals (`CURLOPT_NOSIGNAL`), no redirects followed, http and https only, proxies never
///   used for loopback addresses.
/// - A failure says whether the request may have reached the server (`HTTPError.delivery`),
///   decided by libcurl's pre-request hook, which runs once a connection is established and
///   before the request is written: if it never ran, nothing was sent.
/// - A non-idempotent request is never silently re-sent by libcurl after a reused connection
///   died (see `HTTPRequest.allowsTransparentResend`).
///
/// Threading: a client is used from one thread at a time and blocks that thread for the
/// length of the transfer. It is deliberately not `Sendable`. The posting worker calls
/// adapters (and so clients) from its worker threads, never from its event loop; give each
/// thread its own client.
public final class HTTPClient {
    public let options: HTTPClientOptions
    /// Told, on the transfer's thread, how far each transfer got (test fault points use it to
    /// stop a process at an exact moment). nil, the default, costs nothing.
    public var transferObserver: ((HTTPTransferEvent) -> Void)?
    private let handle: UnsafeMutableRawPointer
    private let errorBuffer: UnsafeMutablePointer<CChar>

    public init(options: HTTPClientOptions = HTTPClientOptions()) {
        _ = curlGlobalInit
        self.options = options
        guard let h = steady_curl_easy_init() else {
            // libcurl is loaded on first use (dlopen); the package depends on libcurl4.
            let why = steady_curl_load() == 0 ? String(cString: steady_curl_load_error()) : "out of memory"
            fatalError("curl_easy_init failed: \(why)")
        }
        handle = h
        errorBuffer = .allocate(capacity: Int(CURL_ERROR_SIZE) + 1)
        errorBuffer.initialize(repeating: 0, count: Int(CURL_ERROR_SIZE) + 1)
    }

    deinit {
        steady_curl_easy_cleanup(handle)
        errorBuffer.deallocate()
    }

    /// The libcurl version string, for logs and reports.
    public static var libraryVersion: String { String(cString: steady_curl_version()) }

    /// Performs `request` and returns the complete response, whatever its status, or throws
    /// an `HTTPError` that says whether the request may have been sent.
    public func send(_ request: HTTPRequest) throws(HTTPError) -> HTTPResponse {
        try perform(request, stream: nil)
    }

    /// Performs `request` with `body` as its body, read as libcurl sends it (`request.body`
    /// is ignored; its `Content-Type` is the body's): memory holds only what the body's source
    /// is reading, never the whole body. Not for GET. A source that fails aborts the transfer
    /// (`HTTPError.Kind.bodyUnreadable`). `body` is consumed: a retry needs a new one.
    public func send(_ request: HTTPRequest, streaming body: HTTPStreamBody) throws(HTTPError) -> HTTPResponse {
        try perform(request, stream: body)
    }

    private func perform(_ request: HTTPRequest, stream: HTTPStreamBody?) throws(HTTPError) -> HTTPResponse {
        let target = "\(request.method.rawValue) \(Self.stripQuery(request.url))"
        guard request.url.hasPrefix("http://") || request.url.hasPrefix("https://") else {
            throw HTTPError(kind: .invalidRequest, delivery: .notSent, detail: "only http and https URLs are allowed", target: target)
        }
        if stream != nil && request.method == .get {
            throw HTTPError(kind: .invalidRequest, delivery: .notSent, detail: "a GET has no body", target: target)
        }
        let state = TransferState(cap: options.maxResponseBytes, allowsResend: request.allowsTransparentResend,
                                  observer: transferObserver, stream: stream)
        let started = SteadyClock.monotonicMillis()
        var headerList: UnsafeMutablePointer<curl_slist>? = nil
        defer { steady_curl_slist_free_all(headerList) }

        steady_curl_easy_reset(handle)  // keeps live connections, DNS and TLS session caches
        errorBuffer[0] = 0
        var setupFailure: CURLcode = CURLE_OK
        func check(_ code: CURLcode) { if code != CURLE_OK && setupFailure == CURLE_OK { setupFailure = code } }

        check(steady_curl_setopt_ptr(handle, CURLOPT_ERRORBUFFER, errorBuffer))
        check(steady_curl_setopt_long(handle, CURLOPT_NOSIGNAL, 1))
        check(steady_curl_setopt_long(handle, CURLOPT_FOLLOWLOCATION, 0))
        check(steady_curl_setopt_long(handle, CURLOPT_CONNECTTIMEOUT_MS, options.connectTimeoutMillis))
        check(steady_curl_setopt_long(handle, CURLOPT_TIMEOUT_MS, request.timeoutMillis ?? options.totalTimeoutMillis))
        check(steady_curl_setopt_off_t(handle, CURLOPT_MAXFILESIZE_LARGE, curl_off_t(options.maxResponseBytes)))
        check(steady_curl_setopt_long(handle, CURLOPT_TCP_KEEPALIVE, 1))
        check(steady_curl_setopt_long(handle, CURLOPT_TCP_NODELAY, 1))
        "http,https".withCString { check(steady_curl_setopt_ptr(handle, CURLOPT_PROTOCOLS_STR, $0)) }
        "127.0.0.1,localhost,::1".withCString { check(steady_curl_setopt_ptr(handle, CURLOPT_NOPROXY, $0)) }
        options.userAgent.withCString { check(steady_curl_setopt_ptr(handle, CURLOPT_USERAGENT, $0)) }
        request.url.withCString { check(steady_curl_setopt_ptr(handle, CURLOPT_URL, $0)) }

        switch request.method {
        case .get:
            check(steady_curl_setopt_long(handle, CURLOPT_HTTPGET, 1))
        case .post:
            check(steady_curl_setopt_long(handle, CURLOPT_POST, 1))
        default:
            request.method.rawValue.withCString { check(steady_curl_setopt_ptr(handle, CURLOPT_CUSTOMREQUEST, $0)) }
        }
        let context = Unmanaged.passUnretained(state).toOpaque()
        if let stream {
            check(steady_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(stream.length)))
            check(steady_curl_setopt_read_callback(handle, readCallback))
            check(steady_curl_setopt_ptr(handle, CURLOPT_READDATA, context))
        } else if request.method != .get {
            let body = request.body ?? []
            check(steady_curl_setopt_off_t(handle, CURLOPT_POSTFIELDSIZE_LARGE, curl_off_t(body.count)))
            // COPYPOSTFIELDS copies: the array need not outlive this call.
            body.withUnsafeBytes { raw in
                let empty: StaticString = ""
                check(steady_curl_setopt_ptr(handle, CURLOPT_COPYPOSTFIELDS, raw.baseAddress ?? UnsafeRawPointer(empty.utf8Start)))
            }
        }

        var headers = request.headers
        if let stream { headers.set("Content-Type", stream.contentType) }
        // No "Expect: 100-continue" round trip for larger bodies.
        if headers["Expect"] == nil { headers.add("Expect", "") }
        for field in headers {
            let line = field.value.isEmpty ? "\(field.name):" : "\(field.name): \(field.value)"
            headerList = line.withCString { steady_curl_slist_append(headerList, $0) }
        }
        check(steady_curl_setopt_slist(handle, CURLOPT_HTTPHEADER, headerList))

        check(steady_curl_setopt_write_callback(handle, CURLOPT_WRITEFUNCTION, bodyCallback))
        check(steady_curl_setopt_ptr(handle, CURLOPT_WRITEDATA, context))
        check(steady_curl_setopt_write_callback(handle, CURLOPT_HEADERFUNCTION, headerCallback))
        check(steady_curl_setopt_ptr(handle, CURLOPT_HEADERDATA, context))
        // Without the pre-request hook (libcurl < 7.80) delivery cannot be proven: every
        // failure after name resolution and connect then counts as maybe-sent.
        let hookInstalled = steady_curl_setopt_prereq_callback(handle, prereqCallback) == CURLE_OK
            && steady_curl_setopt_ptr(handle, CURLOPT_PREREQDATA, context) == CURLE_OK

        if setupFailure != CURLE_OK {
            throw HTTPError(kind: .invalidRequest, delivery: .notSent, curlCode: Int32(setupFailure.rawValue),
                            detail: "curl_easy_setopt: " + String(cString: steady_curl_easy_strerror(setupFailure)), target: target)
        }

        let code = withExtendedLifetime(state) { steady_curl_easy_perform(handle) }
        let duration = SteadyClock.monotonicMillis() - started
        if code != CURLE_OK {
            throw classify(code: code, state: state, hookInstalled: hookInstalled, target: target)
        }
        var status = 0
        var connects = 0
        var port = 0
        _ = steady_curl_getinfo_long(handle, CURLINFO_RESPONSE_CODE, &status)
        _ = steady_curl_getinfo_long(handle, CURLINFO_NUM_CONNECTS, &connects)
        _ = steady_curl_getinfo_long(handle, CURLINFO_LOCAL_PORT, &port)
        return HTTPResponse(status: status, headers: state.headers, body: state.body, durationMillis: duration,
                            newConnections: connects, localPort: port)
    }

    private func classify(code: CURLcode, state: TransferState, hookInstalled: Bool, target: String) -> HTTPError {
        let detailText = errorBuffer[0] != 0 ? String(cString: errorBuffer) : String(cString: steady_curl_easy_strerror(code))
        let sentSomething = state.prereqCalls > 0
        let kind: HTTPError.Kind
        var delivery: HTTPError.Delivery
        switch code {
        case CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_RESOLVE_PROXY:
            kind = .nameResolution
            delivery = .notSent
        case CURLE_COULDNT_CONNECT:
            kind = .connectionRefused
            delivery = .notSent
        case CURLE_OPERATION_TIMEDOUT:
            kind = sentSomething ? .timeout : .connectTimeout
            delivery = sentSomething || !hookInstalled ? .maybeSent : .notSent
        case CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CERTPROBLEM, CURLE_SSL_CACERT_BADFILE:
            kind = .tlsHandshake
            delivery = .notSent
        case CURLE_URL_MALFORMAT, CURLE_UNSUPPORTED_PROTOCOL:
            kind = .invalidRequest
            delivery = .notSent
        case CURLE_GOT_NOTHING:
            kind = .emptyReply
            delivery = .maybeSent
        case CURLE_FILESIZE_EXCEEDED:
            kind = .responseTooLarge
            delivery = .maybeSent
        case CURLE_ABORTED_BY_CALLBACK where state.stream?.failure != nil:
            kind = .bodyUnreadable
            delivery = sentSomething ? .maybeSent : .notSent
        case CURLE_ABORTED_BY_CALLBACK where state.resendRefused:
            kind = .resendRefused
            delivery = .maybeSent
        case CURLE_RECV_ERROR, CURLE_SEND_ERROR, CURLE_PARTIAL_FILE, CURLE_HTTP2, CURLE_HTTP2_STREAM:
            kind = .connectionLost
            delivery = .maybeSent
        default:
            kind = .other
            delivery = sentSomething || !hookInstalled ? .maybeSent : .notSent
        }
        // Whatever the final error, a request that went out once may have taken effect (e.g. a
        // GET re-sent by libcurl whose reconnect was then refused).
        if sentSomething { delivery = .maybeSent }
        if state.capExceeded {  // our write callback refused the bytes (CURLE_WRITE_ERROR)
            return HTTPError(kind: .responseTooLarge, delivery: .maybeSent, curlCode: Int32(code.rawValue),
                             detail: "response larger than \(options.maxResponseBytes) bytes", target: target)
        }
        let detail = kind == .bodyUnreadable ? "the request body could not be read: \(state.stream?.failure ?? "?")" : detailText
        return HTTPError(kind: kind, delivery: delivery, curlCode: Int32(code.rawValue), detail: detail, target: target)
    }

    static func stripQuery(_ url: String) -> String {
        if let q = url.firstIndex(where: { $0 == "?" || $0 == "#" }) { return String(url[..<q]) }
        return url
    }
}

/// How far a transfer got, as `HTTPClient.transferObserver` is told.
public enum HTTPTransferEvent: Sendable, Equatable {
    /// The connection is up and the request is about to be written (libcurl's pre-request
    /// hook): from here on it may reach the server.
    case sending
    /// The first line of the answer arrived: the whole request left this machine and the
    /// server has answered, but nothing of the answer has been read yet.
    case answerArriving
}

/// What the callbacks of one transfer fill in.
private final class TransferState {
    let cap: Int
    let allowsResend: Bool
    var received = 0
    var capExceeded = false
    var body: [UInt8] = []
    var headers = HTTPHeaders()
    var prereqCalls = 0
    var resendRefused = false
    let observer: ((HTTPTransferEvent) -> Void)?
    var answerSeen = false
    /// The body read on demand, if the request has one.
    let stream: HTTPStreamBody?

    init(cap: Int, allowsResend: Bool, observer: ((HTTPTransferEvent) -> Void)?, stream: HTTPStreamBody?) {
        self.cap = cap
        self.allowsResend = allowsResend
        self.observer = observer
        self.stream = stream
    }

    /// Counts bytes against the cap; false once it is exceeded.
    func admit(_ count: Int) -> Bool {
        received += count
        if received > cap { capExceeded = true }
        return !capExceeded
    }
}

private let bodyCallback: curl_write_callback = { data, size, count, context in
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    let n = size * count
    guard state.admit(n) else { return 0 }  // a short count makes libcurl abort with CURLE_WRITE_ERROR
    if n > 0, let data {
        data.withMemoryRebound(to: UInt8.self, capacity: n) { state.body.append(contentsOf: UnsafeBufferPointer(start: $0, count: n)) }
    }
    return n
}

private let headerCallback: curl_write_callback = { data, size, count, context in
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    let n = size * count
    guard state.admit(n) else { return 0 }
    guard n > 0, let data else { return n }
    let line = data.withMemoryRebound(to: UInt8.self, capacity: n) { String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self) }
    if line.hasPrefix("HTTP/") {
        if !state.answerSeen, let observer = state.observer {
            state.answerSeen = true
            observer(.answerArriving)
        }
        // A new response starts (after an interim 1xx): only the final one's headers count.
        state.headers = HTTPHeaders()
        state.body = []
        return n
    }
    guard let colon = line.firstIndex(of: ":") else { return n }
    let name = line[..<colon].trimmingHTTPWhitespace()
    let value = line[line.index(after: colon)...].trimmingHTTPWhitespace()
    if !name.isEmpty { state.headers.add(name, value) }
    return n
}

private let readCallback: curl_read_callback = { buffer, size, count, context in
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    guard let stream = state.stream, let buffer else { return 0 }
    guard let n = stream.fill(UnsafeMutableRawBufferPointer(start: buffer, count: size * count)) else {
        return Int(CURL_READFUNC_ABORT)
    }
    return n
}

private let prereqCallback: curl_prereq_callback = { context, _, _, _, _ in
    let state = Unmanaged<TransferState>.fromOpaque(context!).takeUnretainedValue()
    state.prereqCalls += 1
    if state.prereqCalls > 1 && !state.allowsResend {
        state.resendRefused = true
        return CURL_PREREQFUNC_ABORT
    }
    state.observer?(.sending)
    return CURL_PREREQFUNC_OK
}

extension StringProtocol {
    /// Without leading and trailing spaces, tabs, CR and LF.
    func trimmingHTTPWhitespace() -> String {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\r" || $0 == "\n" || $0 == "\r\n" }
        guard let first = firstIndex(where: { !isSpace($0) }) else { return "" }
        let last = lastIndex(where: { !isSpace($0) })!
        return String(self[first...last])
    }
}
