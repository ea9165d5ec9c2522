import HummingbirdCore
import Logging
import NIOCore
import SteadyCore
import Synchronization

/// Every open HTTP connection of the api worker, with the two limits that keep silent
/// clients from locking everyone else out:
///
/// - **a cap** (`limit`, below the worker's descriptor limit): a connection accepted past
///   it closes the connection that has been idle longest (no request in flight), or, when
///   every other connection is busy, itself at once. The server never runs out of
///   descriptors (EMFILE would stop every accept), and a newcomer with a request to make
///   wins over a crowd of silent ones.
/// - **a header timeout**: from connecting, and on a kept-alive connection from the first
///   byte of the next request, the request's head must be complete within `headerTimeout`;
///   else the connection is closed. (Hummingbird's own idle timeout closes a connection
///   with nothing in flight after `api.idle_timeout`.)
///
/// Safe from any thread: the byte-level handler (`ConnectionGuard`) calls it on the
/// connection's event loop, the responder from Swift concurrency's executor.
final class Connections: Sendable {
    struct Entry {
        let channel: any Channel
        /// A request's head has arrived and its response is not written yet.
        var busy = false
        /// Closing on our decision (evicted, header timeout): neither counted nor chosen again.
        var closing = false
        /// When the connection last became idle (a tick of `State.clock`): the smallest is
        /// evicted first.
        var idleSince: UInt64
        var headerTimer: Scheduled<Void>?
        /// The request in flight has no body, so bytes arriving while it is answered are the
        /// next request's head.
        var bodiless = false
        /// Bytes of the next head arrived while the request was still answered (the client
        /// read the answer before `requestFinished`): its header timer starts at the finish.
        var nextHeadWaiting = false
    }

    struct State {
        var entries: [ObjectIdentifier: Entry] = [:]
        var open = 0
        var clock: UInt64 = 0
        var accepted: Int64 = 0
        var evicted: Int64 = 0
        var refused: Int64 = 0
        var headerTimeouts: Int64 = 0
        var peak = 0
        /// When the cap last made us say so (monotonic ms), so a flood logs once a minute.
        var lastNoticeAt: Int64?
    }

    let limit: Int
    let headerTimeout: TimeAmount
    private let logger: Logger
    private let state = Mutex(State())

    init(limit: Int, headerTimeoutMs: Int64, logger: Logger) {
        self.limit = max(1, limit)
        self.headerTimeout = .milliseconds(headerTimeoutMs)
        self.logger = logger
    }

    /// A connection was accepted: counted, its header timer started, and the cap enforced.
    func opened(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let now = SteadyClock.monotonicMillis()
        let (decision, notice) = state.withLock { s -> (Decision, (evicted: Int64, refused: Int64)?) in
            let decision = decide(&s, id, channel)
            guard decision.closesSomething, now - (s.lastNoticeAt ?? now - 60_000) >= 60_000 else { return (decision, nil) }
            s.lastNoticeAt = now
            return (decision, (s.evicted, s.refused))
        }
        if let notice {
            logger.notice("at the HTTP connection cap (\(limit)): closing the connections idle longest, or new ones when all are busy",
                          metadata: ["http.connections_evicted_total": "\(notice.evicted)", "http.connections_refused_total": "\(notice.refused)"])
        }
        switch decision {
        case .refuse:
            logger.debug("closing a new HTTP connection: \(limit) open and every one is busy")
            channel.close(promise: nil)
            return
        case .evict(let victim):
            victim.close(promise: nil)
        case .keep:
            break
        }
        startHeaderTimer(id, channel)
    }

    private enum Decision {
        case keep, evict(any Channel), refuse
        var closesSomething: Bool { if case .keep = self { false } else { true } }
    }

    /// Counts the new connection in, or picks who goes: the connection idle longest, else
    /// the newcomer.
    private func decide(_ s: inout State, _ id: ObjectIdentifier, _ channel: any Channel) -> Decision {
        s.accepted += 1
        s.clock += 1
        guard s.open >= limit else {
            s.entries[id] = Entry(channel: channel, idleSince: s.clock)
            s.open += 1
            s.peak = max(s.peak, s.open)
            return .keep
        }
        // At the cap: the connection idle longest makes room, else the newcomer goes.
        let victim = s.entries.filter { !$0.value.busy && !$0.value.closing }.min { $0.value.idleSince < $1.value.idleSince }
        guard let (victimId, entry) = victim else {
            s.refused += 1
            return .refuse
        }
        s.entries[victimId]?.closing = true
        s.entries[victimId]?.headerTimer = nil
        entry.headerTimer?.cancel()
        s.evicted += 1
        s.entries[id] = Entry(channel: channel, idleSince: s.clock)  // `open` unchanged: one in, one out
        return .evict(entry.channel)
    }

