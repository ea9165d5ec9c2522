import Logging
import SteadyCore
import SteadyProtocol
import SteadySystem

/// Where a routed request came from, so its answer can go back.
enum RouteOrigin: Equatable {
    /// A CLI connection on the control socket.
    case control(connection: UInt64)
    /// Another worker (e.g. a browser lease asked for by the metrics worker).
    case worker(Role, generation: UInt32)
}

/// A request the supervisor forwarded to a worker and whose answer it awaits.
struct RoutedRequest {
    let origin: RouteOrigin
    let originCorrelation: UInt64
    let target: Role
    let targetGeneration: UInt32
    let method: String
    let deadline: Int64
}

/// Routing: requests named `ROLE.method` go to that role's worker, with a correlation id of
/// the supervisor's own; the answer goes back to whoever asked (a CLI connection or another
/// worker). Workers talk to each other only this way (DESIGN.md 2). Every routed request has
/// a deadline; a worker that dies or misses it makes the asker get an error at once.
extension Supervisor {
    /// Splits `posting.create` into (posting, create).
    static func routeTarget(_ method: String) -> (Role, String)? {
        guard let dot = method.firstIndex(of: ".") else { return nil }
        guard let role = Role(rawValue: String(method[..<dot])) else { return nil }
        let rest = String(method[method.index(after: dot)...])
        return rest.isEmpty ? nil : (role, rest)
    }

    /// Forwards; returns an error body when the target cannot take it.
    /// `descriptors` (from a CLI) go with the request's frame; the caller closes its copies.
    func route(method: String, body: [UInt8], from origin: RouteOrigin, correlation: UInt64, deadline: Int64,
               descriptors: [Descriptor] = []) -> ErrorBody? {
        guard let (role, inner) = Self.routeTarget(method) else {
            return ErrorBody(code: "unknown-method", message: "no route for '\(method)'")
        }
        let slot = slots[role]!
        guard case .running = slot.machine.state, slot.socket != nil else {
            return ErrorBody(code: "unavailable", message: "the \(role.rawValue) worker is \(slot.machine.state.name), not running")
        }
        nextRouteId &+= 1
        let id = nextRouteId
        guard send(.request(method: inner, body: body), to: slot, correlation: id, deadline: deadline, descriptors: descriptors) else {
            return ErrorBody(code: "unavailable", message: "the \(role.rawValue) worker's socket is closed")
        }
        routed[id] = RoutedRequest(origin: origin, originCorrelation: correlation, target: role,
                                   targetGeneration: slot.generation, method: method, deadline: deadline)
        return nil
    }

    /// A worker answered a routed request.
    func routeWorkerResponse(from slot: ChildSlot, frame: Frame, status: String, body: [UInt8]) {
        guard let request = routed[frame.correlation], request.target == slot.role, request.targetGeneration == slot.generation else {
            if status == "error", let err = try? JSONCoding.decode(ErrorBody.self, body, type: "error") {
                logger.warning("worker \(slot.role.rawValue) answered an error: \(err.code): \(err.message)")
            }
            return
        }
        routed[frame.correlation] = nil
        deliver(request, .response(status: status, body: body))
    }

    /// Fails the routed requests a dead worker will never answer, and those past their deadline.
    func failRoutes(now: Int64, deadWorker: ChildSlot? = nil) {
        guard !routed.isEmpty else { return }
        for (id, request) in routed {
            var why: ErrorBody?
            if let dead = deadWorker, request.target == dead.role {
                why = ErrorBody(code: "worker-exited", message: "the \(dead.role.rawValue) worker exited before answering \(request.method)")
            } else if now >= request.deadline {
                why = ErrorBody(code: "timeout", message: "the \(request.target.rawValue) worker did not answer \(request.method) by its deadline")
            }
            if let why {
                routed[id] = nil
                deliver(request, .response(status: "error", body: (try? JSONCoding.encode(why)) ?? []))
            }
        }
    }

    private func deliver(_ request: RoutedRequest, _ message: Message) {
        switch request.origin {
        case .control(let connection):
            guard let server = control else { return }
            if case .response(let status, let body) = message {
                if status == "ok" {
                    server.reply(connection, correlation: request.originCorrelation, ok: body)
                } else {
                    server.reply(connection, correlation: request.originCorrelation,
                                 error: (try? JSONCoding.decode(ErrorBody.self, body, type: "error")) ?? ErrorBody(code: "error", message: "the worker refused"))
                }
            }
        case .worker(let role, let generation):
            let slot = slots[role]!
            guard slot.generation == generation else { return }
            _ = send(message, to: slot, correlation: request.originCorrelation)
        }
    }
}
