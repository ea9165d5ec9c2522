import Glibc
import Logging
import SteadyConfig
import SteadyCore
import SteadyProtocol
import SteadySystem

/// The supervisor: one thread, one epoll loop over a signalfd, each child's socket and
/// pidfd, and the control socket. Decisions come from each child's `ChildMachine`; this
/// type only performs them (spawn, drain, signal) and feeds back what happened.
public final class Supervisor {
    public struct Options: Sendable {
        /// The executable to run as `EXE worker ROLE` (normally /proc/self/exe).
        public var executable: String
        public var environment: [String: String]
        public var runtimeDir: String
        /// Roles run by an executable of their own (the api worker: `steadypost-api`), started
        /// with the same arguments.
        public var roleExecutables: [Role: String]
        public init(executable: String, environment: [String: String], runtimeDir: String, roleExecutables: [Role: String] = [:]) {
            self.executable = executable
            self.environment = environment
            self.runtimeDir = runtimeDir
            self.roleExecutables = roleExecutables
        }
    }

    let config: Config
    let options: Options
    let logger: Logger
    let epoll: Epoll
    let signals: SignalChannel
    let notifier: SystemdNotifier
    let bulkheads: Bulkheads
    let access: ControlAccess
    var slots: [Role: ChildSlot] = [:]
    var control: ControlServer?
    var pending: [PendingReply] = []
    var routed: [UInt64: RoutedRequest] = [:]
    var nextRouteId: UInt64 = 0
    let startedAt = SteadyClock.monotonicMillis()
    var rng = SystemRandomNumberGenerator()
    let receiver = MessageReceiver(maxMessage: Frame.maxSocketMessage)

    var readySent = false
    var lastStatusKey: StatusKey?
    struct StatusKey: Equatable {
        var running: Int
        var enabled: Int
        var failed: [Role]
        var shuttingDown: Bool
    }
    var nextWatchdogPing: Int64?
    var shuttingDown = false
    var shutdownOrder: [Role] = []
    var shutdownDeadline: Int64 = 0
    var shutdownKilled = false
    var done = false

    enum Token {
        static let signals: UInt64 = 1 << 56
        static let listener: UInt64 = 2 << 56
        static let connection: UInt64 = 3 << 56
        static let childSocket: UInt64 = 4 << 56
        static let childExit: UInt64 = 5 << 56
        static func child(_ kind: UInt64, _ role: Role, _ generation: UInt32) -> UInt64 {
            kind | UInt64(role.startIndex) << 32 | UInt64(generation)
        }
    }

    public init(config: Config, options: Options, logger: Logger) throws {
        self.config = config
        self.options = options
        self.logger = logger
        // Blocked before anything else so no signal is lost; children get an empty mask.
        signals = try SignalChannel(signals: [SIGTERM, SIGINT, SIGHUP, SIGCHLD])
        signal(SIGPIPE, SIG_IGN)
        epoll = try Epoll()
        notifier = SystemdNotifier(environment: options.environment)
        bulkheads = Bulkheads(logger: logger, disabled: options.environment["STEADYPOST_NO_CGROUPS"] == "1")
        access = ControlAccess.resolve(groupName: config.daemon.controlGroup)
        for role in Role.allCases {
            let settings = config.workers[role]!
            slots[role] = ChildSlot(settings: settings, policy: ChildPolicy(settings))
        }
        try epoll.add(signals.fd.raw, token: Token.signals)
        try Files.makeDirectories(options.runtimeDir, mode: 0o750)
        let activated = ControlServer.activatedListener(environment: options.environment)
        let server = try ControlServer(
            path: options.runtimeDir + "/control.sock", inherited: activated, logger: logger)
        control = server
        try epoll.add(server.listener.raw, token: Token.listener)
        if let usec = notifier.watchdogMicros, usec > 0 {
            nextWatchdogPing = SteadyClock.monotonicMillis()
            logger.info("systemd watchdog: pinging every \(usec / 2000) ms")
        }
    }

