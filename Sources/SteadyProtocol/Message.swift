import SteadyJSON
import SteadyCore

/// hello: the first frame a worker sends.
public struct Hello: Codable, Equatable, Sendable {
    public var role: Role
    public var pid: Int32
    public var version: String
    public init(role: Role, pid: Int32, version: String) {
        self.role = role
        self.pid = pid
        self.version = version
    }
}

/// ready: the worker is up; `summary` says what it is doing (or that it has nothing to do).
public struct Ready: Codable, Equatable, Sendable {
    public var summary: String
    public init(summary: String) { self.summary = summary }
}

/// heartbeat: proof of a live loop, with the figures the supervisor reports.
public struct Heartbeat: Codable, Equatable, Sendable {
    public var sequence: UInt64
    public var rssBytes: UInt64
    public var openFds: Int
    public var inFlight: Int
    public var counters: [String: Int64]
    public init(sequence: UInt64, rssBytes: UInt64, openFds: Int, inFlight: Int, counters: [String: Int64] = [:]) {
        self.sequence = sequence
        self.rssBytes = rssBytes
        self.openFds = openFds
        self.inFlight = inFlight
        self.counters = counters
    }
}

extension Heartbeat {
    /// Heartbeats are the one frame an idle daemon sends all the time, so they skip JSON:
    /// u64 sequence, u64 rssBytes, u32 openFds, u32 inFlight, u16 counter count, then per
    /// counter u8 name length, the name (UTF-8), i64 value; big-endian, names sorted.
    func binary() throws(ProtocolError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(26 + counters.count * 24)
        out.appendBigEndian(sequence)
        out.appendBigEndian(rssBytes)
        out.appendBigEndian(UInt32(clamping: openFds))
        out.appendBigEndian(UInt32(clamping: inFlight))
        guard counters.count <= Int(UInt16.max) else { throw .malformedPayload(type: "heartbeat", reason: "too many counters") }
        out.appendBigEndian(UInt16(counters.count))
        for name in counters.keys.sorted() {
            let bytes = Array(name.utf8)
            guard !bytes.isEmpty, bytes.count <= 255 else { throw .malformedPayload(type: "heartbeat", reason: "counter name must be 1-255 bytes") }
            out.append(UInt8(bytes.count))
            out.append(contentsOf: bytes)
            out.appendBigEndian(UInt64(bitPattern: counters[name]!))
        }
        return out
    }

    init(binary p: [UInt8]) throws(ProtocolError) {
        func fail(_ why: String) -> ProtocolError { .malformedPayload(type: "heartbeat", reason: why) }
        guard p.count >= 26 else { throw fail("\(p.count) bytes, at least 26 needed") }
        let s = p[...]
        sequence = s.readBigEndian(at: 0, as: UInt64.self)
        rssBytes = s.readBigEndian(at: 8, as: UInt64.self)
        openFds = Int(s.readBigEndian(at: 16, as: UInt32.self))
        inFlight = Int(s.readBigEndian(at: 20, as: UInt32.self))
        let count = Int(s.readBigEndian(at: 24, as: UInt16.self))
        var offset = 26
        var counters: [String: Int64] = [:]
        for _ in 0..<count {
            guard offset < p.count else { throw fail("counter list ends early") }
            let n = Int(p[offset])
            guard n > 0, offset + 1 + n + 8 <= p.count else { throw fail("counter entry ends early") }
            guard let name = String(validating: p[(offset + 1)..<(offset + 1 + n)], as: UTF8.self) else { throw fail("counter name is not UTF-8") }
            counters[name] = Int64(bitPattern: s.readBigEndian(at: offset + 1 + n, as: UInt64.self))
            offset += 1 + n + 8
        }
        guard offset == p.count else { throw fail("\(p.count - offset) bytes after the counters") }
        self.counters = counters
    }
}

