import Glibc
import Logging
import CShim
import SteadyConfig
import SteadyCore
import SteadyProtocol
import SteadySystem

/// The lifecycle every worker process runs: hello, ready, a heartbeat per interval from the
/// same loop that does the work (a stuck loop stops its heartbeats, which is the point),
/// drain on request or SIGTERM, and exit when the supervisor goes away.
public final class WorkerRuntime {
    public static let socketFd: Int32 = 3

    let role: Role
    let settings: WorkerConfig
    let job: any WorkerRole
    let logger: Logger
    let socket: Descriptor
    let epoll: Epoll
    let signals: SignalChannel
    let heartbeatTimer: Timer
    var decoder = FrameDecoder()
    let receiver = MessageReceiver(maxMessage: Frame.maxSocketMessage)
    var sequence: UInt64 = 0
    var drainDeadline: Int64?
    var exitCode: Int32?
    /// Requests the role answered `.deferred`: correlation → deadline (0: none).
    var deferred: [UInt64: Int64] = [:]
    /// Descriptors received with the first piece of a frame not yet whole.
    var incoming: [Descriptor] = []
    /// Requests this worker sends to other roles through the supervisor.
    public let outbox: WorkerOutbox
    /// Test-only methods (`relay`) answered, from `daemon.allow_fault_injection`.
    let allowTestMethods: Bool

    enum Token {
        static let socket: UInt64 = 1
        static let signals: UInt64 = 2
        static let heartbeat: UInt64 = 3
        static let outbox: UInt64 = 4
        /// Tokens from here on are the role's own descriptors.
        static let roleBase: UInt64 = 100
    }

    public init(role: Role, settings: WorkerConfig, job: any WorkerRole, logger: Logger,
                socketFd: Int32 = WorkerRuntime.socketFd, allowTestMethods: Bool = false) throws {
        self.role = role
        self.allowTestMethods = allowTestMethods
        self.settings = settings
        self.job = job
        self.logger = logger
        // The supervisor's socket must be there before this process opens anything else.
        var st = stat()
        guard fstat(socketFd, &st) == 0, (st.st_mode & S_IFMT) == S_IFSOCK else {
            throw WorkerStartError(message: "fd \(socketFd) is not the supervisor's socket: workers are started by `steadypostd run`, not by hand")
        }
        signals = try SignalChannel(signals: [SIGTERM, SIGINT, SIGHUP])
        signal(SIGPIPE, SIG_IGN)
        // If the supervisor dies, we hear SIGTERM (through the signalfd) and drain.
        _ = steady_set_pdeathsig(SIGTERM)
        socket = Descriptor(socketFd)
        _ = fcntl(socketFd, F_SETFD, FD_CLOEXEC)
        try socket.setNonBlocking()
        epoll = try Epoll()
        heartbeatTimer = try Timer()
        try epoll.add(socket.raw, token: Token.socket)
        try epoll.add(signals.fd.raw, token: Token.signals)
        try epoll.add(heartbeatTimer.fd.raw, token: Token.heartbeat)
        outbox = try WorkerOutbox()
        try epoll.add(outbox.inbox.readFd, token: Token.outbox)
    }

