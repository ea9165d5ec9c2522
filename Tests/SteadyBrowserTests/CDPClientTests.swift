import Glibc
import CShim
import SteadyCore
import SteadyJSON
import SteadySystem
import Testing

@testable import SteadyBrowser

@Suite struct CDPFramingTests {
    @Test func splitsMessagesAcrossReadsAndSeveralInOneRead() throws {
        var f = CDPFramer(maxMessageBytes: 1024)
        let a = Array(#"{"id":1,"result":{}}"#.utf8), b = Array(#"{"method":"X.y","params":{"n":2}}"#.utf8)
        let stream = a + [0] + b + [0] + a + [0]
        // Every split point of the stream into two reads, and byte-by-byte.
        for cut in 0...stream.count {
            var g = CDPFramer(maxMessageBytes: 1024)
            let out = try g.feed(stream[..<cut]) + g.feed(stream[cut...])
            #expect(out == [a, b, a])
            #expect(g.pendingBytes == 0)
        }
        var out: [[UInt8]] = []
        for byte in stream { out += try f.feed([byte]) }
        #expect(out == [a, b, a])
        // Several at once, the last one incomplete.
        #expect(try f.feed(a + [0] + b + [0] + a.prefix(5)) == [a, b])
        #expect(f.pendingBytes == 5)
        #expect(try f.feed(a.dropFirst(5) + [0]) == [a])
    }

    @Test func refusesAMessageOverTheBound() throws {
        var f = CDPFramer(maxMessageBytes: 16)
        #expect(try f.feed(Array(repeating: UInt8(ascii: "a"), count: 16) + [0]).count == 1)
        #expect(throws: CDPError.self) { try f.feed(Array(repeating: UInt8(ascii: "a"), count: 10)) + f.feed(Array(repeating: UInt8(ascii: "b"), count: 10)) }
        var g = CDPFramer(maxMessageBytes: 16)
        // Refused before its NUL arrives: the bound holds for a peer that never sends one.
        #expect(throws: CDPError.self) { try g.feed(Array(repeating: UInt8(ascii: "a"), count: 17)) }
    }
}

/// A fake browser: the test plays Chromium's side of the two pipes.
final class FakePeer {
    let poller: Poller
    let connection: CDPConnection
    let peerIn: Descriptor   // what the client wrote (Chromium's fd 3)
    let peerOut: Descriptor  // what the client reads (Chromium's fd 4)
    var framer = CDPFramer()

    init(maxMessageBytes: Int = 8 << 20) throws {
        poller = try Poller()
        var a: [Int32] = [-1, -1], b: [Int32] = [-1, -1]
        guard steady_pipe2_cloexec(&a) == 0, steady_pipe2_cloexec(&b) == 0 else { throw TestError("pipe2") }
        peerIn = Descriptor(a[0])
        peerOut = Descriptor(b[1])
        connection = try CDPConnection(input: Descriptor(b[0]), output: Descriptor(a[1]), poller: poller, maxMessageBytes: maxMessageBytes)
    }

    /// The commands the client has sent so far.
    func received() throws -> [JSON] {
        var out: [JSON] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            var pfd = pollfd(fd: peerIn.raw, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 0) > 0 else { break }
            let n = read(peerIn.raw, &buf, buf.count)
            if n <= 0 { break }
            out += try framer.feed(buf[0..<n]).map { try JSON.parse($0) }
        }
        return out
    }

    func write(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(peerOut.raw, $0.baseAddress! + off, $0.count - off) }
            guard n > 0 else { throw TestError("write to the fake pipe: errno \(errno)") }
            off += n
        }
    }

    /// Lets the client read what is there (as its loop would).
    func pump() {
        _ = poller.wait(timeoutMillis: 1000)
        poller.dispatch()
    }
}

