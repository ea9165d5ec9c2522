/// Bytes a streamed request body reads on demand (a media store item, say). Reads are
/// sequential; the body never asks for more than the length it was given.
public protocol HTTPBodySource: AnyObject {
    /// Copies the next bytes into `buffer` (at most its size) and returns how many; 0 only at
    /// the end. A failure aborts the transfer with `HTTPError.Kind.bodyUnreadable`.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws(HTTPBodySourceError) -> Int
}

/// Why a body source could not give its bytes (the file, and the cause).
public struct HTTPBodySourceError: Error, Sendable, Equatable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// A request body sent as libcurl asks for it (its read callback), so a 500 MB video is never
/// in memory: only the part being read is. Its parts are fixed bytes (a multipart preamble)
/// and sources of a known length, sent in order; `length` (their sum) is announced as the
/// `Content-Length`. A source that ends early or fails aborts the transfer.
///
/// One body is sent once (it is consumed as it goes): make a new one for a retry.
public final class HTTPStreamBody {
    public enum Part {
        case bytes([UInt8])
        case source(any HTTPBodySource, length: Int64)

        var length: Int64 {
            switch self {
            case .bytes(let b): Int64(b.count)
            case .source(_, let n): n
            }
        }
    }

    public let parts: [Part]
    public let length: Int64
    /// What `HTTPClient` sets for the request (a multipart body's boundary is in it).
    public let contentType: String
    private var index = 0
    private var offset: Int64 = 0
    /// The first failure of a source (or an early end), reported by the client.
    public private(set) var failure: String?
    /// Bytes handed to libcurl so far (tests and figures).
    public private(set) var sent: Int64 = 0

    public init(parts: [Part], contentType: String) {
        self.parts = parts
        self.contentType = contentType
        length = parts.reduce(0) { $0 + $1.length }
    }

    /// `source`'s bytes as the whole body.
    public convenience init(source: any HTTPBodySource, length: Int64, contentType: String) {
        self.init(parts: [.source(source, length: length)], contentType: contentType)
    }

    /// A `multipart/form-data` body: text `fields` first, then one file part streamed from
    /// `source` (RFC 7578). The boundary is random-looking but fixed per body.
    public static func multipart(fields: [(String, String)], fileField: String, fileName: String, fileType: String,
                                 source: any HTTPBodySource, length: Int64, boundary: String) -> HTTPStreamBody {
        var head = ""
        for (name, value) in fields {
            head += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(quoted(name))\"\r\n\r\n\(value)\r\n"
        }
        head += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(quoted(fileField))\"; filename=\"\(quoted(fileName))\"\r\n"
        head += "Content-Type: \(fileType)\r\n\r\n"
        let tail = "\r\n--\(boundary)--\r\n"
        return HTTPStreamBody(parts: [.bytes(Array(head.utf8)), .source(source, length: length), .bytes(Array(tail.utf8))],
                              contentType: "multipart/form-data; boundary=\(boundary)")
    }

    /// Quotes and line breaks cannot end a header parameter early.
    static func quoted(_ s: String) -> String {
        String(s.map { $0 == "\"" ? "'" : ($0 == "\r" || $0 == "\n") ? " " : $0 })
    }

    /// Fills `buffer` with the next bytes: the count, 0 at the end, nil when a source failed or
    /// ended before its length (the transfer must be aborted).
    func fill(_ buffer: UnsafeMutableRawBufferPointer) -> Int? {
        var filled = 0
        while filled < buffer.count, index < parts.count {
            let want = buffer.count - filled
            let target = UnsafeMutableRawBufferPointer(rebasing: buffer[filled...])
            switch parts[index] {
            case .bytes(let bytes):
                let n = min(want, bytes.count - Int(offset))
                bytes.withUnsafeBytes { src in
                    target.baseAddress!.copyMemory(from: src.baseAddress! + Int(offset), byteCount: n)
                }
                filled += n
                offset += Int64(n)
            case .source(let source, let length):
                let left = length - offset
                let window = UnsafeMutableRawBufferPointer(rebasing: target[0..<Int(min(Int64(want), left))])
                let n: Int
                do { n = try source.read(into: window) } catch {
                    failure = error.description
                    return nil
                }
                if n == 0 && left > 0 {
                    failure = "the body's source ended \(left) bytes before its announced length"
                    return nil
                }
                filled += n
                offset += Int64(n)
            }
            if offset >= parts[index].length {
                index += 1
                offset = 0
            }
        }
        sent += Int64(filled)
        return filled
    }
}