    /// Runs until drained, told to shut down, or orphaned; returns the exit code.
    public func run() -> Int32 {
        guard getppid() != 1 else {
            logger.error("started without a supervisor (parent is init); exiting")
            return 1
        }
        do {
            try send(.hello(Hello(role: role, pid: getpid(), version: SteadyVersion.current)))
            try send(.ready(Ready(summary: job.summary)))
            try sendHeartbeat()
        } catch {
            logger.error("cannot reach the supervisor: \(error)")
            return 1
        }
        logger.info("ready: \(job.summary)")
        job.start(context: WorkerContext(logger: logger, replies: WorkerReplies { [unowned self] correlation, reply in
            self.answerDeferred(correlation: correlation, reply)
        }, outbox: outbox))
        var watched: [Int32: UInt64] = [:]
        for (i, fd) in job.watchedDescriptors.enumerated() {
            let token = Token.roleBase + UInt64(i)
            do { try epoll.add(fd, token: token) } catch {
                logger.critical("cannot watch the role's descriptor \(fd): \(error)")
                return 1
            }
            watched[fd] = token
        }
        let byToken = Dictionary(uniqueKeysWithValues: watched.map { ($1, $0) })
        while exitCode == nil {
            let tokens: [UInt64]
            do { tokens = try epoll.wait(timeoutMillis: waitTimeout()) } catch {
                logger.critical("epoll_wait failed: \(error)")
                return 1
            }
            for token in tokens {
                switch token {
                case Token.socket: readSupervisor()
                case Token.signals: handleSignals()
                case Token.outbox: break // flushed below, every turn
                case Token.heartbeat:
                    heartbeatTimer.acknowledge()
                    do { try sendHeartbeat() } catch {
                        logger.error("heartbeat failed, supervisor gone: \(error)")
                        exitCode = 0
                    }
                default:
                    if let fd = byToken[token] { job.readable(fd) }
                }
            }
            let now = SteadyClock.monotonicMillis()
            job.tick(now: now)
            flushOutbox(now: now)
            forgetExpiredDeferred(now: now)
            checkDrain()
        }
        outbox.close(reason: "the \(role.rawValue) worker is exiting")
        return exitCode ?? 0
    }

    /// Sends the requests queued since the last turn; fails those past their deadline.
    func flushOutbox(now: Int64) {
        outbox.flush(now: now) { method, body, correlation, deadline in
            try write(try Message.request(method: method, body: body).encoded(correlation: correlation, deadline: deadline),
                      deadlineMillis: now + 1000)
        }
        outbox.expire(now: now)
    }

    func waitTimeout() -> Int32 {
        let next = [drainDeadline, job.wakeAt, outbox.nextDeadline].compactMap { $0 }.min()
        guard let next else { return -1 }
        return Int32(clamping: max(0, next - SteadyClock.monotonicMillis()))
    }

    func send(_ message: Message, correlation: UInt64 = 0) throws {
        try write(try message.encoded(correlation: correlation), deadlineMillis: SteadyClock.monotonicMillis() + 1000)
    }

    /// One encoded frame to the supervisor, in `Frame.socketPiece` messages.
    func write(_ bytes: [UInt8], deadlineMillis: Int64) throws(SystemError) {
        var sent = 0
        try socket.sendPieces(bytes, piece: Frame.socketPiece, deadlineMillis: deadlineMillis, sent: &sent)
    }

    func sendHeartbeat() throws {
        sequence += 1
        var counters = job.counters
        counters["heartbeats"] = Int64(sequence)
        try send(.heartbeat(Heartbeat(
            sequence: sequence, rssBytes: ProcessStats.residentBytes(), openFds: ProcessStats.openDescriptors(),
            inFlight: job.inFlight, counters: counters)))
        try heartbeatTimer.arm(millis: settings.heartbeatIntervalMs)
    }

    func readSupervisor() {
        while exitCode == nil {
            let received: MessageReceiver.Received?
            var passed = DescriptorPassing.Received()
            do { received = try receiver.receive(socket, maxDescriptors: DescriptorPassing.maxPerFrame, passed: &passed) } catch {
                logger.error("supervisor socket: \(error); exiting")
                exitCode = 1
                return
            }
            switch received {
            case nil:
                return
            case .endOfStream?:
                logger.notice("supervisor closed the socket; exiting")
                exitCode = 0
                return
            case .truncated(let size)?:
                logger.error("protocol error from supervisor: a \(size)-byte message exceeds the \(Frame.maxSocketMessage)-byte bound; exiting")
                exitCode = 1
                return
            case .message(let bytes)?:
                if passed.truncated {
                    logger.warning("the supervisor sent more than \(DescriptorPassing.maxPerFrame) descriptors with a frame; the rest were closed")
                }
                if !passed.descriptors.isEmpty { takePassed(passed.descriptors) }
                decoder.feed(bytes)
            }
            do {
                while let frame = try decoder.next() {
                    let descriptors = incoming
                    incoming = []
                    try handle(Message(frame), frame: frame, descriptors: descriptors)
                }
            } catch {
                logger.error("protocol error from supervisor: \(error); exiting")
                exitCode = 1
                return
            }
        }
    }

