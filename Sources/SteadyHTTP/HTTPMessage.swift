/// One header line as sent or received. Names compare case-insensitively through `HTTPHeaders`.
public struct HTTPHeaderField: Sendable, Equatable {
    public var name: String
    public var value: String

    public init(name: String, value: String) {
        self.name = name
        self.value = value
    }
}

/// An ordered list of header fields with case-insensitive lookup. Repeated names are kept.
public struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    public private(set) var fields: [HTTPHeaderField] = []

    public init() {}

    public init(_ pairs: [(String, String)]) {
        fields = pairs.map { HTTPHeaderField(name: $0.0, value: $0.1) }
    }

    public init(dictionaryLiteral elements: (String, String)...) {
        self.init(elements)
    }

    public mutating func add(_ name: String, _ value: String) {
        fields.append(HTTPHeaderField(name: name, value: value))
    }

    /// Replaces every field called `name` with one field.
    public mutating func set(_ name: String, _ value: String) {
        remove(name)
        add(name, value)
    }

    public mutating func remove(_ name: String) {
        let key = name.lowercased()
        fields.removeAll { $0.name.lowercased() == key }
    }

    /// The first value of `name`, case-insensitively.
    public subscript(name: String) -> String? {
        let key = name.lowercased()
        return fields.first { $0.name.lowercased() == key }?.value
    }

    /// Every value of `name`, in order.
    public func values(_ name: String) -> [String] {
        let key = name.lowercased()
        return fields.filter { $0.name.lowercased() == key }.map(\.value)
    }

    public var count: Int { fields.count }

    public func makeIterator() -> IndexingIterator<[HTTPHeaderField]> { fields.makeIterator() }
}

public enum HTTPMethod: String, Sendable, Equatable {
    case get = "GET"
    case post = "POST"
    case put = "PUT"
    case delete = "DELETE"
    case patch = "PATCH"
}

/// A request for `HTTPClient.send`.
public struct HTTPRequest: Sendable {
    public var method: HTTPMethod
    /// An absolute `http://` or `https://` URL, query included and already percent-encoded.
    public var url: String
    public var headers: HTTPHeaders
    public var body: [UInt8]?
    /// Whether libcurl may transparently re-send the request when a reused keep-alive
    /// connection turns out to be dead. Safe only for requests that cannot publish twice:
    /// true by default for GET, false for everything else. When false and libcurl tries to
    /// send a second time, the transfer is aborted and reported as `maybeSent` instead.
    public var allowsTransparentResend: Bool
    /// Overrides the client's total timeout for this request.
    public var timeoutMillis: Int?

    public init(
        method: HTTPMethod, url: String, headers: HTTPHeaders = HTTPHeaders(), body: [UInt8]? = nil,
        allowsTransparentResend: Bool? = nil, timeoutMillis: Int? = nil
    ) {
        self.method = method
        self.url = url
        self.headers = headers
        self.body = body
        self.allowsTransparentResend = allowsTransparentResend ?? (method == .get)
        self.timeoutMillis = timeoutMillis
    }
}

/// A complete response (any status: 4xx and 5xx are responses, not errors, at this layer).
public struct HTTPResponse: Sendable {
    public var status: Int
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Wall time from the start of the transfer to its end.
    public var durationMillis: Int64
    /// New connections libcurl opened for this transfer: 0 when a kept-alive one was reused.
    public var newConnections: Int
    /// The local port of the connection used (tests use it to see reuse).
    public var localPort: Int

    public init(status: Int, headers: HTTPHeaders, body: [UInt8], durationMillis: Int64 = 0, newConnections: Int = 0, localPort: Int = 0) {
        self.status = status
        self.headers = headers
        self.body = body
        self.durationMillis = durationMillis
        self.newConnections = newConnections
        self.localPort = localPort
    }

    /// The body as UTF-8 text (invalid sequences replaced).
    public var text: String { String(decoding: body, as: UTF8.self) }

    public var isSuccess: Bool { (200..<300).contains(status) }
}