    /// Runs until shut down by SIGTERM/SIGINT; returns the exit code.
    public func run() -> Int32 {
        logger.info("supervisor starting", metadata: ["supervisor.pid": "\(getpid())", "config": "\(config.path)"])
        let now = SteadyClock.monotonicMillis()
        for role in Role.allCases where slots[role]!.settings.enabled {
            perform(role, slots[role]!.machine.handle(.start, now: now), now: now)
        }
        reportToSystemd(now: now)
        while !done {
            let timeout = waitTimeout(now: SteadyClock.monotonicMillis())
            let tokens: [UInt64]
            do {
                tokens = try epoll.wait(timeoutMillis: timeout)
            } catch {
                logger.critical("epoll_wait failed: \(error)")
                return 1
            }
            for token in tokens { dispatch(token) }
            let later = SteadyClock.monotonicMillis()
            tick(now: later)
            if shuttingDown { advanceShutdown(now: later) }
            answerPending(now: later)
            failRoutes(now: later)
            reportToSystemd(now: later)
        }
        bulkheads.cleanUp()
        control?.close()
        logger.info("supervisor stopped")
        return 0
    }

    // MARK: - Events

    func dispatch(_ token: UInt64) {
        let kind = token & (0xff << 56)
        switch kind {
        case Token.signals:
            handleSignals()
        case Token.listener:
            acceptControlConnections()
        case Token.connection:
            serviceConnection(id: token & 0xffff_ffff)
        case Token.childSocket, Token.childExit:
            let index = Int((token >> 32) & 0xff)
            let generation = UInt32(token & 0xffff_ffff)
            guard index < Role.allCases.count else { return }
            let role = Role.allCases[index]
            guard let slot = slots[role], slot.generation == generation else { return }
            if kind == Token.childSocket { readChild(slot) } else { childExited(slot) }
        default:
            logger.error("unknown epoll token \(token)")
        }
    }

    func handleSignals() {
        let received: [Int32]
        do { received = try signals.drain() } catch {
            logger.error("reading signals: \(error)")
            return
        }
        for sig in received {
            switch sig {
            case SIGTERM, SIGINT:
                if !shuttingDown {
                    logger.notice("\(signalName(sig)) received: draining workers in reverse start order")
                    beginShutdown()
                }
            case SIGHUP:
                logger.notice("SIGHUP: configuration reload is not supported yet; restart the service to apply a new config")
            case SIGCHLD:
                // Children are reaped through their pidfds; this only catches strays.
                break
            default:
                break
            }
        }
    }

    func tick(now: Int64) {
        var pressure: PressureReading?
        for role in Role.allCases {
            let slot = slots[role]!
            if pressure == nil && slot.machine.heartbeatOverdue(now: now) {
                let p = Pressure.read()
                pressure = PressureReading(cpu: p.cpuSome10, memory: p.memorySome10)
            }
            let actions = slot.machine.handle(.tick(pressure: pressure), now: now, jitter: Double.random(in: 0..<1, using: &rng))
            perform(role, actions, now: now)
        }
    }

    func waitTimeout(now: Int64) -> Int32 {
        var next: Int64 = now + 60_000
        for slot in slots.values {
            if let d = slot.machine.nextDeadline() { next = min(next, d) }
        }
        if let ping = nextWatchdogPing { next = min(next, ping) }
        for p in pending { next = min(next, p.deadline) }
        for r in routed.values { next = min(next, r.deadline) }
        if shuttingDown { next = min(next, shutdownDeadline) }
        return Int32(clamping: max(0, next - now))
    }

    // MARK: - Actions

    func perform(_ role: Role, _ actions: [ChildAction], now: Int64) {
        let slot = slots[role]!
        for action in actions {
            switch action {
            case .spawn:
                spawn(slot, now: now)
            case .drain(let deadline):
                if !send(.drain, to: slot, deadline: deadline), let process = slot.process {
                    signalProcess(process, SIGTERM)
                }
            case .signal(let sig):
                if let process = slot.process { signalProcess(process, sig) }
            case .log(let level, let message):
                let meta: Logger.Metadata = ["worker.role": "\(role.rawValue)"]
                let text = "worker \(role.rawValue): \(message)"
                switch level {
                case .info: logger.info("\(text)", metadata: meta)
                case .notice: logger.notice("\(text)", metadata: meta)
                case .warning: logger.warning("\(text)", metadata: meta)
                case .error: logger.error("\(text)", metadata: meta)
                case .critical: logger.critical("\(text)", metadata: meta)
                }
            }
        }
    }

