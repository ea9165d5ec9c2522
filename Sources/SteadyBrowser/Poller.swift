import Glibc
import CShim
import SteadyCore
import SteadySystem

/// The pool's own epoll set. The worker loop watches its one descriptor (readable whenever
/// any descriptor inside is), so browsers can come and go without the loop re-registering
/// anything. Also a queue of work posted for "the next turn", which keeps callbacks from
/// re-entering the code that triggered them.
public final class Poller {
    public let fd: Descriptor
    private var handlers: [UInt64: (UInt32) -> Void] = [:]
    private var tokens: [Int32: UInt64] = [:]
    private var nextToken: UInt64 = 1
    private var posted: [() -> Void] = []

    public init() throws(SystemError) {
        fd = Descriptor(try syscall("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) })
    }

    /// Watches `watched` for input and hang-up (and output when `writable`).
    public func register(_ watched: Int32, writable: Bool = false, _ handler: @escaping (UInt32) -> Void) throws(SystemError) {
        let token = nextToken
        nextToken += 1
        var ev = epoll_event()
        ev.events = Self.mask(writable)
        ev.data.u64 = token
        _ = try syscall("epoll_ctl(ADD)") { epoll_ctl(fd.raw, EPOLL_CTL_ADD, watched, &ev) }
        handlers[token] = handler
        tokens[watched] = token
    }

    /// Turns interest in output on or off for a registered descriptor.
    public func setWritable(_ watched: Int32, _ on: Bool) {
        guard let token = tokens[watched] else { return }
        var ev = epoll_event()
        ev.events = Self.mask(on)
        ev.data.u64 = token
        _ = epoll_ctl(fd.raw, EPOLL_CTL_MOD, watched, &ev)
    }

    public func unregister(_ watched: Int32) {
        guard let token = tokens.removeValue(forKey: watched) else { return }
        handlers[token] = nil
        var ev = epoll_event()
        _ = epoll_ctl(fd.raw, EPOLL_CTL_DEL, watched, &ev)
    }

    private static func mask(_ writable: Bool) -> UInt32 {
        EPOLLIN.rawValue | EPOLLRDHUP.rawValue | (writable ? EPOLLOUT.rawValue : 0)
    }

    /// Runs `work` on the next `dispatch`, after the current callback has returned.
    public func post(_ work: @escaping () -> Void) { posted.append(work) }

    public var hasPosted: Bool { !posted.isEmpty }

    public var registeredCount: Int { tokens.count }

    /// Handles what is ready now (never blocks), then the posted work.
    public func dispatch() {
        var events = [epoll_event](repeating: epoll_event(), count: 64)
        let n = epoll_wait(fd.raw, &events, Int32(events.count), 0)
        if n > 0 {
            for i in 0..<Int(n) {
                // A handler may have unregistered a later one in this batch.
                if let handler = handlers[events[i].data.u64] { handler(events[i].events) }
            }
        }
        runPosted()
    }

    public func runPosted() {
        var rounds = 0
        while !posted.isEmpty && rounds < 64 {
            let work = posted
            posted.removeAll()
            for w in work { w() }
            rounds += 1
        }
    }

    /// Waits up to `timeoutMillis` for the set to have something ready (for loops that drive
    /// the pool themselves, like the tests); true when it has.
    public func wait(timeoutMillis: Int32) -> Bool {
        var pfd = pollfd(fd: fd.raw, events: Int16(POLLIN), revents: 0)
        return Glibc.poll(&pfd, 1, timeoutMillis) > 0
    }
}