/// A typed view of a frame. request, response and event carry a name and an opaque JSON body
/// that the layer above decodes: payload = u8 name length, name (UTF-8), body.
public enum Message: Equatable, Sendable {
    case hello(Hello)
    case ready(Ready)
    case heartbeat(Heartbeat)
    /// Stop taking work, finish in-flight work by the frame's deadline, then exit 0.
    case drain
    /// Exit now (after a drain, or when no drain is wanted).
    case shutdown
    case request(method: String, body: [UInt8])
    /// `status` is "ok" or "error" (body: `ErrorBody`).
    case response(status: String, body: [UInt8])
    case event(name: String, body: [UInt8])

    public var type: FrameType {
        switch self {
        case .hello: return .hello
        case .ready: return .ready
        case .heartbeat: return .heartbeat
        case .drain: return .drain
        case .shutdown: return .shutdown
        case .request: return .request
        case .response: return .response
        case .event: return .event
        }
    }

    public func frame(correlation: UInt64 = 0, deadline: Int64 = 0) throws(ProtocolError) -> Frame {
        let payload: [UInt8]
        switch self {
        case .hello(let v): payload = try JSONCoding.encode(v)
        case .ready(let v): payload = try JSONCoding.encode(v)
        case .heartbeat(let v): payload = try v.binary()
        case .drain, .shutdown: payload = []
        case .request(let name, let body), .response(let name, let body), .event(let name, let body):
            let nameBytes = Array(name.utf8)
            guard !nameBytes.isEmpty, nameBytes.count <= 255 else {
                throw .malformedPayload(type: "\(type)", reason: "name must be 1-255 bytes")
            }
            payload = [UInt8(nameBytes.count)] + nameBytes + body
        }
        return Frame(type: type, correlation: correlation, deadline: deadline, payload: payload)
    }

    public func encoded(correlation: UInt64 = 0, deadline: Int64 = 0) throws(ProtocolError) -> [UInt8] {
        try frame(correlation: correlation, deadline: deadline).encoded()
    }

    public init(_ frame: Frame) throws(ProtocolError) {
        switch frame.type {
        case .hello: self = .hello(try JSONCoding.decode(Hello.self, frame.payload, type: "hello"))
        case .ready: self = .ready(try JSONCoding.decode(Ready.self, frame.payload, type: "ready"))
        case .heartbeat: self = .heartbeat(try Heartbeat(binary: frame.payload))
        case .drain: self = .drain
        case .shutdown: self = .shutdown
        case .request, .response, .event:
            let p = frame.payload
            guard let n = p.first, n > 0, p.count >= 1 + Int(n) else {
                throw .malformedPayload(type: "\(frame.type)", reason: "missing name")
            }
            guard let name = String(validating: p[1...Int(n)], as: UTF8.self) else {
                throw .malformedPayload(type: "\(frame.type)", reason: "name is not UTF-8")
            }
            let body = Array(p[(1 + Int(n))...])
            switch frame.type {
            case .request: self = .request(method: name, body: body)
            case .response: self = .response(status: name, body: body)
            default: self = .event(name: name, body: body)
            }
        }
    }
}

/// The body of an error response.
public struct ErrorBody: Codable, Equatable, Sendable {
    public var code: String
    public var message: String
    public init(code: String, message: String) {
        self.code = code
        self.message = message
    }
}

/// JSON for payload bodies: one coder everywhere (`SteadyJSON`, no Foundation, so the
/// supervisor never loads it; sorted keys, so a frame's bytes are reproducible).
public enum JSONCoding {
    public static func encode<T: Encodable>(_ value: T) throws(ProtocolError) -> [UInt8] {
        do {
            return try JSONCodable.encodeBytes(value)
        } catch {
            throw .malformedPayload(type: "\(T.self)", reason: "cannot encode: \(JSONCodable.describe(error))")
        }
    }

    public static func decode<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], type name: String) throws(ProtocolError) -> T {
        let value: JSON
        do { value = try JSON.parse(bytes) } catch {
            throw .malformedPayload(type: name, reason: "\(error)")
        }
        do {
            return try JSONCodable.decode(T.self, from: value)
        } catch {
            throw .malformedPayload(type: name, reason: JSONCodable.describe(error))
        }
    }
}