    func spawn(_ slot: ChildSlot, now: Int64) {
        let role = slot.role
        do {
            let (parentEnd, childEnd) = try Sockets.seqpacketPair()
            var output: Descriptor?
            var env = childEnvironment(role: role)
            env.append("STEADYPOST_PREVIOUS_EXIT=\(slot.previousExit.rawValue)")
            if slot.previousExit != .none, let pid = slot.previousPid { env.append("STEADYPOST_PREVIOUS_PID=\(pid)") }
            if Journal.isConnected(environment: options.environment) {
                do {
                    output = try Journal.stream(identifier: role.logIdentifier)
                    env.append("STEADYPOST_LOG=journal")
                } catch {
                    logger.warning("no journald stream for \(role.rawValue), using stderr: \(error)")
                }
            }
            let executable = options.roleExecutables[role] ?? options.executable
            let args = [executable, "worker", role.rawValue, "--config", config.path]
            let process = try spawnProcess(
                path: executable, arguments: args, environment: env,
                passFds: [childEnd], stdout: output, stderr: output)
            childEnd.close()
            output?.close()
            try parentEnd.setNonBlocking()
            slot.generation &+= 1
            slot.process = process
            slot.socket = parentEnd
            slot.decoder = FrameDecoder()
            slot.helloSeen = false
            slot.lastHeartbeat = nil
            slot.bounds = bulkheads.apply(
                role: role, pid: process.pid, memoryMax: slot.settings.memoryMax,
                pidsMax: slot.settings.pidsMax, openFilesMax: slot.settings.openFilesMax)
            slot.oomKillsAtStart = bulkheads.oomKills(role: role)
            try epoll.add(parentEnd.raw, token: Token.child(Token.childSocket, role, slot.generation))
            try epoll.add(process.pidfd.raw, token: Token.child(Token.childExit, role, slot.generation))
            perform(role, slot.machine.handle(.spawned(pid: process.pid), now: now), now: now)
        } catch {
            perform(role, slot.machine.handle(.spawnFailed("\(error)"), now: now, jitter: Double.random(in: 0..<1, using: &rng)), now: now)
        }
    }

    func childEnvironment(role: Role) -> [String] {
        let dropped: Set<String> = [
            "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES",
            "JOURNAL_STREAM", "STEADYPOST_LOG", "SWIFT_BACKTRACE", "STEADYPOST_ROLE", "STEADYPOST_PREVIOUS_EXIT", "STEADYPOST_PREVIOUS_PID",
        ]
        var env = options.environment.filter { !dropped.contains($0.key) }.map { "\($0.key)=\($0.value)" }
        env.append("SWIFT_BACKTRACE=enable=no")
        env.append("STEADYPOST_ROLE=\(role.rawValue)")
        env.append("STEADYPOST_RUNTIME_DIR=\(options.runtimeDir)")
        return env.sorted()
    }

    @discardableResult
    func send(_ message: Message, to slot: ChildSlot, correlation: UInt64 = 0, deadline: Int64 = 0, descriptors: [Descriptor] = []) -> Bool {
        guard let socket = slot.socket else { return false }
        let bytes: [UInt8]
        do { bytes = try message.encoded(correlation: correlation, deadline: deadline) } catch {
            logger.warning("cannot send \(message.type) to \(slot.role.rawValue): \(error)")
            return false
        }
        // 100 ms for a small frame; a large one gets time to be read piece by piece.
        let wait = 100 + Int64(bytes.count / Frame.socketPiece) * 20
        var sent = 0
        do {
            try socket.sendPieces(bytes, piece: Frame.socketPiece, deadlineMillis: SteadyClock.monotonicMillis() + wait, sent: &sent,
                                  descriptors: descriptors)
            return true
        } catch {
            logger.warning("cannot send \(message.type) to \(slot.role.rawValue): \(error)")
            if sent > 0 {
                // Half a frame is on the socket: the stream cannot be resynchronised.
                closeChildSocket(slot, why: "a \(bytes.count)-byte frame stopped after \(sent) bytes: \(error)")
            }
            return false
        }
    }

    func readChild(_ slot: ChildSlot) {
        guard let socket = slot.socket else { return }
        while true {
            let received: MessageReceiver.Received?
            do {
                received = try receiver.receive(socket)
            } catch {
                closeChildSocket(slot, why: "read failed: \(error)")
                return
            }
            switch received {
            case nil:
                return
            case .endOfStream?:
                closeChildSocket(slot, why: nil)
                return
            case .truncated(let size)?:
                closeChildSocket(slot, why: "protocol error: \(ProtocolError.oversized(length: size - 4, max: Frame.maxSocketMessage - 4))")
                return
            case .message(let bytes)?:
                slot.decoder.feed(bytes)
            }
            do {
                while let frame = try slot.decoder.next() {
                    try handleChildFrame(slot, Message(frame), frame: frame)
                }
            } catch {
                closeChildSocket(slot, why: "protocol error: \(error)")
                return
            }
        }
    }

