import Foundation
import Glibc

/// What a raw HTTP/1.1 exchange over loopback ended with.
enum RawOutcome: Sendable {
    case response(status: Int, headers: [(String, String)], body: String)
    /// The server closed the connection (EOF or reset) without sending a byte.
    case closedWithoutResponse
    /// Nothing complete arrived before the deadline.
    case timedOut
    case failed(String)

    var status: Int? {
        if case .response(let status, _, _) = self { return status }
        return nil
    }

    var body: String? {
        if case .response(_, _, let body) = self { return body }
        return nil
    }
}

/// A minimal HTTP/1.1 client on a plain socket, for what HummingbirdTesting's client cannot
/// observe: a connection closed without a response, and a response held past a timeout. Each
/// exchange runs on its own thread, so blocking reads never hold a concurrency-pool thread.
enum RawHTTP {
    static func request(
        port: Int, method: String, path: String, headers: [(String, String)] = [], body: String? = nil,
        timeoutMs: Int
    ) async -> RawOutcome {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                continuation.resume(
                    returning: blocking(
                        port: port, method: method, path: path, headers: headers, body: body, timeoutMs: timeoutMs))
            }
        }
    }

    private static func blocking(
        port: Int, method: String, path: String, headers: [(String, String)], body: String?, timeoutMs: Int
    ) -> RawOutcome {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return .failed("socket: \(errno)") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = UInt32(0x7F00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { return .failed("connect: \(errno)") }

        let payload = Array((body ?? "").utf8)
        var head = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(payload.count)\r\n\r\n"
        let bytes = Array(head.utf8) + payload
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { return .failed("send: \(errno)") }
            sent += n
        }

        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        var received: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let remaining = deadline.timeIntervalSinceNow
            if remaining <= 0 { return .timedOut }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let ready = poll(&pfd, 1, Int32(max(1, remaining * 1000)))
            if ready < 0, errno == EINTR { continue }
            if ready == 0 { return .timedOut }
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n > 0 {
                received += buffer[0..<n]
                if let complete = parse(received) { return complete }
                continue
            }
            if n < 0, errno == EINTR { continue }
            // EOF or reset.
            if received.isEmpty { return .closedWithoutResponse }
            return parse(received, atEOF: true) ?? .failed("truncated response: \(received.count) bytes")
        }
    }

    /// A complete response in `bytes`, or nil while more is needed.
    private static func parse(_ bytes: [UInt8], atEOF: Bool = false) -> RawOutcome? {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let headEnd = bytes.indices.dropLast(3).first(where: { Array(bytes[$0..<($0 + 4)]) == separator }) else {
            return nil
        }
        let head = String(decoding: bytes[..<headEnd], as: UTF8.self)
        var lines = head.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ")
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { return .failed("bad status line") }
        var headers: [(String, String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(
                (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        let bodyBytes = Array(bytes[(headEnd + 4)...])
        if let length = headers.first(where: { $0.0 == "content-length" }).flatMap({ Int($0.1) }) {
            guard bodyBytes.count >= length else { return atEOF ? .failed("short body") : nil }
            return .response(status: status, headers: headers, body: String(decoding: bodyBytes[..<length], as: UTF8.self))
        }
        return atEOF ? .response(status: status, headers: headers, body: String(decoding: bodyBytes, as: UTF8.self)) : nil
    }
}