    /// Bytes arrived: if no request is in flight and no header timer runs (a kept-alive
    /// connection starting its next request), the next head has `headerTimeout` to arrive.
    func bytesArrived(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let start = state.withLock { s -> Bool in
            guard let e = s.entries[id], !e.closing, e.headerTimer == nil else { return false }
            if e.busy {
                if e.bodiless { s.entries[id]?.nextHeadWaiting = true }
                return false
            }
            return true
        }
        if start { startHeaderTimer(id, channel) }
    }

    private func startHeaderTimer(_ id: ObjectIdentifier, _ channel: any Channel) {
        let timer = channel.eventLoop.scheduleTask(in: headerTimeout) { [self] in headerTimerFired(id) }
        let keep = state.withLock { s -> Bool in
            guard let e = s.entries[id], !e.busy, !e.closing, e.headerTimer == nil else { return false }
            s.entries[id]?.headerTimer = timer
            return true
        }
        if !keep { timer.cancel() }
    }

    private func headerTimerFired(_ id: ObjectIdentifier) {
        let channel = state.withLock { s -> (any Channel)? in
            guard let e = s.entries[id], !e.busy, !e.closing else { return nil }
            s.entries[id]?.closing = true
            s.entries[id]?.headerTimer = nil
            s.open -= 1
            s.headerTimeouts += 1
            return e.channel
        }
        guard let channel else { return }
        logger.debug("closing an HTTP connection: no complete request head within \(headerTimeout.nanoseconds / 1_000_000) ms")
        channel.close(promise: nil)
    }

    /// The responder has a request's head: the header timer stops; not evictable until
    /// `requestFinished`.
    func requestStarted(_ channel: any Channel, bodiless: Bool) {
        let id = ObjectIdentifier(channel)
        let timer = state.withLock { s -> Scheduled<Void>? in
            guard s.entries[id] != nil else { return nil }
            s.entries[id]?.busy = true
            s.entries[id]?.bodiless = bodiless
            s.entries[id]?.nextHeadWaiting = false
            defer { s.entries[id]?.headerTimer = nil }
            return s.entries[id]?.headerTimer
        }
        timer?.cancel()
    }

    /// The response is written: the connection is idle (and evictable) again.
    func requestFinished(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let nextHead = state.withLock { s -> Bool in
            guard let e = s.entries[id] else { return false }
            s.clock += 1
            s.entries[id]?.busy = false
            s.entries[id]?.idleSince = s.clock
            s.entries[id]?.nextHeadWaiting = false
            return e.nextHeadWaiting
        }
        if nextHead { startHeaderTimer(id, channel) }
    }

    /// The connection is gone (closed by either side).
    func closed(_ channel: any Channel) {
        let id = ObjectIdentifier(channel)
        let timer = state.withLock { s -> Scheduled<Void>? in
            guard let e = s.entries.removeValue(forKey: id) else { return nil }
            // An evicted connection's place was taken by its evictor already; a timed-out
            // one was uncounted when its timer fired.
            if !e.closing { s.open -= 1 }
            return e.headerTimer
        }
        timer?.cancel()
    }

    /// Heartbeat figures: open now, the peak, and what the limits did.
    var counters: [String: Int64] {
        state.withLock { s in
            ["http_connections_open": Int64(s.open), "http_connections_peak": Int64(s.peak),
             "http_connections_accepted": s.accepted, "http_connections_evicted": s.evicted,
             "http_connections_refused": s.refused, "http_header_timeouts": s.headerTimeouts,
             "http_connection_limit": Int64(limit)]
        }
    }
}

/// First in every connection's pipeline, on raw bytes: tells `Connections` when the
/// connection opens, when bytes arrive and when it closes.
final class ConnectionGuard: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let connections: Connections
    private var registered = false

    init(_ connections: Connections) { self.connections = connections }

    private func register(_ context: ChannelHandlerContext) {
        guard !registered else { return }
        registered = true
        connections.opened(context.channel)
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { register(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        register(context)
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        connections.bytesArrived(context.channel)
        context.fireChannelRead(data)
    }

    func channelInactive(context: ChannelHandlerContext) {
        if registered { connections.closed(context.channel) }
        context.fireChannelInactive()
    }
}

/// Hummingbird's HTTP/1 child channel with `ConnectionGuard` in front.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let inner: HTTP1Channel
    let connections: Connections

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let connections = self.connections
        let inner = self.inner
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(ConnectionGuard(connections), position: .first)
        }.flatMap {
            inner.setup(channel: channel, logger: logger)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}
