import Testing
import SteadyCore
@testable import SteadyProtocol

struct FrameCodecTests {
    static let messages: [Message] = [
        .hello(Hello(role: .posting, pid: 42, version: "0.1.0")),
        .ready(Ready(summary: "nothing configured yet for posting")),
        .heartbeat(Heartbeat(sequence: 7, rssBytes: 1 << 20, openFds: 9, inFlight: 2, counters: ["posted": 3, "heartbeats": 7])),
        .drain,
        .shutdown,
        .request(method: "status", body: Array(#"{"role":"api"}"#.utf8)),
        .response(status: "ok", body: []),
        .event(name: "post.posted", body: Array("{}".utf8)),
    ]

    @Test("every message type round-trips through bytes", arguments: messages)
    func roundTrip(_ message: Message) throws {
        let bytes = try message.encoded(correlation: 99, deadline: 123_456)
        var decoder = FrameDecoder()
        decoder.feed(bytes)
        let frame = try #require(try decoder.next())
        #expect(frame.correlation == 99)
        #expect(frame.deadline == 123_456)
        #expect(try Message(frame) == message)
        #expect(try decoder.next() == nil)
        #expect(decoder.pendingBytes == 0)
    }

    @Test("frames split at every byte boundary reassemble")
    func byteByByte() throws {
        let a = try Message.heartbeat(Heartbeat(sequence: 1, rssBytes: 2, openFds: 3, inFlight: 0)).encoded()
        let b = try Message.drain.encoded(deadline: 5)
        var decoder = FrameDecoder()
        var got: [Message] = []
        for byte in a + b {
            decoder.feed([byte])
            while let f = try decoder.next() { got.append(try Message(f)) }
        }
        #expect(got == [.heartbeat(Heartbeat(sequence: 1, rssBytes: 2, openFds: 3, inFlight: 0)), .drain])
    }

    @Test("an oversized length is refused before its bytes arrive")
    func oversized() {
        var decoder = FrameDecoder()
        decoder.feed([0x7f, 0xff, 0xff, 0xff])
        #expect(throws: ProtocolError.oversized(length: 0x7fff_ffff, max: Frame.maxLength)) { try decoder.next() }
    }

    @Test("encoding refuses a payload over the bound")
    func encodeOversized() {
        let big = Message.event(name: "x", body: [UInt8](repeating: 0, count: Frame.maxLength))
        #expect(throws: ProtocolError.self) { try big.encoded() }
    }

    @Test("a wrong version is refused as soon as its byte arrives")
    func wrongVersion() throws {
        var bytes = try Message.drain.encoded()
        bytes[4] = 9
        var decoder = FrameDecoder()
        decoder.feed(bytes[0..<5])
        #expect(throws: ProtocolError.unsupportedVersion(9)) { try decoder.next() }
    }

    @Test("an unknown type is refused")
    func unknownType() throws {
        var bytes = try Message.drain.encoded()
        bytes[5] = 200
        var decoder = FrameDecoder()
        decoder.feed(bytes)
        #expect(throws: ProtocolError.unknownType(200)) { try decoder.next() }
    }

    @Test("a length shorter than the header is refused")
    func undersized() {
        var decoder = FrameDecoder()
        decoder.feed([0, 0, 0, 3, 1, 1, 0])
        #expect(throws: ProtocolError.undersized(length: 3)) { try decoder.next() }
    }

    @Test("malformed payloads are named", arguments: [FrameType.hello, .ready, .heartbeat, .request, .response, .event])
    func malformedPayload(_ type: FrameType) throws {
        let frame = Frame(type: type, payload: Array("{not json".utf8))
        var decoder = FrameDecoder()
        decoder.feed(try frame.encoded())
        let decoded = try #require(try decoder.next())
        #expect(throws: ProtocolError.self) { try Message(decoded) }
    }

    @Test("request names of 1-255 bytes only")
    func requestNames() {
        #expect(throws: ProtocolError.self) { try Message.request(method: "", body: []).encoded() }
        #expect(throws: ProtocolError.self) { try Message.request(method: String(repeating: "m", count: 256), body: []).encoded() }
    }

    /// The decoder must never crash: 100,000 random and mutated inputs, reproducible by seed.
    @Test("decoder survives 100,000 random and mutated inputs")
    func randomized() throws {
        var rng = SplitMix64(seed: 0x5EED)
        let valid = try Self.messages.map { try $0.encoded(correlation: 1, deadline: 2) }
        var decodedFrames = 0
        var errors = 0
        for i in 0..<100_000 {
            var input: [UInt8]
            if i % 2 == 0 {
                input = valid[Int(rng.next() % UInt64(valid.count))]
                for _ in 0..<(1 + Int(rng.next() % 4)) {
                    let pos = Int(rng.next() % UInt64(input.count))
                    switch rng.next() % 4 {
                    case 0: input[pos] = UInt8(truncatingIfNeeded: rng.next())
                    case 1: input.removeSubrange(pos...)
                    case 2: input.insert(UInt8(truncatingIfNeeded: rng.next()), at: pos)
                    default: input[pos] ^= 0x80
                    }
                    if input.isEmpty { break }
                }
            } else {
                input = (0..<Int(rng.next() % 64)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
            var decoder = FrameDecoder()
            decoder.feed(input)
            do {
                while let frame = try decoder.next() {
                    decodedFrames += 1
                    _ = try? Message(frame)
                }
            } catch {
                errors += 1
            }
        }
        // Both paths were exercised.
        #expect(decodedFrames > 1000)
        #expect(errors > 1000)
    }
}

extension Message: CustomTestStringConvertible {
    public var testDescription: String { "\(type)" }
}

extension FrameCodecTests {
    @Test("heartbeat binary payload: truncations and trailing bytes are refused")
    func heartbeatBinary() throws {
        let beat = Heartbeat(sequence: 3, rssBytes: 1 << 30, openFds: 12, inFlight: 1, counters: ["a": -1, "posted": 7])
        let frame = try Message.heartbeat(beat).frame()
        #expect(try Message(frame) == .heartbeat(beat))
        for cut in [0, 10, 25, 26, 27, frame.payload.count - 1] {
            var short = frame
            short.payload = Array(frame.payload[0..<cut])
            #expect(throws: ProtocolError.self, "cut at \(cut)") { try Message(short) }
        }
        var long = frame
        long.payload.append(0)
        #expect(throws: ProtocolError.self) { try Message(long) }
    }
}
