/// Turns a byte stream into frames. Feed it whatever arrived; take frames until nil. The
/// first error is final: the caller logs it and closes the connection.
public struct FrameDecoder: Sendable {
    private var buffer: [UInt8] = []
    private var start = 0
    public let maxLength: Int

    public init(maxLength: Int = Frame.maxLength) {
        self.maxLength = maxLength
    }

    /// Bytes held that do not yet form a whole frame.
    public var pendingBytes: Int { buffer.count - start }

    public mutating func feed<C: Collection>(_ bytes: C) where C.Element == UInt8 {
        if start > 0 && start == buffer.count {
            buffer.removeAll(keepingCapacity: true)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next whole frame, nil if more bytes are needed.
    public mutating func next() throws(ProtocolError) -> Frame? {
        let available = buffer.count - start
        guard available >= 4 else { return nil }
        let view = buffer[start...]
        let length = Int(view.readBigEndian(at: 0, as: UInt32.self))
        if length > maxLength { throw .oversized(length: length, max: maxLength) }
        if length < Frame.headerLength { throw .undersized(length: length) }
        // Version and type are checked as soon as they arrive, not after a whole frame.
        if available >= 5 {
            let version = view[view.startIndex + 4]
            if version != Frame.version { throw .unsupportedVersion(version) }
        }
        if available >= 6 {
            let rawType = view[view.startIndex + 5]
            if FrameType(rawValue: rawType) == nil { throw .unknownType(rawType) }
        }
        guard available >= 4 + length else { return nil }
        let type = FrameType(rawValue: view[view.startIndex + 5])!
        let correlation = view.readBigEndian(at: 6, as: UInt64.self)
        let deadline = Int64(bitPattern: view.readBigEndian(at: 14, as: UInt64.self))
        let payloadStart = start + 4 + Frame.headerLength
        let end = start + 4 + length
        let payload = Array(buffer[payloadStart..<end])
        start = end
        if start > 65536 && start * 2 > buffer.count {
            buffer.removeFirst(start)
            start = 0
        }
        return Frame(type: type, correlation: correlation, deadline: deadline, payload: payload)
    }
}
