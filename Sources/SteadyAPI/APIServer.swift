import Hummingbird
import HummingbirdCore
import Logging
import SteadyConfig
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadySystem
import Synchronization

/// The request context: the peer's address is kept, for the loopback rule of `/health`,
/// `/metrics` and the dashboard.
public struct APIRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The peer's IP address as text; nil for a non-IP peer.
    let peerAddress: String?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        peerAddress = source.channel.remoteAddress?.ipAddress
    }

    var peerIsLoopback: Bool { Self.isLoopback(peerAddress) }

    /// 127.0.0.0/8, ::1, and IPv4-mapped 127.x; anything else (or no IP) is not.
    static func isLoopback(_ address: String?) -> Bool {
        guard let a = address?.lowercased() else { return false }
        return a.hasPrefix("127.") || a == "::1" || a.hasPrefix("::ffff:127.")
    }
}

public struct APIServerError: Error, CustomStringConvertible {
    public let description: String
}

/// The HTTP server (Hummingbird, on NIO's threads and Swift concurrency's executor, beside
/// the worker's loop). `start` returns once it listens, so `ready` means serving and a port
/// that cannot be bound is a start failure the supervisor sees.
public final class APIServer: Sendable {
    public let port: Int
    private let task: Task<Void, Never>
    private let state: ServerState

    /// Requests in flight, and whether the server has ended.
    final class ServerState: Sendable {
        private let counts = Mutex<(inFlight: Int, stopped: Bool)>((0, false))
        private let connectionsBox = Mutex<Connections?>(nil)
        func withLock<T: Sendable>(_ body: (inout (inFlight: Int, stopped: Bool)) -> T) -> T { counts.withLock { body(&$0) } }
        var connections: Connections? {
            get { connectionsBox.withLock { $0 } }
            set { connectionsBox.withLock { $0 = newValue } }
        }
    }

    private init(port: Int, task: Task<Void, Never>, state: ServerState) {
        self.port = port
        self.task = task
        self.state = state
    }

    /// Requests being answered now.
    public var inFlight: Int { state.withLock { $0.inFlight } }
    /// The connection figures for the heartbeat (open, peak, evicted, refused, header timeouts).
    public var connectionCounters: [String: Int64] { state.connections?.counters ?? [:] }
    /// True once the listener is closed and the server task has ended.
    public var stopped: Bool { state.withLock { $0.stopped } }

