import Glibc
import Logging
import SteadyCore
import SteadyProtocol
import SteadySystem

/// A control request answered later: `restart`/`start` once the child is ready, `stop`
/// once it is gone.
struct PendingReply {
    enum Goal { case running(notPid: Int32?), stopped }
    let connection: UInt64
    let correlation: UInt64
    let role: Role
    let goal: Goal
    let deadline: Int64
}

extension Supervisor {
    func acceptControlConnections() {
        guard let server = control else { return }
        while true {
            let fd: Descriptor?
            do { fd = try Sockets.accept(server.listener) } catch {
                logger.warning("accept on control socket: \(error)")
                return
            }
            guard let fd else { return }
            let cred: (pid: Int32, uid: UInt32, gid: UInt32)
            do { cred = try Sockets.peerCredentials(fd) } catch {
                logger.warning("control peer credentials: \(error)")
                fd.close()
                continue
            }
            let id = server.nextId
            server.nextId += 1
            let conn = ControlConnection(id: id, fd: fd, uid: cred.uid)
            server.connections[id] = conn
            // SO_PEERGROUPS, not /proc/PID/status: the unit's ProtectProc=invisible hides clients' /proc.
            let groups = (try? Sockets.peerGroups(fd)) ?? []
            if let refusal = access.refusal(uid: cred.uid, gid: cred.gid, supplementaryGroups: groups) {
                logger.warning("control connection refused: \(refusal)", metadata: ["peer.pid": "\(cred.pid)", "peer.uid": "\(cred.uid)"])
                server.reply(id, correlation: 0, error: ErrorBody(code: "permission-denied", message: refusal))
                dropConnection(id)
                continue
            }
            do {
                try epoll.add(fd.raw, token: Token.connection | id)
            } catch {
                logger.warning("control connection: \(error)")
                dropConnection(id)
            }
        }
    }

    func dropConnection(_ id: UInt64) {
        guard let server = control, let conn = server.connections.removeValue(forKey: id) else { return }
        epoll.remove(conn.fd.raw)
        conn.fd.close()
        pending.removeAll { $0.connection == id }
        routed = routed.filter { $0.value.origin != .control(connection: id) }
    }

    func serviceConnection(id: UInt64) {
        guard let server = control, let conn = server.connections[id] else { return }
        var buffer: [UInt8] = []
        while true {
            let n: Int?
            var passed = DescriptorPassing.Received()
            let start = conn.bytesRead + buffer.count
            do {
                n = try Sockets.readAvailable(conn.fd, into: &buffer, maxDescriptors: DescriptorPassing.maxPerFrame, passed: &passed)
            } catch {
                dropConnection(id)
                return
            }
            if !passed.descriptors.isEmpty || passed.truncated {
                let held = conn.passed.reduce(0) { $0 + $1.descriptors.count } + passed.descriptors.count
                if passed.truncated || held > DescriptorPassing.maxPerFrame {
                    // Closed at once (the group and everything held): a frame takes at most this many.
                    for d in passed.descriptors { d.close() }
                    logger.warning("control client sent more than \(DescriptorPassing.maxPerFrame) descriptors; closing it", metadata: ["peer.uid": "\(conn.uid)"])
                    server.reply(id, correlation: 0, error: ErrorBody(code: "too-many-descriptors",
                                                                      message: "a request carries at most \(DescriptorPassing.maxPerFrame) descriptors"))
                    dropConnection(id)
                    return
                }
                conn.passed.append(PassedGroup(start: start, end: start + (n ?? 0), descriptors: passed.descriptors))
            }
            guard let n else { break }
            if n == 0 {
                dropConnection(id)
                return
            }
            if buffer.count > 256 * 1024 { break }
        }
        conn.bytesRead += buffer.count
        conn.decoder.feed(buffer)
        do {
            while let frame = try conn.decoder.next() {
                let frameStart = conn.bytesDecoded
                conn.bytesDecoded += 4 + Frame.headerLength + frame.payload.count
                let descriptors = claimDescriptors(conn, frameStart: frameStart, frameEnd: conn.bytesDecoded)
                let message = try Message(frame)
                guard case .request(let method, let body) = message else {
                    throw ProtocolError.unexpected("\(message.type) on the control socket; only requests are accepted")
                }
                handleControl(conn, method: method, body: body, frame: frame, descriptors: descriptors)
            }
        } catch {
            logger.warning("control client sent a bad frame: \(error); closing it", metadata: ["peer.uid": "\(conn.uid)"])
            server.reply(id, correlation: 0, error: ErrorBody(code: "protocol-error", message: "\(error)"))
            dropConnection(id)
        }
    }

    /// The descriptors that came with the frame at `frameStart..<frameEnd` of the stream;
    /// groups it passed without owning are closed.
    func claimDescriptors(_ conn: ControlConnection, frameStart: Int, frameEnd: Int) -> [Descriptor] {
        guard !conn.passed.isEmpty else { return [] }
        var mine: [Descriptor] = []
        conn.passed.removeAll { group in
            guard let claimed = group.claim(frameStart: frameStart, frameEnd: frameEnd) else { return false }
            if claimed {
                mine += group.descriptors
            } else {
                logger.warning("control client sent \(group.descriptors.count) descriptor(s) inside a frame, not at its start; closed them")
                for d in group.descriptors { d.close() }
            }
            return true
        }
        return mine
    }

