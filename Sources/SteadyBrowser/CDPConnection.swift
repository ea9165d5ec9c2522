import Glibc
import CShim
import SteadyJSON
import SteadySystem

/// One DevTools event.
public struct CDPEvent: Sendable, Equatable {
    public var method: String
    public var params: JSON
    /// The session (attached target) it belongs to; nil for browser-level events.
    public var sessionId: String?
}

/// A DevTools client over a pair of non-blocking descriptors (Chromium's `--remote-debugging-pipe`:
/// we write commands to its fd 3 and read replies and events from its fd 4). Ids are matched
/// to replies; events go to the handler of their `sessionId`. Nothing blocks: `readable()` and
/// `writable()` are called by the owner's loop. When the peer goes away every pending command
/// fails at once with `.closed`; a command sent afterwards fails on the poller's next turn.
/// Used on one thread (the worker loop).
public final class CDPConnection {
    public typealias Completion = (Result<JSON, CDPError>) -> Void

    public let input: Descriptor
    public let output: Descriptor
    private let poller: Poller
    private var framer: CDPFramer
    private var nextId: Int64 = 1
    private var pending: [Int64: Completion] = [:]
    private var outbox: [UInt8] = []
    private var outboxStart = 0
    private var watchingOutput = false
    public private(set) var closedReason: String?

    /// Browser-level events (no sessionId).
    public var onBrowserEvent: ((CDPEvent) -> Void)?
    /// Called once when the connection closes (EOF, error, or `close`), after pending commands failed.
    public var onClose: ((String) -> Void)?
    private var sessionHandlers: [String: (CDPEvent) -> Void] = [:]

    /// Figures for tests and status.
    public private(set) var eventsDropped = 0
    public private(set) var repliesUnmatched = 0

    /// How deep a message may nest (CDP's own limit for DOM trees).
    public static let maxDepth = 512

    public init(input: Descriptor, output: Descriptor, poller: Poller, maxMessageBytes: Int = 8 << 20) throws(SystemError) {
        self.input = input
        self.output = output
        self.poller = poller
        framer = CDPFramer(maxMessageBytes: maxMessageBytes)
        try input.setNonBlocking()
        try output.setNonBlocking()
        try poller.register(input.raw) { [weak self] _ in self?.readable() }
        if output.raw != input.raw {
            try poller.register(output.raw) { [weak self] events in
                if events & (EPOLLOUT.rawValue | EPOLLERR.rawValue) != 0 { self?.writable() }
            }
        }
    }

    public var pendingCount: Int { pending.count }
    public var isClosed: Bool { closedReason != nil }

    public func setSessionHandler(_ sessionId: String, _ handler: ((CDPEvent) -> Void)?) {
        sessionHandlers[sessionId] = handler
    }

    /// Sends a command; `done` is called exactly once, never from inside this call.
    @discardableResult
    public func send(_ method: String, _ params: JSON = .object([]), sessionId: String? = nil, _ done: @escaping Completion) -> Int64 {
        let id = nextId
        nextId += 1
        if let reason = closedReason {
            poller.post { done(.failure(.closed(reason))) }
            return id
        }
        let message = JSON.obj([("id", JSON(id)), ("method", JSON(method)), ("params", params), ("sessionId", sessionId.map(JSON.init))])
        pending[id] = done
        outbox.append(contentsOf: CDPFramer.frame(message.bytes))
        flush()
        return id
    }

    /// Drops the completion of a command whose answer no longer matters (its reply is ignored).
    public func forget(_ id: Int64) { pending[id] = nil }

    /// Reads what is there and dispatches every complete message.
    public func readable() {
        guard closedReason == nil else { return }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while closedReason == nil {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(input.raw, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { return }
                close(reason: "read failed: \(String(cString: strerror(errno)))")
                return
            }
            if n == 0 {
                close(reason: "end of stream")
                return
            }
            let messages: [[UInt8]]
            do { messages = try framer.feed(chunk[0..<n]) } catch {
                close(reason: error.description)
                return
            }
            for message in messages {
                dispatch(message)
                if closedReason != nil { return }
            }
            if n < chunk.count { return }
        }
    }

    /// One message from the browser: a reply to match, or an event to route. Anything else
    /// (not JSON, not an object, neither kind) closes the connection with the reason: a
    /// browser that sends garbage cannot be trusted with the next command.
    private func dispatch(_ bytes: [UInt8]) {
        let fields: JSON
        do { fields = try JSON.parse(bytes, maxDepth: Self.maxDepth) } catch {
            close(reason: CDPError.malformed("\(error), in \(Self.excerpt(bytes))").description)
            return
        }
        guard fields.isObject else {
            close(reason: CDPError.malformed("not a JSON object: \(Self.excerpt(bytes))").description)
            return
        }
        if let id = fields["id"]?.int {
            guard let done = pending.removeValue(forKey: Int64(id)) else {
                repliesUnmatched += 1
                return
            }
            if let error = fields["error"] {
                done(.failure(.protocolError(code: Int64(error["code"]?.int ?? 0), message: error["message"]?.string ?? error.serialized)))
            } else {
                done(.success(fields["result"] ?? .object([])))
            }
        } else if let method = fields["method"]?.string {
            let event = CDPEvent(method: method, params: fields["params"] ?? .object([]), sessionId: fields["sessionId"]?.string)
            if let sid = event.sessionId {
                if let handler = sessionHandlers[sid] { handler(event) } else { eventsDropped += 1 }
            } else if let handler = onBrowserEvent {
                handler(event)
            } else {
                eventsDropped += 1
            }
        } else {
            close(reason: CDPError.malformed("neither a reply nor an event").description)
        }
    }

    /// The start of a message, for an error.
    static func excerpt(_ bytes: [UInt8]) -> String {
        String(decoding: bytes.prefix(120), as: UTF8.self) + (bytes.count > 120 ? "…" : "")
    }

    /// Writes what the pipe takes; the rest waits for `writable`.
    public func writable() { flush() }

    private func flush() {
        while closedReason == nil && outboxStart < outbox.count {
            let n = outbox.withUnsafeBytes { buf in
                Glibc.write(output.raw, buf.baseAddress! + outboxStart, buf.count - outboxStart)
            }
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EAGAIN || errno == EWOULDBLOCK { break }
                close(reason: "write failed: \(String(cString: strerror(errno)))")
                return
            }
            outboxStart += n
        }
        if outboxStart >= outbox.count {
            outbox.removeAll(keepingCapacity: outbox.count < 1 << 16)
            outboxStart = 0
        }
        let want = outboxStart < outbox.count
        if want != watchingOutput && closedReason == nil {
            watchingOutput = want
            poller.setWritable(output.raw, want)
        }
    }

    /// Closes both descriptors; every pending command fails now with `.closed(reason)`.
    public func close(reason: String) {
        guard closedReason == nil else { return }
        closedReason = reason
        poller.unregister(input.raw)
        poller.unregister(output.raw)
        input.close()
        output.close()
        outbox = []
        let failed = pending.sorted { $0.key < $1.key }
        pending = [:]
        sessionHandlers = [:]
        for (_, done) in failed { done(.failure(.closed(reason))) }
        onClose?(reason)
        onClose = nil
    }
}
