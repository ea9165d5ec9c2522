import Hummingbird
import Logging
import SteadyCore
import Synchronization

/// The request context of the simulator's router: it keeps the connection, so that a
/// `lose-response` fault can close it without answering.
public struct SimRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Closes the connection the request came on, without a response.
    let dropConnection: @Sendable () async -> Void

    public init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        let channel = source.channel
        self.dropConnection = { try? await channel.close() }
    }
}

/// The simulated platforms: one lock around the whole state, and the request pipeline
/// (identify → fault → effect → delivery) that every platform and web request goes through.
final class Simulator: Sendable {
    let store: Mutex<Store>
    let holds = HoldRegistry()
    let logger: Logger

    init(seed: UInt64, rateLimitScale: Int = 1, logger: Logger) {
        var store = Store(seed: seed)
        store.rateLimitScale = max(1, rateLimitScale)
        self.store = Mutex(store)
        self.logger = logger
    }

    func withStore<T: Sendable>(_ body: (inout Store) -> T) -> T {
        store.withLock { body(&$0) }
    }

    /// Serves one platform or web request.
    func serve(_ route: Route, _ request: Request, _ context: SimRequestContext) async throws -> Response {
        let started = SteadyClock.monotonicMillis()
        let simRequest = try await SimRequest.read(request, context, maxBytes: route.maxBodyBytes)
        let plan = withStore { $0.plan(route, simRequest) }
        if let fault = plan.fault, fault.kind == .delay || fault.kind == .slowTimeline {
            _ = await holds.hold(milliseconds: fault.delayMs)
        }
        let outcome = withStore { $0.execute(route, simRequest, plan: plan, startedMono: started) }
        switch outcome.delivery {
        case .send:
            break
        case .lose:
            logRequest(simRequest, outcome: outcome, started: started, note: "connection closed, no response")
            await context.dropConnection()
            return Response(status: .internalServerError)
        case .hold(let milliseconds):
            if await holds.hold(milliseconds: milliseconds) {
                logRequest(simRequest, outcome: outcome, started: started, note: "held until shutdown, no response")
                await context.dropConnection()
                return Response(status: .internalServerError)
            }
        }
        logRequest(simRequest, outcome: outcome, started: started, note: nil)
        return outcome.response.hummingbird
    }

    /// Serves one admin request (never faulted, not in the request log).
    func admin(_ request: Request, _ context: SimRequestContext, _ body: @Sendable (inout Store, SimRequest) -> SimResponse)
        async throws -> Response
    {
        let started = SteadyClock.monotonicMillis()
        let simRequest = try await SimRequest.read(request, context)
        let response = withStore { body(&$0, simRequest) }
        logRequest(
            simRequest, outcome: Outcome(response: response, delivery: .send, account: nil, fault: nil),
            started: started, note: nil)
        return response.hummingbird
    }

    /// One line per request: method, path, account, status, duration, fault. Never a token.
    private func logRequest(_ request: SimRequest, outcome: Outcome, started: Int64, note: String?) {
        var metadata: Logger.Metadata = [
            "sim.account": .string(outcome.account ?? "-"),
            "http.status": .stringConvertible(outcome.response.status),
            "duration_ms": .stringConvertible(SteadyClock.monotonicMillis() - started),
            "sim.fault": .string(outcome.fault?.rawValue ?? "-"),
        ]
        if let note { metadata["sim.note"] = .string(note) }
        logger.info("\(request.method) \(request.path)", metadata: metadata)
    }
}

extension SimRequest {
    /// Reads a whole request (body up to `maxBytes`, 4 MiB unless an upload route says more).
    static func read(_ request: Request, _ context: SimRequestContext, maxBytes: Int = 4 << 20) async throws -> SimRequest {
        let buffer = try await request.body.collect(upTo: maxBytes)
        var headers: [(String, String)] = []
        for field in request.headers {
            headers.append((field.name.canonicalName, field.value))
        }
        var parameters: [String: String] = [:]
        for name in ["id", "nsid", "name", "node"] {
            if let raw = context.parameters.get(name) {
                parameters[name] = raw.percentDecoded() ?? raw
            }
        }
        return SimRequest(
            method: request.method.rawValue,
            path: request.uri.path,
            query: parseForm(request.uri.query ?? ""),
            headers: headers,
            body: Array(buffer.readableBytesView),
            parameters: parameters)
    }
}

extension SimResponse {
    var hummingbird: Response {
        var fields = HTTPFields()
        for (name, value) in headers {
            if let fieldName = HTTPFields.Name(name) {
                fields.append(.init(name: fieldName, value: value))
            }
        }
        return Response(
            status: .init(code: status),
            headers: fields,
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }
}

extension HTTPFields {
    typealias Name = Element.Name
}
