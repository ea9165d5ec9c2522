import Glibc
import SteadyCore
import SteadyProtocol
import SteadySystem

/// Why a control request did not succeed, mapped onto the CLI's exit codes.
public enum ControlClientError: Error, CustomStringConvertible, Sendable {
    /// The daemon cannot be reached (no socket, nobody listening, no answer in time): exit 3.
    case unreachable(String)
    /// The daemon answered no (permission, failed operation): exit 1.
    case refused(code: String, message: String)

    public var description: String {
        switch self {
        case .unreachable(let why): return "cannot reach steadypostd: \(why)"
        case .refused(_, let message): return message
        }
    }

    public var exitCode: Int32 {
        switch self {
        case .unreachable: return 3
        case .refused: return 1
        }
    }
}

/// A blocking client for the control socket: one request, one response, within a deadline.
public struct ControlClient: Sendable {
    public let socketPath: String
    public let timeoutMillis: Int64

    public init(socketPath: String, timeoutMillis: Int64 = 30_000) {
        self.socketPath = socketPath
        self.timeoutMillis = timeoutMillis
    }

    /// Sends `method` with a JSON `body`; returns the ok response's body.
    public func call(_ method: ControlMethod, body: [UInt8] = []) throws(ControlClientError) -> [UInt8] {
        try call(method: method.rawValue, body: body)
    }

    /// Sends any method, `ROLE.method` ones included (answered by that worker). `descriptors`
    /// (at most `DescriptorPassing.maxPerFrame`: open files the worker reads on our behalf) go
    /// with the request's first byte.
    public func call(method: String, body: [UInt8] = [], descriptors: [Descriptor] = []) throws(ControlClientError) -> [UInt8] {
        let deadline = SteadyClock.monotonicMillis() + timeoutMillis
        // The daemon is told a deadline a little before our own, so its `timeout` answer
        // (which names the worker that did not answer) arrives before we stop waiting.
        let daemonDeadline = deadline - min(500, timeoutMillis / 10)
        let fd: Descriptor
        do { fd = try Sockets.connectStream(path: socketPath) } catch {
            switch error.errno {
            case EACCES, EPERM:
                throw .refused(code: "permission-denied", message: "permission denied on \(socketPath): ask for membership of the control group, or use sudo")
            default:
                throw .unreachable("\(socketPath): \(String(cString: strerror(error.errno)))")
            }
        }
        defer { fd.close() }
        do {
            try fd.setNonBlocking()
            let bytes = try Message.request(method: method, body: body).encoded(correlation: 1, deadline: daemonDeadline)
            try fd.writeAll(bytes, deadlineMillis: deadline, descriptors: descriptors)
        } catch let error as SystemError where error.errno == EPIPE || error.errno == ECONNRESET {
            // The daemon refused us before reading (e.g. SO_PEERCRED check): read its answer.
        } catch {
            throw .unreachable("sending the request: \(error)")
        }
        var decoder = FrameDecoder()
        var buffer: [UInt8] = []
        while true {
            do {
                if let frame = try decoder.next() {
                    guard case .response(let status, let responseBody) = try Message(frame) else {
                        throw ControlClientError.unreachable("unexpected \(frame.type) frame from the daemon")
                    }
                    if status == "ok" { return responseBody }
                    let err = (try? JSONCoding.decode(ErrorBody.self, responseBody, type: "error")) ?? ErrorBody(code: "error", message: "the daemon refused the request")
                    throw ControlClientError.refused(code: err.code, message: err.message)
                }
                buffer.removeAll(keepingCapacity: true)
                try fd.waitReadiness(events: Int16(POLLIN), deadlineMillis: deadline)
                guard let n = try Sockets.readAvailable(fd, into: &buffer) else { continue }
                if n == 0 { throw ControlClientError.unreachable("the daemon closed the connection without an answer") }
                decoder.feed(buffer)
            } catch let error as ControlClientError {
                throw error
            } catch let error as SystemError where error.errno == ETIMEDOUT {
                throw .unreachable("no answer within \(timeoutMillis) ms")
            } catch {
                throw .unreachable("\(error)")
            }
        }
    }

    public func status() throws(ControlClientError) -> StatusReport {
        let body = try call(.status)
        do { return try JSONCoding.decode(StatusReport.self, body, type: "status") } catch {
            throw .unreachable("bad status answer: \(error)")
        }
    }
}
