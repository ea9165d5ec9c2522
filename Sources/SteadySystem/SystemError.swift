import Glibc

/// A failed system call: the call's name and its errno. Carries the cause; prints both.
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    public var call: String
    public var errno: Int32

    public init(_ call: String, errno: Int32) {
        self.call = call
        self.errno = errno
    }

    public var description: String {
        "\(call): \(String(cString: strerror(errno))) (errno \(errno))"
    }
}

/// Every system call goes through here: retried on EINTR, a typed error naming the call
/// otherwise. `close` must not go through here (a retried close can close someone else's fd).
@inline(__always)
public func syscall<T: FixedWidthInteger>(_ name: String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        if result != -1 { return result }
        let err = Glibc.errno
        if err == EINTR { continue }
        throw SystemError(name, errno: err)
    }
}

/// Like `syscall` but EAGAIN/EWOULDBLOCK come back as nil: for non-blocking I/O.
@inline(__always)
public func syscallNonBlocking<T: FixedWidthInteger>(_ name: String, _ body: () -> T) throws(SystemError) -> T? {
    while true {
        let result = body()
        if result != -1 { return result }
        let err = Glibc.errno
        if err == EINTR { continue }
        if err == EAGAIN || err == EWOULDBLOCK { return nil }
        throw SystemError(name, errno: err)
    }
}
