/// A transfer that did not produce a complete response. Its `delivery` says precisely whether
/// the request may have reached the server, which is what the posting contract needs:
/// `notSent` only when no byte of the request can have gone out (name resolution, connection
/// refused, connect timeout, TLS handshake, a malformed URL); `maybeSent` for everything that
/// happened once a connection was established (timeouts, resets, an empty reply, a response
/// over the size cap, an aborted re-send on a stale connection).
public struct HTTPError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Delivery: String, Sendable, Equatable {
        /// The request provably never left this process on a connection to the server.
        case notSent = "not-sent"
        /// The request may have reached the server (and taken effect).
        case maybeSent = "maybe-sent"
    }

    public enum Kind: String, Sendable, Equatable {
        case invalidRequest = "invalid-request"
        case nameResolution = "name-resolution"
        case connectionRefused = "connection-refused"
        case connectTimeout = "connect-timeout"
        case tlsHandshake = "tls-handshake"
        /// The total timeout passed after the connection was made.
        case timeout
        /// The connection broke (reset, closed mid-response, send or receive failure).
        case connectionLost = "connection-lost"
        /// The server closed the connection without sending any response.
        case emptyReply = "empty-reply"
        case responseTooLarge = "response-too-large"
        /// libcurl wanted to re-send a non-idempotent request on a fresh connection after the
        /// reused one died; refused, because the first send may have taken effect.
        case resendRefused = "resend-refused"
        /// A streamed request body's source failed or ended early: the transfer was aborted.
        case bodyUnreadable = "body-unreadable"
        case other
    }

    public var kind: Kind
    public var delivery: Delivery
    /// libcurl's CURLcode (0 when the error did not come from libcurl).
    public var curlCode: Int32
    /// libcurl's error text. It names hosts and ports, never headers or bodies.
    public var detail: String
    /// Method and URL without its query string (queries may carry identifiers; no secret
    /// ever goes into a URL, but the path is all a reader needs).
    public var target: String

    public init(kind: Kind, delivery: Delivery, curlCode: Int32 = 0, detail: String, target: String) {
        self.kind = kind
        self.delivery = delivery
        self.curlCode = curlCode
        self.detail = detail
        self.target = target
    }

    public var description: String {
        "\(target): \(kind.rawValue) (\(delivery.rawValue)), curl \(curlCode): \(detail)"
    }
}