    /// Descriptors that came with a message: the supervisor attaches them to a frame's first
    /// piece, so they belong to the frame that starts with it. Any that arrive mid-frame (or
    /// with no message) are closed.
    func takePassed(_ descriptors: [Descriptor]) {
        if decoder.pendingBytes == 0 && incoming.isEmpty {
            incoming = descriptors
        } else {
            logger.warning("\(descriptors.count) descriptor(s) arrived inside a frame, not at its start; closed them")
            for d in descriptors { d.close() }
        }
    }

    func handle(_ message: Message, frame: Frame, descriptors: [Descriptor] = []) throws {
        // Closed once handled, unless the role deferred its answer: then they are its own
        // (a copy on another thread), closed when it lets them go.
        var kept = false
        defer { if !kept { for d in descriptors { d.close() } } }
        switch message {
        case .drain:
            startDrain(deadline: frame.deadline > 0 ? frame.deadline : SteadyClock.monotonicMillis() + settings.drainTimeoutMs, why: "drain requested")
        case .shutdown:
            logger.notice("shutdown requested")
            exitCode = 0
        case .request(let method, let body):
            do {
                kept = try handleRequest(method: method, body: body, frame: frame, descriptors: descriptors)
            } catch let error as SystemError {
                throw error
            } catch {
                // A request this worker cannot take (a malformed body) is answered, never an exit.
                try sendReply(.error(code: "invalid", message: "\(method): \(error)"), correlation: frame.correlation)
            }
        case .response(let status, let body):
            if status == "ok" {
                outbox.answer(correlation: frame.correlation, .ok(body))
            } else {
                let err = (try? JSONCoding.decode(ErrorBody.self, body, type: "error")) ?? ErrorBody(code: "error", message: "refused without a reason")
                outbox.answer(correlation: frame.correlation, .error(code: err.code, message: err.message))
            }
        case .event:
            break
        case .hello, .ready, .heartbeat:
            throw ProtocolError.unexpected("\(message.type) is sent by workers, not to them")
        }
    }

    /// One request from the supervisor. `ping` echoes (the benchmarks' round trip); `relay`
    /// and `fault` exist for tests and answer only with `daemon.allow_fault_injection` (the
    /// supervisor forwards any `ROLE.method`, so the switch is checked here, where it acts);
    /// the rest go to the role.
    /// Returns whether the role kept `descriptors` (it deferred its answer).
    @discardableResult
    func handleRequest(method: String, body: [UInt8], frame: Frame, descriptors: [Descriptor] = []) throws -> Bool {
        let correlation = frame.correlation
        switch method {
        case "ping":
            try send(.response(status: "ok", body: body), correlation: correlation)
        case "relay" where !allowTestMethods, "fault" where !allowTestMethods:
            try sendReply(.error(code: "forbidden", message: "\(method) is a test method, answered only with daemon.allow_fault_injection = true"),
                          correlation: correlation)
        case "relay":
            // Send the request in the body through the outbox and answer with its result, so
            // tests can prove worker-to-worker routing end to end.
            let relay = try JSONCoding.decode(RelayRequest.self, body, type: "relay")
            deferred[correlation] = frame.deadline
            outbox.send(relay.method, body: Array(relay.body.utf8), timeoutMs: relay.timeout_ms ?? 5000) { [unowned self] result in
                switch result {
                case .ok(let bytes): _ = answerDeferred(correlation: correlation, .ok(bytes))
                case .error(let code, let message): _ = answerDeferred(correlation: correlation, .error(code: code, message: message))
                }
            }
        case "fault":
            let request = try JSONCoding.decode(FaultRequest.self, body, type: "fault")
            try send(.response(status: "ok", body: []), correlation: correlation)
            FaultInjection.trigger(request.kind, logger: logger)
        default:
            guard let reply = job.handle(request: WorkerRequest(method: method, body: body, correlation: correlation, deadline: frame.deadline,
                                                                descriptors: descriptors)) else {
                try sendReply(.error(code: "unsupported", message: "\(role.rawValue) has no method \(method)"), correlation: correlation)
                return false
            }
            if case .deferred = reply {
                deferred[correlation] = frame.deadline
                return true
            } else {
                try sendReply(reply, correlation: correlation)
            }
        }
        return false
    }

