import Glibc
import CShim
import SteadyCore
import SteadySystem

/// The pool's own epoll set. The worker loop watches its one descriptor (readable whenever
/// any descriptor inside is), so browsers can come and go without the loop re-registering
/// anything. Also a queue of work posted for "the next turn", which keeps callbacks from
/// re-entering the code that triggered them.
public final class Poller {
    private let epoll: Epoll
    public var fd: Descriptor { epoll.fd }
    private var handlers: [UInt64: (UInt32) -> Void] = [:]
    private var tokens: [Int32: UInt64] = [:]
    private var nextToken: UInt64 = 1
    private var posted: [() -> Void] = []

    public init() throws(SystemError) {
        epoll = try Epoll()
    }

    /// Watches `watched` for input and hang-up (and output when `writable`).
    public func register(_ watched: Int32, writable: Bool = false, _ handler: @escaping (UInt32) -> Void) throws(SystemError) {
        let token = nextToken
        nextToken += 1
        try epoll.add(watched, token: token, writable: writable)
        handlers[token] = handler
        tokens[watched] = token
    }

    /// Turns interest in output on or off for a registered descriptor.
    public func setWritable(_ watched: Int32, _ on: Bool) {
        guard let token = tokens[watched] else { return }
        try? epoll.modify(watched, token: token, writable: on)
    }

    public func unregister(_ watched: Int32) {
        guard let token = tokens.removeValue(forKey: watched) else { return }
        handlers[token] = nil
        epoll.remove(watched)
    }

    /// Runs `work` on the next `dispatch`, after the current callback has returned.
    public func post(_ work: @escaping () -> Void) { posted.append(work) }

    public var hasPosted: Bool { !posted.isEmpty }

    public var registeredCount: Int { tokens.count }

    /// Handles what is ready now (never blocks), then the posted work.
    public func dispatch() {
        for (token, events) in (try? epoll.waitEvents(timeoutMillis: 0)) ?? [] {
            // A handler may have unregistered a later one in this batch.
            if let handler = handlers[token] { handler(events) }
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
