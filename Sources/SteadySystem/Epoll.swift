import Glibc
import CShim

/// One epoll instance: the supervisor's and each worker's single event loop waits here.
public final class Epoll {
    public let fd: Descriptor

    public init() throws(SystemError) {
        fd = Descriptor(try syscall("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) })
    }

    /// Watches `watched` for input (and hang-up), tagged with `token`.
    public func add(_ watched: Int32, token: UInt64, writable: Bool = false) throws(SystemError) {
        var ev = Self.event(token: token, writable: writable)
        _ = try syscall("epoll_ctl(ADD)") { epoll_ctl(fd.raw, EPOLL_CTL_ADD, watched, &ev) }
    }

    /// Turns interest in output on or off for a watched descriptor.
    public func modify(_ watched: Int32, token: UInt64, writable: Bool) throws(SystemError) {
        var ev = Self.event(token: token, writable: writable)
        _ = try syscall("epoll_ctl(MOD)") { epoll_ctl(fd.raw, EPOLL_CTL_MOD, watched, &ev) }
    }

    private static func event(token: UInt64, writable: Bool) -> epoll_event {
        var ev = epoll_event()
        ev.events = EPOLLIN.rawValue | EPOLLRDHUP.rawValue | (writable ? EPOLLOUT.rawValue : 0)
        ev.data.u64 = token
        return ev
    }

    public func remove(_ watched: Int32) {
        var ev = epoll_event()
        _ = epoll_ctl(fd.raw, EPOLL_CTL_DEL, watched, &ev)
    }

    /// Waits up to `timeoutMillis` (-1: forever) and returns the ready tokens.
    public func wait(timeoutMillis: Int32, max: Int = 64) throws(SystemError) -> [UInt64] {
        try waitEvents(timeoutMillis: timeoutMillis, max: max).map(\.token)
    }

    /// As `wait`, with each token's ready events (EPOLLIN, EPOLLOUT, EPOLLRDHUP, ...).
    public func waitEvents(timeoutMillis: Int32, max: Int = 64) throws(SystemError) -> [(token: UInt64, events: UInt32)] {
        var events = [epoll_event](repeating: epoll_event(), count: max)
        let n = try syscall("epoll_wait") { epoll_wait(fd.raw, &events, Int32(max), timeoutMillis) }
        return (0..<Int(n)).map { (events[$0].data.u64, events[$0].events) }
    }
}

/// Signals delivered as readable events instead of handlers: blocked for the process, read
/// from a signalfd in the event loop.
public final class SignalChannel {
    public let fd: Descriptor

    public init(signals: [Int32]) throws(SystemError) {
        fd = Descriptor(try syscall("signalfd") { signals.withUnsafeBufferPointer { steady_signalfd_block($0.baseAddress, Int32($0.count)) } })
    }

    /// The pending signals, oldest first.
    public func drain() throws(SystemError) -> [Int32] {
        var out: [Int32] = []
        while true {
            var signo: UInt32 = 0
            guard try syscallNonBlocking("read(signalfd)", { steady_signalfd_read(fd.raw, &signo) }) != nil else { break }
            out.append(Int32(signo))
        }
        return out
    }
}

/// A monotonic one-shot timer descriptor.
public final class Timer {
    public let fd: Descriptor

    public init() throws(SystemError) {
        fd = Descriptor(try syscall("timerfd_create") { steady_timerfd_create() })
    }

    /// Fires once after `millis` (0: at once; negative: disarm).
    public func arm(millis: Int64) throws(SystemError) {
        _ = try syscall("timerfd_settime") { steady_timerfd_arm_ms(fd.raw, millis) }
    }

    public func acknowledge() {
        var count: UInt64 = 0
        _ = Glibc.read(fd.raw, &count, 8)
    }
}
