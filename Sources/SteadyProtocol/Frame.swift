/// One protocol frame. On the wire (all integers big-endian):
///
///     u32 length      bytes that follow (header + payload), at most `Frame.maxLength`
///     u8  version     `Frame.version`
///     u8  type        `FrameType`
///     u64 correlation request/response pairing; 0 when unused
///     i64 deadline    CLOCK_MONOTONIC milliseconds by which an answer is useless; 0 = none
///     ... payload     type-specific (see `Message`)
public struct Frame: Equatable, Sendable {
    public static let version: UInt8 = 1
    /// Header bytes after the length prefix.
    public static let headerLength = 1 + 1 + 8 + 8
    /// The largest `length` accepted: 32 MiB (the largest documented answer, 5,000 posts of
    /// bounded size, fits with room). Larger frames close the connection; a worker whose
    /// answer would be larger sends a `too-large` error response instead.
    public static let maxLength = 32 << 20
    /// Worker sockets are SOCK_SEQPACKET, where one message may not exceed the send buffer
    /// (212,992 B by default): frames go out in messages of at most this many bytes and the
    /// reader's stream decoder joins them.
    public static let socketPiece = 64 << 10
    /// The receive buffer for one socket message: a whole 1 MiB frame, as peers before
    /// `socketPiece` sent them, still fits.
    public static let maxSocketMessage = (1 << 20) + 4

    public var type: FrameType
    public var correlation: UInt64
    public var deadline: Int64
    public var payload: [UInt8]

    public init(type: FrameType, correlation: UInt64 = 0, deadline: Int64 = 0, payload: [UInt8] = []) {
        self.type = type
        self.correlation = correlation
        self.deadline = deadline
        self.payload = payload
    }

    /// The frame's bytes, length prefix included.
    public func encoded() throws(ProtocolError) -> [UInt8] {
        let length = Frame.headerLength + payload.count
        guard length <= Frame.maxLength else { throw .oversized(length: length, max: Frame.maxLength) }
        var out: [UInt8] = []
        out.reserveCapacity(4 + length)
        out.appendBigEndian(UInt32(length))
        out.append(Frame.version)
        out.append(type.rawValue)
        out.appendBigEndian(correlation)
        out.appendBigEndian(UInt64(bitPattern: deadline))
        out.append(contentsOf: payload)
        return out
    }
}

/// Frame types. Numbers are part of the wire format: never reuse one.
public enum FrameType: UInt8, Sendable, CaseIterable {
    case hello = 1
    case ready = 2
    case heartbeat = 3
    case drain = 4
    case shutdown = 5
    case request = 6
    case response = 7
    case event = 8
}

/// Why a peer's bytes were refused. Each closes the connection; none may crash the reader.
public enum ProtocolError: Error, Equatable, Sendable, CustomStringConvertible {
    case oversized(length: Int, max: Int)
    case undersized(length: Int)
    case unsupportedVersion(UInt8)
    case unknownType(UInt8)
    case malformedPayload(type: String, reason: String)
    case unexpected(String)

    public var description: String {
        switch self {
        case .oversized(let length, let max): return "frame of \(length) bytes exceeds the \(max)-byte bound"
        case .undersized(let length): return "frame length \(length) is shorter than the \(Frame.headerLength)-byte header"
        case .unsupportedVersion(let v): return "unsupported protocol version \(v) (this side speaks \(Frame.version))"
        case .unknownType(let t): return "unknown frame type \(t)"
        case .malformedPayload(let type, let reason): return "malformed \(type) payload: \(reason)"
        case .unexpected(let what): return "unexpected frame: \(what)"
        }
    }
}

extension Array where Element == UInt8 {
    @inline(__always)
    mutating func appendBigEndian<T: FixedWidthInteger>(_ value: T) {
        var v = value.bigEndian
        Swift.withUnsafeBytes(of: &v) { append(contentsOf: $0) }
    }
}

extension ArraySlice where Element == UInt8 {
    @inline(__always)
    func readBigEndian<T: FixedWidthInteger>(at offset: Int, as: T.Type) -> T {
        var v: T = 0
        for i in 0..<MemoryLayout<T>.size {
            v = (v << 8) | T(self[self.startIndex + offset + i])
        }
        return v
    }
}