    /// Sends an answer. One too large for a frame goes as a `too-large` error instead: the
    /// asker hears why, and this worker lives on.
    func sendReply(_ reply: WorkerReply, correlation: UInt64) throws {
        switch reply {
        case .ok(let out):
            let bytes: [UInt8]
            do { bytes = try Message.response(status: "ok", body: out).encoded(correlation: correlation) } catch {
                logger.error("an answer of \(out.count) bytes is over the \(Frame.maxLength)-byte frame bound; answering too-large")
                try sendReply(.error(code: "too-large", message: "the answer (\(out.count) bytes) exceeds the \(Frame.maxLength)-byte frame bound: ask for fewer"),
                              correlation: correlation)
                return
            }
            try write(bytes, deadlineMillis: SteadyClock.monotonicMillis() + 1000)
        case .error(let code, let message):
            try send(.response(status: "error", body: JSONCoding.encode(ErrorBody(code: code, message: message))), correlation: correlation)
        case .deferred:
            break
        }
    }

    /// A deferred answer from the role: sent once, only for a correlation still pending.
    func answerDeferred(correlation: UInt64, _ reply: WorkerReply) -> Bool {
        guard deferred.removeValue(forKey: correlation) != nil else { return false }
        do { try sendReply(reply, correlation: correlation) } catch {
            logger.error("cannot send a deferred answer, supervisor gone: \(error)")
            exitCode = 0
        }
        return true
    }

    /// The asker stopped waiting at the deadline (the supervisor answered `timeout`); a grace
    /// second later the entry goes, so the table stays bounded whatever the role does.
    func forgetExpiredDeferred(now: Int64) {
        guard !deferred.isEmpty else { return }
        for (correlation, deadline) in deferred where deadline > 0 && now >= deadline + 1000 {
            deferred[correlation] = nil
        }
    }

    func handleSignals() {
        guard let received = try? signals.drain() else { return }
        for sig in received where sig == SIGTERM || sig == SIGINT {
            startDrain(deadline: SteadyClock.monotonicMillis() + settings.drainTimeoutMs, why: "\(signalName(sig)) received")
        }
    }

    func startDrain(deadline: Int64, why: String) {
        guard drainDeadline == nil else { return }
        drainDeadline = deadline
        logger.info("\(why): draining (\(job.inFlight) in flight)")
        job.beginDrain()
    }

    func checkDrain() {
        guard let deadline = drainDeadline, exitCode == nil else { return }
        if job.drained {
            logger.info("drained; exiting")
            exitCode = 0
        } else if SteadyClock.monotonicMillis() >= deadline {
            logger.warning("drain deadline passed with \(job.inFlight) in flight; exiting")
            exitCode = 0
        }
    }
}

/// The test-only `relay` method's body: a request to send on through the outbox.
struct RelayRequest: Codable {
    var method: String
    /// Sent as UTF-8 bytes (JSON for most methods).
    var body: String
    var timeout_ms: Int64?
}

public struct WorkerStartError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}
