import Glibc
import Synchronization

/// A tiny HTTP/1.1 server on 127.0.0.1 for client tests: one thread (a pthread, not the
/// Swift cooperative pool), connections served one after the other, each request answered by
/// the next scripted action. It records every connection and request. `stop()` wakes the
/// thread through a pipe, joins it and closes every descriptor.
public final class ScriptedServer: Sendable {
    public enum Action: Sendable {
        /// A complete response; the connection stays open for the next request.
        case respond(status: Int, headers: [String], body: [UInt8])
        /// A response without Content-Length, chunked, of `size` bytes.
        case respondChunked(size: Int)
        /// Reads the request, then closes the connection without a byte of response.
        case closeWithoutResponse
        /// Reads the request, then resets the connection (RST).
        case reset
        /// Reads the request and sends nothing until the client goes away (or `stop()`).
        case hold
    }

    public struct Request: Sendable {
        public var connection: Int
        public var method: String
        public var path: String
        public var headers: [String]
        public var body: [UInt8]

        public func header(_ name: String) -> String? {
            let prefix = name.lowercased() + ":"
            for h in headers where h.lowercased().hasPrefix(prefix) {
                return String(h.dropFirst(prefix.count)).trimmingCharacters(in: " ")
            }
            return nil
        }
    }

    private struct State {
        var script: [Action]
        var connections = 0
        var requests: [Request] = []
    }

    public let port: Int
    private let listenFd: Int32
    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let state: Mutex<State>
    private let thread: Mutex<pthread_t?> = Mutex(nil)

    public init(script: [Action], backlog: Int32 = 16) throws {
        state = Mutex(State(script: script))
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket: errno \(errno)") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard bound == 0, listen(fd, backlog) == 0 else {
            close(fd)
            throw TestFailure("bind/listen: errno \(errno)")
        }
        port = localPort(fd)
        listenFd = fd
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw TestFailure("pipe: errno \(errno)") }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        wakeRead = fds[0]
        wakeWrite = fds[1]
        let box = Unmanaged.passRetained(self).toOpaque()
        var tid = pthread_t()
        let rc = pthread_create(&tid, nil, { arg in
            let server = Unmanaged<ScriptedServer>.fromOpaque(arg!).takeRetainedValue()
            server.serve()
            return nil
        }, box)
        guard rc == 0 else {
            Unmanaged<ScriptedServer>.fromOpaque(box).release()
            throw TestFailure("pthread_create: \(rc)")
        }
        thread.withLock { $0 = tid }
    }

    public var url: String { "http://127.0.0.1:\(port)" }
    public var connectionCount: Int { state.withLock { $0.connections } }
    public var requests: [Request] { state.withLock { $0.requests } }

    public func stop() {
        guard let tid = thread.withLock({ t -> pthread_t? in
            let v = t
            t = nil
            return v
        }) else { return }
        var b: UInt8 = 1
        _ = write(wakeWrite, &b, 1)
        pthread_join(tid, nil)
        close(listenFd)
        close(wakeRead)
        close(wakeWrite)
    }

    /// Waits for `fd` or the wake pipe; false when woken (stop requested).
    private func wait(_ fd: Int32) -> Bool {
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0)]
        while true {
            let n = poll(&fds, 2, -1)
            if n < 0 && errno == EINTR { continue }
            return fds[1].revents == 0
        }
    }

    private func serve() {
        while wait(listenFd) {
            let conn = accept(listenFd, nil, nil)
            if conn < 0 { continue }
            let index = state.withLock { s -> Int in
                s.connections += 1
                return s.connections
            }
            serveConnection(conn, index: index)
        }
    }

    private func serveConnection(_ conn: Int32, index: Int) {
        var buffer: [UInt8] = []
        defer { close(conn) }
        while true {
            guard let request = readRequest(conn, index: index, buffer: &buffer) else { return }
            let action = state.withLock { s -> Action in
                s.requests.append(request)
                return s.script.isEmpty ? .respond(status: 599, headers: [], body: Array("script exhausted".utf8)) : s.script.removeFirst()
            }
            switch action {
            case .respond(let status, let headers, let body):
                var head = "HTTP/1.1 \(status) X\r\nContent-Length: \(body.count)\r\n"
                for h in headers { head += h + "\r\n" }
                head += "\r\n"
                guard sendAll(conn, Array(head.utf8) + body) else { return }
            case .respondChunked(let size):
                var out = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
                var left = size
                while left > 0 {
                    let n = min(left, 8192)
                    out += Array((String(n, radix: 16) + "\r\n").utf8) + [UInt8](repeating: 65, count: n) + Array("\r\n".utf8)
                    left -= n
                }
                out += Array("0\r\n\r\n".utf8)
                _ = sendAll(conn, out)
            case .closeWithoutResponse:
                return
            case .reset:
                var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
                setsockopt(conn, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
                return
            case .hold:
                // Until the client closes (readable with EOF) or stop().
                var scratch = [UInt8](repeating: 0, count: 4096)
                while wait(conn) {
                    let n = recv(conn, &scratch, scratch.count, 0)
                    if n <= 0 { return }
                }
                return
            }
        }
    }

    private func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            off += n
        }
        return true
    }

    private func readRequest(_ fd: Int32, index: Int, buffer: inout [UInt8]) -> Request? {
        var chunk = [UInt8](repeating: 0, count: 65536)
        func fill() -> Bool {
            guard wait(fd) else { return false }
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return false }
            buffer += chunk[0..<n]
            return true
        }
        var headerEnd: Int?
        while headerEnd == nil {
            headerEnd = findHeaderEnd(buffer)
            if headerEnd == nil && !fill() { return nil }
        }
        let head = String(decoding: buffer[0..<headerEnd!], as: UTF8.self)
        var lines = head.components("\r\n")
        let requestLine = lines.removeFirst().split(separator: " ")
        let length = lines.compactMap { line -> Int? in
            line.lowercased().hasPrefix("content-length:") ? Int(line.dropFirst(15).trimmingCharacters(in: " ")) : nil
        }.first ?? 0
        let bodyStart = headerEnd! + 4
        while buffer.count < bodyStart + length {
            if !fill() { return nil }
        }
        let body = Array(buffer[bodyStart..<bodyStart + length])
        buffer.removeFirst(bodyStart + length)
        return Request(connection: index, method: requestLine.count > 0 ? String(requestLine[0]) : "",
                       path: requestLine.count > 1 ? String(requestLine[1]) : "", headers: lines.filter { !$0.isEmpty }, body: body)
    }

    private func findHeaderEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }
}

public func localPort(_ fd: Int32) -> Int {
    var addr = sockaddr_in()
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
}

extension String {
    public func components(_ separator: String) -> [String] {
        var out: [String] = []
        var rest = Substring(self)
        while let r = rest.firstRange(of: separator) {
            out.append(String(rest[..<r.lowerBound]))
            rest = rest[r.upperBound...]
        }
        out.append(String(rest))
        return out
    }
}

extension StringProtocol {
    public func trimmingCharacters(in set: Character) -> String {
        var s = Substring(self)
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return String(s)
    }
}