@Suite struct CDPConnectionTests {
    @Test(.timeLimit(.minutes(1))) func matchesRepliesByIdAndRoutesEventsBySession() throws {
        let peer = try FakePeer()
        var got: [Int: Result<JSON, CDPError>] = [:]
        peer.connection.send("A.one", .obj([("x", JSON(1))])) { got[1] = $0 }
        peer.connection.send("B.two", sessionId: "S1") { got[2] = $0 }
        peer.connection.send("C.three") { got[3] = $0 }
        let sent = try peer.received()
        #expect(sent.map { $0["method"]?.string } == ["A.one", "B.two", "C.three"])
        #expect(sent[1]["sessionId"]?.string == "S1")
        #expect(sent[0]["params"]?["x"]?.int == 1)
        let ids = sent.map { $0["id"]!.int! }
        var s1: [String] = [], s2: [String] = [], browserLevel: [String] = []
        peer.connection.setSessionHandler("S1") { s1.append($0.method) }
        peer.connection.setSessionHandler("S2") { s2.append($0.method) }
        peer.connection.onBrowserEvent = { browserLevel.append($0.method) }
        // Replies out of order, events interleaved, an unknown id, all in one write.
        var stream: [UInt8] = []
        for m in [
            #"{"id":\#(ids[2]),"result":{"v":3}}"#,
            #"{"method":"Page.loadEventFired","params":{},"sessionId":"S2"}"#,
            #"{"id":\#(ids[0]),"result":{"v":1}}"#,
            #"{"method":"Target.targetCreated","params":{}}"#,
            #"{"id":999,"result":{}}"#,
            #"{"method":"Page.frameNavigated","params":{},"sessionId":"S1"}"#,
            #"{"method":"Page.other","params":{},"sessionId":"S9"}"#,
            #"{"id":\#(ids[1]),"error":{"code":-32000,"message":"nope"}}"#,
        ] { stream += Array(m.utf8) + [0] }
        try peer.write(stream)
        while got.count < 3 { peer.pump() }
        #expect(got[1] == .success(.obj([("v", JSON(1))])))
        #expect(got[3] == .success(.obj([("v", JSON(3))])))
        #expect(got[2] == .failure(.protocolError(code: -32000, message: "nope")))
        #expect(s1 == ["Page.frameNavigated"])
        #expect(s2 == ["Page.loadEventFired"])
        #expect(browserLevel == ["Target.targetCreated"])
        #expect(peer.connection.repliesUnmatched == 1)
        #expect(peer.connection.eventsDropped == 1)
        #expect(peer.connection.pendingCount == 0)
    }

    @Test(.timeLimit(.minutes(1))) func aPeerThatDiesFailsPendingCommandsAtOnce() throws {
        let peer = try FakePeer()
        var got: [Result<JSON, CDPError>] = []
        var closedWith: String?
        peer.connection.onClose = { closedWith = $0 }
        for _ in 0..<3 { peer.connection.send("Never.answered") { got.append($0) } }
        _ = try peer.received()
        // Half a reply, then the peer is gone.
        try peer.write(Array(#"{"id":1,"res"#.utf8))
        peer.peerOut.close()
        let start = SteadyClock.monotonicMillis()
        while closedWith == nil { peer.pump() }
        #expect(SteadyClock.monotonicMillis() - start < 500)
        #expect(got.count == 3)
        #expect(got.allSatisfy { if case .failure(.closed) = $0 { true } else { false } })
        #expect(peer.connection.pendingCount == 0)
        // Afterwards a command fails on the next turn, never hangs, never inside `send`.
        var late: Result<JSON, CDPError>?
        peer.connection.send("After.close") { late = $0 }
        #expect(late == nil)
        peer.poller.dispatch()
        if case .failure(.closed)? = late {} else { Issue.record("late command: \(String(describing: late))") }
    }

    @Test(.timeLimit(.minutes(1))) func anOversizedOrMalformedMessageClosesTheConnection() throws {
        let peer = try FakePeer(maxMessageBytes: 64)
        var got: Result<JSON, CDPError>?
        peer.connection.send("X.y") { got = $0 }
        try peer.write(Array(repeating: UInt8(ascii: "x"), count: 100))
        while got == nil { peer.pump() }
        #expect(peer.connection.closedReason?.contains("exceeds") == true)

        let other = try FakePeer()
        var r: Result<JSON, CDPError>?
        other.connection.send("X.y") { r = $0 }
        try other.write(Array("not json".utf8) + [0])
        while r == nil { other.pump() }
        #expect(other.connection.closedReason?.contains("malformed") == true)
        #expect(other.connection.closedReason?.contains("invalid JSON at byte 0") == true, "the parser's reason: \(other.connection.closedReason ?? "")")
        if case .failure(.closed)? = r {} else { Issue.record("pending command: \(String(describing: r))") }

        // JSON, but no DevTools message: a clear reason each time, never a crash.
        for (frame, reason) in [
            ("[1,2]", "not a JSON object: [1,2]"),
            (#"{"result":{}}"#, "neither a reply nor an event"),
            (String(repeating: "[", count: CDPConnection.maxDepth + 1), "nested deeper than 512"),
        ] {
            let peer = try FakePeer()
            var answer: Result<JSON, CDPError>?
            peer.connection.send("X.y") { answer = $0 }
            try peer.write(Array(frame.utf8) + [0])
            while answer == nil { peer.pump() }
            #expect(peer.connection.closedReason?.contains(reason) == true, "\(peer.connection.closedReason ?? "open")")
        }
    }
}
