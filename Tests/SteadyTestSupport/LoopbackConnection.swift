import Glibc
import SteadyCore

/// A TCP connection to 127.0.0.1 made by hand, for what an HTTP client library will not do:
/// hold a connection open and silent, send half a request, send any `Host` header. The
/// descriptor is close-on-exec and closed once (`close()` or deinit).
public final class LoopbackConnection {
    public private(set) var fd: Int32

    /// Connects to 127.0.0.1:`port`; a connect that takes longer than `timeoutMillis` (the
    /// listener's backlog full) fails.
    public init(port: Int, timeoutMillis: Int = 5000) throws(TestFailure) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var timeout = timeval(tv_sec: timeoutMillis / 1000, tv_usec: (timeoutMillis % 1000) * 1000)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if rc != 0 {
            let code = errno
            Glibc.close(fd)
            fd = -1
            throw TestFailure("connect to 127.0.0.1:\(port): errno \(code)")
        }
    }

    deinit { close() }

    public func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
    }

    /// Sends all of `text`.
    public func send(_ text: String) throws(TestFailure) {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw TestFailure("send: errno \(errno)") }
            offset += n
        }
    }

    /// Reads until the server closes the connection (end of file or reset) or the deadline:
    /// what arrived, and whether it was closed.
    public func readUntilClosed(timeoutMillis: Int64) -> (bytes: [UInt8], closed: Bool) {
        let deadline = SteadyClock.monotonicMillis() + timeoutMillis
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 16384)
        while true {
            let left = deadline - SteadyClock.monotonicMillis()
            if left <= 0 { return (out, false) }
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&p, 1, Int32(min(left, 1000)))
            if ready < 0 && errno == EINTR { continue }
            if ready <= 0 { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { out += buffer[0..<n]; continue }
            if n < 0 && errno == EINTR { continue }
            return (out, true)
        }
    }

    /// One whole exchange: sends `request` (which should say `Connection: close`) and
    /// returns the status, the header fields (names lowercased) and the body.
    public func exchange(_ request: String, timeoutMillis: Int64 = 10_000) throws(TestFailure) -> (status: Int, headers: [String: String], body: String) {
        try send(request)
        let (bytes, closed) = readUntilClosed(timeoutMillis: timeoutMillis)
        let text = String(decoding: bytes, as: UTF8.self)
        guard closed || !bytes.isEmpty, let end = text.firstRange(of: "\r\n\r\n") else {
            throw TestFailure("no HTTP response within \(timeoutMillis) ms: \(text.prefix(200).debugDescription)")
        }
        let lines = text[..<end.lowerBound].split(separator: "\r\n")
        guard let first = lines.first, first.hasPrefix("HTTP/1.1 "), let status = Int(first.dropFirst(9).prefix(3)) else {
            throw TestFailure("not an HTTP response: \(text.prefix(200).debugDescription)")
        }
        var headers: [String: String] = [:]
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...].drop { $0 == " " })
        }
        return (status, headers, String(text[end.upperBound...]))
    }
}