    func handleChildFrame(_ slot: ChildSlot, _ message: Message, frame: Frame) throws(ProtocolError) {
        let now = SteadyClock.monotonicMillis()
        let role = slot.role
        switch message {
        case .hello(let hello):
            guard hello.role == role, hello.pid == slot.process?.pid else {
                throw .unexpected("hello from \(hello.role.rawValue) pid \(hello.pid) on the \(role.rawValue) socket (pid \(slot.process?.pid ?? 0))")
            }
            slot.helloSeen = true
            if hello.version != SteadyVersion.current {
                logger.warning("worker \(role.rawValue) speaks version \(hello.version), supervisor \(SteadyVersion.current)")
            }
        case .ready(let ready):
            guard slot.helloSeen else { throw .unexpected("ready before hello") }
            slot.summary = ready.summary
            perform(role, slot.machine.handle(.ready, now: now), now: now)
        case .heartbeat(let beat):
            guard slot.helloSeen else { throw .unexpected("heartbeat before hello") }
            slot.lastHeartbeat = beat
            perform(role, slot.machine.handle(.heartbeat, now: now), now: now)
        case .response(let status, let body):
            routeWorkerResponse(from: slot, frame: frame, status: status, body: body)
        case .event(let name, _):
            logger.debug("event \(name) from \(role.rawValue)")
        case .request(let method, let body):
            if method == "supervisor.status" {
                // The supervisor's own view, for the api worker (GET /api/workers, /health).
                let report = (try? JSONCoding.encode(statusReport(now: now))) ?? []
                _ = send(.response(status: "ok", body: report), to: slot, correlation: frame.correlation)
                return
            }
            let deadline = frame.deadline > 0 ? frame.deadline : now + 30_000
            if let refusal = route(method: method, body: body, from: .worker(role, generation: slot.generation),
                                   correlation: frame.correlation, deadline: deadline) {
                _ = send(.response(status: "error", body: (try? JSONCoding.encode(refusal)) ?? []), to: slot, correlation: frame.correlation)
            }
        case .drain, .shutdown:
            throw .unexpected("\(message.type) is sent by the supervisor, not to it")
        }
    }

    func closeChildSocket(_ slot: ChildSlot, why: String?) {
        guard let socket = slot.socket else { return }
        if let why {
            logger.error("worker \(slot.role.rawValue): \(why); closing its socket", metadata: ["worker.role": "\(slot.role.rawValue)"])
        }
        epoll.remove(socket.raw)
        socket.close()
        slot.socket = nil
    }

    func childExited(_ slot: ChildSlot) {
        guard let process = slot.process else { return }
        let status: ExitStatus
        do {
            guard let s = try reap(pid: process.pid) else { return }
            status = s
        } catch {
            logger.error("waitpid(\(process.pid)) failed: \(error)")
            return
        }
        epoll.remove(process.pidfd.raw)
        process.pidfd.close()
        closeChildSocket(slot, why: nil)
        slot.process = nil
        failRoutes(now: SteadyClock.monotonicMillis(), deadWorker: slot)
        var how = "pid \(process.pid) \(status)"
        var oom = false
        if let before = slot.oomKillsAtStart, let after = bulkheads.oomKills(role: slot.role), after > before {
            how += " by the OOM killer at its \(slot.settings.memoryMax / (1 << 20)) MiB memory bound"
            oom = true
        }
        var hungKill = false
        if case .stopping(_, .hung, _, _) = slot.machine.state { hungKill = true }
        slot.previousExit = PreviousExit(status, oom: oom, hungKill: hungKill)
        slot.previousPid = process.pid
        let now = SteadyClock.monotonicMillis()
        perform(slot.role, slot.machine.handle(.exited(how), now: now, jitter: Double.random(in: 0..<1, using: &rng)), now: now)
    }

    // MARK: - Shutdown

    func beginShutdown() {
        shuttingDown = true
        let now = SteadyClock.monotonicMillis()
        shutdownDeadline = now + config.daemon.shutdownTimeoutMs
        shutdownOrder = Role.allCases.reversed()
        notifier.send("STOPPING=1\nSTATUS=draining workers")
        for p in pending { control?.reply(p.connection, correlation: p.correlation, error: ErrorBody(code: "shutting-down", message: "the daemon is shutting down")) }
        pending.removeAll()
        advanceShutdown(now: now)
    }

