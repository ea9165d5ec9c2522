/// The DevTools pipe's framing: each JSON message is followed by one NUL byte. Reads may end
/// anywhere (inside a message, or after several); a message that grows past `maxMessageBytes`
/// before its NUL is refused (the peer is then treated as broken), so a runaway peer cannot
/// make the worker buffer without bound.
public struct CDPFramer: Sendable {
    public let maxMessageBytes: Int
    private var partial: [UInt8] = []

    public init(maxMessageBytes: Int = 8 << 20) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Bytes of a message whose NUL has not arrived yet.
    public var pendingBytes: Int { partial.count }

    /// Adds what was read; returns the messages it completed, in order.
    public mutating func feed<C: Collection>(_ bytes: C) throws(CDPError) -> [[UInt8]] where C.Element == UInt8 {
        var out: [[UInt8]] = []
        var rest = bytes[...]
        while let nul = rest.firstIndex(of: 0) {
            let piece = rest[rest.startIndex..<nul]
            if partial.count + piece.count > maxMessageBytes { throw tooLarge(partial.count + piece.count) }
            if partial.isEmpty {
                out.append(Array(piece))
            } else {
                partial.append(contentsOf: piece)
                out.append(partial)
                partial.removeAll(keepingCapacity: false)
            }
            rest = rest[rest.index(after: nul)...]
        }
        if partial.count + rest.count > maxMessageBytes { throw tooLarge(partial.count + rest.count) }
        partial.append(contentsOf: rest)
        return out
    }

    private func tooLarge(_ size: Int) -> CDPError {
        .malformed("a DevTools message of over \(size) bytes exceeds the \(maxMessageBytes)-byte bound")
    }

    /// One outgoing message: the JSON and its NUL.
    public static func frame(_ json: [UInt8]) -> [UInt8] { json + [0] }
}

/// How a DevTools command failed.
public enum CDPError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The browser went away (exit, EOF, write error) before answering.
    case closed(String)
    /// The browser answered with a protocol error.
    case protocolError(code: Int64, message: String)
    /// The browser sent something that is not a DevTools message.
    case malformed(String)

    public var description: String {
        switch self {
        case .closed(let why): return "browser connection closed: \(why)"
        case .protocolError(let code, let message): return "DevTools error \(code): \(message)"
        case .malformed(let why): return "malformed DevTools message: \(why)"
        }
    }
}
