import Glibc
import Logging
import SteadyConfig
import SteadyCore
import SteadyProtocol
import SteadySystem
import SteadyWorker
import Synchronization
import Testing

/// A role that answers `later` on its next tick, `now` at once, and reuses the default
/// `handle(request:)` → `handle(method:body:)` path for `legacy`.
final class DeferringRole: WorkerRole {
    var replies: WorkerReplies?
    var due: [(UInt64, Int64)] = []
    var refusedSecondAnswer = false
    var sawDeadline: Int64 = 0

    var summary: String { "deferring test role" }
    var inFlight: Int { due.count }
    var counters: [String: Int64] { [:] }
    func beginDrain() {}
    var drained: Bool { true }
    func start(logger: Logger, replies: WorkerReplies) { self.replies = replies }

    func handle(request: WorkerRequest) -> WorkerReply? {
        switch request.method {
        case "later":
            sawDeadline = request.deadline
            due.append((request.correlation, SteadyClock.monotonicMillis()))
            return .deferred
        case "now": return .ok(Array("now".utf8))
        default: return handle(method: request.method, body: request.body)
        }
    }

    func handle(method: String, body: [UInt8]) -> WorkerReply? {
        method == "legacy" ? .error(code: "legacy", message: "old path") : nil
    }

    var wakeAt: Int64? { due.isEmpty ? nil : SteadyClock.monotonicMillis() }
    func tick(now: Int64) {
        for (correlation, _) in due {
            replies?.reply(correlation: correlation, .ok(Array("later-\(correlation)".utf8)))
            // A second answer for the same request is refused.
            if replies?.reply(correlation: correlation, .ok([])) == false { refusedSecondAnswer = true }
        }
        due.removeAll()
    }
}

final class UncheckedBox<T>: @unchecked Sendable {
    var value: T
    init(_ v: T) { value = v }
}

@Suite struct DeferredReplyTests {
    /// The runtime keeps the frame's correlation and deadline for a `.deferred` answer, sends
    /// the role's later reply under that correlation exactly once, and old-style roles work.
    @Test(.timeLimit(.minutes(1))) func deferredAnswersGoBackUnderTheirCorrelation() throws {
        let (ours, theirs) = try Sockets.seqpacketPair()
        let role = DeferringRole()
        let box = UncheckedBox<(Int32, DeferringRole)>((theirs.raw, role))
        var thread = pthread_t()
        let ctx = Unmanaged.passRetained(box).toOpaque()
        let rc = pthread_create(&thread, nil, { raw in
            let box = Unmanaged<UncheckedBox<(Int32, DeferringRole)>>.fromOpaque(raw!).takeRetainedValue()
            var logger = Logger(label: "test.runtime")
            logger.logLevel = .critical
            if let runtime = try? WorkerRuntime(role: .browser, settings: WorkerConfig(role: .browser), job: box.value.1, logger: logger, socketFd: box.value.0) {
                let code = runtime.run()
                exitCodes.withLock { $0 = code }
            }
            return nil
        }, ctx)
        #expect(rc == 0)
        let receiver = MessageReceiver(maxMessage: Frame.maxSocketMessage)
        func next() throws -> (Message, Frame) {
            var decoder = FrameDecoder()
            while true {
                try ours.waitReadiness(events: Int16(POLLIN), deadlineMillis: SteadyClock.monotonicMillis() + 10_000)
                guard case .message(let bytes)? = try receiver.receive(ours) else { continue }
                decoder.feed(bytes)
                if let f = try decoder.next() { return (try Message(f), f) }
            }
        }
        func responses(_ n: Int) throws -> [UInt64: Message] {
            var out: [UInt64: Message] = [:]
            while out.count < n {
                let (m, f) = try next()
                if case .response = m { out[f.correlation] = m }
            }
            return out
        }
        let deadline = SteadyClock.monotonicMillis() + 5000
        try ours.writeAll(try Message.request(method: "later", body: []).encoded(correlation: 41, deadline: deadline))
        try ours.writeAll(try Message.request(method: "now", body: []).encoded(correlation: 42))
        try ours.writeAll(try Message.request(method: "legacy", body: []).encoded(correlation: 43))
        try ours.writeAll(try Message.request(method: "missing", body: []).encoded(correlation: 44))
        let got = try responses(4)
        #expect(got[41] == .response(status: "ok", body: Array("later-41".utf8)))
        #expect(got[42] == .response(status: "ok", body: Array("now".utf8)))
        if case .response(let status, let body)? = got[43] {
            #expect(status == "error")
            #expect(String(decoding: body, as: UTF8.self).contains("legacy"))
        } else { Issue.record("no answer to legacy") }
        if case .response(let status, _)? = got[44] { #expect(status == "error") } else { Issue.record("no answer to missing") }
        try ours.writeAll(try Message.shutdown.encoded())
        pthread_join(thread, nil)
        #expect(exitCodes.withLock { $0 } == 0)
        #expect(role.sawDeadline == deadline)
        #expect(role.refusedSecondAnswer)
        ours.close()
    }
}

let exitCodes = Mutex<Int32>(-1)