    func advanceShutdown(now: Int64) {
        while let role = shutdownOrder.first {
            let slot = slots[role]!
            switch slot.machine.state {
            case .stopped, .failed, .backoff:
                perform(role, slot.machine.handle(.shutdown, now: now), now: now)
                if slot.process == nil {
                    shutdownOrder.removeFirst()
                    continue
                }
            case .starting(nil, _):
                perform(role, slot.machine.handle(.shutdown, now: now), now: now)
                continue
            case .starting, .running:
                perform(role, slot.machine.handle(.shutdown, now: now), now: now)
            case .stopping:
                if case .stopping(_, let reason, _, _) = slot.machine.state, reason != .shutdown {
                    perform(role, slot.machine.handle(.shutdown, now: now), now: now)
                }
            }
            break
        }
        if now >= shutdownDeadline && !shutdownKilled {
            shutdownKilled = true
            logger.warning("shutdown deadline passed: SIGKILL to every remaining worker")
            for slot in slots.values { if let p = slot.process { signalProcess(p, SIGKILL) } }
            shutdownOrder.removeAll()
        }
        if shutdownOrder.isEmpty && slots.values.allSatisfy({ $0.process == nil }) {
            done = true
        }
    }

    // MARK: - systemd

    func reportToSystemd(now: Int64) {
        var enabled = 0
        var running = 0
        var failed: [Role] = []
        for role in Role.allCases {
            let slot = slots[role]!
            guard slot.settings.enabled else { continue }
            enabled += 1
            switch slot.machine.state {
            case .running: running += 1
            case .failed: failed.append(role)
            default: break
            }
        }
        // The line is only built when its figures change (this runs on every loop turn).
        let key = StatusKey(running: running, enabled: enabled, failed: failed, shuttingDown: shuttingDown)
        if key != lastStatusKey {
            lastStatusKey = key
            var line = "\(running)/\(enabled) workers running"
            if !failed.isEmpty { line += "; failed: " + failed.map(\.rawValue).joined(separator: ",") }
            if shuttingDown { line = "shutting down: " + line }
            if !readySent && !shuttingDown && running + failed.count == enabled {
                readySent = true
                notifier.send("READY=1\nSTATUS=\(line)")
                logger.info("ready: \(line)")
            } else if readySent {
                notifier.send("STATUS=\(line)")
            }
        }
        if let ping = nextWatchdogPing, now >= ping, let usec = notifier.watchdogMicros {
            notifier.send("WATCHDOG=1")
            nextWatchdogPing = now + Int64(usec / 2000)
        }
    }

    // MARK: - Status

    func postingFigure(_ name: String) -> Int? {
        let slot = slots[.posting]!
        guard slot.process != nil, let value = slot.lastHeartbeat?.counters[name] else { return nil }
        return Int(value)
    }

    /// Periodic jobs late by their workers' last heartbeats (`job.NAME.late_after_ms`), judged
    /// now: a job whose worker died or hangs turns late all the same.
    func lateJobs() -> [String] {
        let wall = SteadyClock.wallMillis()
        var late: [String] = []
        for role in Role.allCases {
            let slot = slots[role]!
            guard slot.settings.enabled, let counters = slot.lastHeartbeat?.counters else { continue }
            for (name, value) in counters where name.hasPrefix("job.") && name.hasSuffix(".late_after_ms") {
                let job = name.dropFirst(4).dropLast(".late_after_ms".count)
                if wall > value || counters["job.\(job).late"] == 1 { late.append("\(role.rawValue)/\(job)") }
            }
        }
        return late.sorted()
    }

    func statusReport(now: Int64) -> StatusReport {
        let late = lateJobs()
        return StatusReport(
            version: SteadyVersion.current, supervisor_pid: getpid(), uptime_ms: now - startedAt,
            workers: Role.allCases.map { slots[$0]!.status(now: now) },
            // The posting figures come from the posting worker's last heartbeat.
            queue_depth: postingFigure("queue_depth"), unknown_posts: postingFigure("unknown_posts"),
            open_breakers: postingFigure("open_breakers"), late_jobs: late.count, late_job_names: late,
            routed_in_flight: routed.count)
    }
}