    /// Binds `host:port` and serves `service`; waits up to `timeoutMs` for the listener.
    /// `onStop` runs (on another thread) once the server has ended.
    public static func start(service: APIService, host: String, port: Int, logger: Logger, timeoutMs: Int = 15_000,
                             onStop: @escaping @Sendable () -> Void) throws(APIServerError) -> APIServer {
        // Where the listener is: its port once it listens, or why the server ended.
        let bound = WaitableMutex<(port: Int?, error: String?, ended: Bool)>((nil, nil, false))
        let state = ServerState()
        let router = Router(context: APIRequestContext.self)
        for route in APIRoute.all {
            router.on(RouterPath(route.routerPath), method: HTTPRequest.Method(route.method)!) { request, context in
                state.withLock { $0.inFlight += 1 }
                defer { state.withLock { $0.inFlight -= 1 } }
                let started = SteadyClock.monotonicMillis()
                let answer = await service.serve(route, request, context)
                service.count("http_requests")
                service.count("http_\(answer.status / 100)xx")
                let level: Logger.Level = answer.status >= 500 ? .warning : (answer.status >= 400 ? .notice : .debug)
                // The path only: the query may carry filters, and no header (the token) is logged.
                logger.log(level: level, "\(route.method) \(request.uri.path) \(answer.status) \(SteadyClock.monotonicMillis() - started)ms")
                return answer.response
            }
        }
        let serverLogger = { var l = logger; l.logLevel = .critical; return l }()
        let config = service.config.api
        let connections = Connections(limit: service.config.apiConnectionLimit(descriptorLimit: try? openFilesLimit()),
                                      headerTimeoutMs: config.headerTimeoutMs, logger: logger)
        state.connections = connections
        // The server without `Application`: its run adds a task that rewrites a cached Date
        // header every second, and those wake-ups were most of this idle worker's CPU (P5).
        // An operator's API answers few requests, so each formats its own Date.
        let responder = router.buildResponder()
        let http1 = HTTP1Channel(
            responder: { request, responseWriter, channel in
                // Without Content-Length or Transfer-Encoding a request has no body (RFC 9112 6.3).
                let bodiless = request.headers[.contentLength].map { $0 == "0" } ?? (request.headers[.transferEncoding] == nil)
                connections.requestStarted(channel, bodiless: bodiless)
                defer { connections.requestFinished(channel) }
                var response: Response
                let boundPort = bound.withLock { $0.port } ?? port
                if !config.allowsHost(request.head.authority, boundPort: boundPort) {
                    // Before routing: a page on another name (DNS rebinding) learns nothing.
                    service.count("http_refused_host")
                    response = Self.misdirected(request.head.authority, config: config, boundPort: boundPort).response
                } else {
                    let context = APIRequestContext(source: .init(channel: channel, logger: serverLogger))
                    do { response = try await responder.respond(to: request, context: context) } catch {
                        response = Response(status: .internalServerError)
                    }
                }
                response.headers[.date] = HTTPTime.formatHTTPDate(millis: SteadyClock.wallMillis())
                Self.addSecurityHeaders(&response.headers)
                try await responseWriter.write(response: response.head, body: response.body)
            },
            configuration: .init(idleTimeout: .milliseconds(config.idleTimeoutMs)))
        let server = Server(
            childChannelSetup: GuardedHTTP1Channel(inner: http1, connections: connections),
            configuration: ServerConfiguration(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in
                bound.withLock { $0.port = channel.localAddress?.port ?? port }
            },
            eventLoopGroup: EventLoopGroupProvider.singleton.eventLoopGroup,
            logger: serverLogger)
        // Cancelling the task ends the listener and then each connection.
        let task = Task.detached {
            do { try await server.run() } catch {
                bound.withLock { $0.error = "\(error)" }
            }
            state.withLock { $0.stopped = true }
            bound.withLock { $0.ended = true }
            onStop()
        }
        guard let result = bound.wait(timeoutMs: Int64(timeoutMs), until: { $0.port != nil || $0.ended ? $0 : nil }) else {
            task.cancel()
            throw APIServerError(description: "the HTTP server did not listen on \(host):\(port) within \(timeoutMs) ms")
        }
        guard let boundPort = result.port else {
            throw APIServerError(description: "cannot serve HTTP on \(host):\(port): \(result.error ?? "the server stopped")")
        }
        return APIServer(port: boundPort, task: task, state: state)
    }

    /// What every response carries. The dashboard needs no script, so none may run: a
    /// string that got past the escaping still could not execute. `nosniff` stops a browser
    /// from reading JSON or text as HTML.
    static let securityHeaders: [(HTTPFields.Element.Name, String)] = [
        (HTTPFields.Element.Name("Content-Security-Policy")!, "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
        (HTTPFields.Element.Name("X-Content-Type-Options")!, "nosniff"),
        (HTTPFields.Element.Name("Referrer-Policy")!, "no-referrer"),
    ]

    static func addSecurityHeaders(_ fields: inout HTTPFields) {
        for (name, value) in securityHeaders { fields[name] = value }
    }

    /// 421 for a `Host` this server does not answer to, naming it and the way to allow it.
    static func misdirected(_ host: String?, config: APIConfig, boundPort: Int) -> APIAnswer {
        guard let host else {
            return .error(400, "bad-host", field: "Host", "the request has no Host header; send the address you connect to, e.g. Host: 127.0.0.1:\(boundPort)")
        }
        let printable = String(String.UnicodeScalarView(host.unicodeScalars.prefix(200).map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 }))
        let allowed = config.allowedHosts.map { $0.joined(separator: ", ") }
            ?? "\(config.host.contains(":") ? "[\(config.host)]" : config.host):\(boundPort), localhost:\(boundPort), 127.0.0.1:\(boundPort), [::1]:\(boundPort)"
        return .error(421, "misdirected", field: "Host",
                      "this server does not answer to Host \"\(printable)\" (it answers to \(allowed); add the name to api.allowed_hosts to allow it)")
    }

    /// Closes the listener and ends the server (requests in flight are cut at the drain deadline).
    public func stop() {
        task.cancel()
    }
}

extension APIAnswer {
    var response: Response {
        var fields = HTTPFields()
        fields[.contentType] = contentType
        fields[.cacheControl] = "no-store"
        for (name, value) in headers {
            if let n = HTTPFields.Element.Name(name) { fields[n] = value }
        }
        if let media {
            fields[.contentLength] = String(media.bytes)
            return Response(status: .init(code: status), headers: fields, body: media.responseBody)
        }
        return Response(status: .init(code: status), headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}
