import Glibc
import Testing
import SteadyCore
import SteadyProtocol
import SteadySystem

/// Worker sockets are SOCK_SEQPACKET: one message may not exceed the send buffer (212,992 B
/// by default), while frames reach `Frame.maxLength`. A frame goes out in pieces and the
/// reader's stream decoder joins them (issue 13: a 210 KB answer used to kill the worker).
@Suite("frames larger than a socket message", .timeLimit(.minutes(1)))
struct SocketPieceTests {
    /// Sends `frames` in pieces on one thread while this one receives them as the workers and
    /// the supervisor do (MessageReceiver into a FrameDecoder).
    static func roundTrip(_ frames: [[UInt8]]) async throws -> [Frame] {
        let (a, b) = try Sockets.seqpacketPair()
        try a.setNonBlocking()
        try b.setNonBlocking()
        // A blocking sender on a thread of its own, not a task: this test blocks its pool
        // thread in poll, and on a 2-core machine running other suites a task could wait for
        // a pool thread until the receiver's deadline.
        let outcome = WaitableMutex<(done: Bool, error: String?)>((false, nil))
        try DetachedThread.start {
            var failure: String?
            for bytes in frames {
                var sent = 0
                do { try a.sendPieces(bytes, piece: Frame.socketPiece, deadlineMillis: SteadyClock.monotonicMillis() + 10_000, sent: &sent) } catch {
                    failure = "\(error) after \(sent) bytes"
                    break
                }
            }
            outcome.withLock { $0 = (true, failure) }
        }
        let receiver = MessageReceiver(maxMessage: Frame.maxSocketMessage)
        var decoder = FrameDecoder()
        var got: [Frame] = []
        let deadline = SteadyClock.monotonicMillis() + 20_000
        while got.count < frames.count {
            guard SteadyClock.monotonicMillis() < deadline else { throw SocketPieceFailure("timed out with \(got.count) of \(frames.count) frames") }
            switch try receiver.receive(b) {
            case nil: try b.waitReadiness(events: Int16(POLLIN), deadlineMillis: deadline)
            case .message(let bytes)?:
                #expect(bytes.count <= Frame.socketPiece, "one message is at most a piece")
                decoder.feed(bytes)
                while let frame = try decoder.next() { got.append(frame) }
            case .truncated(let n)?: throw SocketPieceFailure("a message of \(n) bytes was truncated")
            case .endOfStream?: throw SocketPieceFailure("end of stream")
            }
        }
        guard let sender = outcome.wait(timeoutMs: 10_000, until: { $0.done ? $0 : nil }) else { throw SocketPieceFailure("the sender did not finish") }
        if let error = sender.error { throw SocketPieceFailure(error) }
        return got
    }

    @Test("a 3 MiB answer and small frames around it arrive whole and in order")
    func largeFrameArrivesWhole() async throws {
        var body = [UInt8](repeating: 0, count: 3 << 20)
        for i in body.indices { body[i] = UInt8(truncatingIfNeeded: i &* 31 &+ i >> 9) }
        let frames = [
            try Message.response(status: "ok", body: Array("small".utf8)).encoded(correlation: 1),
            try Message.response(status: "ok", body: body).encoded(correlation: 2),
            try Message.heartbeat(Heartbeat(sequence: 3, rssBytes: 4, openFds: 5, inFlight: 0)).encoded(),
        ]
        let got = try await Self.roundTrip(frames)
        #expect(got.map(\.correlation) == [1, 2, 0])
        guard case .response(let status, let received)? = try? Message(got[1]) else {
            Issue.record("the large frame is not a response")
            return
        }
        #expect(status == "ok" && received == body)
    }

    @Test("the mechanism is needed: one message the size of a 300 KB frame is refused with EMSGSIZE")
    func oneMessageTooLarge() throws {
        let (a, _) = try Sockets.seqpacketPair()
        let bytes = try Message.response(status: "ok", body: [UInt8](repeating: 7, count: 300_000)).encoded(correlation: 1)
        #expect { try a.writeAll(bytes, deadlineMillis: SteadyClock.monotonicMillis() + 1000) } throws: { error in
            (error as? SystemError)?.errno == EMSGSIZE
        }
    }
}

struct SocketPieceFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