    func handleControl(_ conn: ControlConnection, method: String, body: [UInt8], frame: Frame, descriptors: [Descriptor] = []) {
        // The supervisor's copies are closed once the request is passed on (or refused): the
        // kernel holds what it sent to a worker.
        defer { for d in descriptors { d.close() } }
        guard let server = control else { return }
        let now = SteadyClock.monotonicMillis()
        func fail(_ code: String, _ message: String) {
            server.reply(conn.id, correlation: frame.correlation, error: ErrorBody(code: code, message: message))
        }
        guard let known = ControlMethod(rawValue: method) else {
            if Self.routeTarget(method) != nil {
                // ROLE.method: answered by that worker.
                if shuttingDown {
                    fail("shutting-down", "the daemon is shutting down")
                } else if let refusal = route(method: method, body: body, from: .control(connection: conn.id), correlation: frame.correlation,
                                              deadline: frame.deadline > 0 ? frame.deadline : now + 30_000, descriptors: descriptors) {
                    fail(refusal.code, refusal.message)
                }
                return
            }
            fail("unknown-method", "unknown control method '\(method)'; known: \(ControlMethod.allCases.map(\.rawValue).joined(separator: ", ")), or ROLE.method")
            return
        }
        guard descriptors.isEmpty else {
            fail("bad-request", "\(method) takes no descriptors; only ROLE.method requests carry them")
            return
        }
        if shuttingDown && known != .status {
            fail("shutting-down", "the daemon is shutting down")
            return
        }
        let deadline = frame.deadline > 0 ? frame.deadline : now + 30_000
        switch known {
        case .status:
            do {
                server.reply(conn.id, correlation: frame.correlation, ok: try JSONCoding.encode(statusReport(now: now)))
            } catch {
                fail("internal", "\(error)")
            }
        case .restart, .start, .stop:
            let request: RoleRequest
            do { request = try JSONCoding.decode(RoleRequest.self, body, type: method) } catch {
                fail("bad-request", "\(error)")
                return
            }
            let slot = slots[request.role]!
            let oldPid = slot.machine.state.pid
            let event: ChildEvent = known == .restart ? .restart : known == .start ? .start : .stop
            logger.notice("control: \(method) \(request.role.rawValue) (uid \(conn.uid))")
            perform(request.role, slot.machine.handle(event, now: now, jitter: Double.random(in: 0..<1, using: &rng)), now: now)
            let goal: PendingReply.Goal = known == .stop ? .stopped : .running(notPid: known == .restart ? oldPid : nil)
            pending.append(PendingReply(connection: conn.id, correlation: frame.correlation, role: request.role, goal: goal, deadline: deadline))
        case .waitReady:
            let request: WaitReadyRequest
            do { request = try JSONCoding.decode(WaitReadyRequest.self, body, type: method) } catch {
                fail("bad-request", "\(error)")
                return
            }
            pending.append(PendingReply(connection: conn.id, correlation: frame.correlation, role: request.role, goal: .running(notPid: request.not_pid), deadline: deadline))
        case .fault:
            guard config.daemon.allowFaultInjection else {
                fail("refused", "fault injection is off: set daemon.allow_fault_injection = true (tests and demos only)")
                return
            }
            let request: FaultRequest
            do { request = try JSONCoding.decode(FaultRequest.self, body, type: method) } catch {
                fail("bad-request", "\(error)")
                return
            }
            let slot = slots[request.role]!
            logger.warning("control: injecting fault '\(request.kind)' into \(request.role.rawValue) (uid \(conn.uid))")
            if send(.request(method: "fault", body: body), to: slot) {
                server.reply(conn.id, correlation: frame.correlation, ok: (try? JSONCoding.encode(MessageBody(message: "fault '\(request.kind)' sent to \(request.role.rawValue) pid \(slot.machine.state.pid ?? 0)"))) ?? [])
            } else {
                fail("unavailable", "\(request.role.rawValue) is not running")
            }
        }
    }

    func answerPending(now: Int64) {
        guard let server = control, !pending.isEmpty else { return }
        pending.removeAll { p in
            let slot = slots[p.role]!
            let state = slot.machine.state
            var answer: (ok: Bool, text: String)?
            switch (p.goal, state) {
            case (.running(let old), .running(let pid, _)) where pid != old:
                answer = (true, "\(p.role.rawValue) running, pid \(pid)")
            case (.running, .failed(let why)):
                answer = (false, "\(p.role.rawValue) failed: \(why)")
            case (.stopped, .stopped):
                answer = (true, "\(p.role.rawValue) stopped")
            default:
                if now >= p.deadline { answer = (false, "\(p.role.rawValue) is \(state.name); gave up waiting at the deadline") }
            }
            guard let answer else { return false }
            if answer.ok {
                server.reply(p.connection, correlation: p.correlation, ok: (try? JSONCoding.encode(MessageBody(message: answer.text))) ?? [])
            } else {
                server.reply(p.connection, correlation: p.correlation, error: ErrorBody(code: "failed", message: answer.text))
            }
            return true
        }
    }

}
