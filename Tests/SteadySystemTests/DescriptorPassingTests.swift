import Glibc
import Testing
import CShim
@testable import SteadySystem

/// SCM_RIGHTS through `DescriptorPassing`, `Descriptor.writeAll`/`sendPieces` and the
/// receivers: a descriptor crosses a socket pair, arrives close-on-exec, and a message with
/// more than the bound is cut with every extra one closed.
@Suite("descriptor passing", .timeLimit(.minutes(1)))
struct DescriptorPassingTests {
    /// A pipe whose write end we pass: reading the read end tells what the far side holds.
    static func pipe() throws -> (read: Descriptor, write: Descriptor) {
        var fds: [Int32] = [-1, -1]
        _ = try syscall("pipe2") { steady_pipe2_cloexec(&fds) }
        return (Descriptor(fds[0]), Descriptor(fds[1]))
    }

    static func openCount() -> Int { ProcessStats.openDescriptors() }

    @Test("a descriptor crosses a stream socket pair with the frame's first byte, close-on-exec, and writes to the same pipe")
    func crossesStreamPair() throws {
        let (a, b) = try Sockets.streamPair()
        defer { a.close(); b.close() }
        try a.setNonBlocking()
        try b.setNonBlocking()
        let p = try Self.pipe()
        defer { p.read.close() }
        try a.writeAll(Array("hello".utf8), deadlineMillis: nil, descriptors: [p.write])
        p.write.close()
        var buffer: [UInt8] = []
        var passed = DescriptorPassing.Received()
        let n = try #require(try Sockets.readAvailable(b, into: &buffer, maxDescriptors: 4, passed: &passed))
        #expect(n == 5 && buffer == Array("hello".utf8))
        #expect(passed.descriptors.count == 1 && !passed.truncated)
        let received = try #require(passed.descriptors.first)
        #expect(fcntl(received.raw, F_GETFD) & FD_CLOEXEC != 0, "received descriptors are close-on-exec")
        var byte: UInt8 = 42
        #expect(write(received.raw, &byte, 1) == 1)
        var got: UInt8 = 0
        #expect(read(p.read.raw, &got, 1) == 1 && got == 42)
        received.close()
        // Every copy of the write end is gone: the read end sees end of file.
        #expect(read(p.read.raw, &got, 1) == 0)
    }

    @Test("a descriptor crosses a SEQPACKET pair on a frame's first piece; MessageReceiver hands it over")
    func crossesSeqpacketPair() throws {
        let (a, b) = try Sockets.seqpacketPair()
        defer { a.close(); b.close() }
        try a.setNonBlocking()
        try b.setNonBlocking()
        let p = try Self.pipe()
        defer { p.read.close() }
        var sent = 0
        try a.sendPieces(Array(repeating: 7, count: 100), piece: 40, deadlineMillis: nil, sent: &sent, descriptors: [p.write])
        p.write.close()
        let receiver = MessageReceiver(maxMessage: 1024)
        var passed = DescriptorPassing.Received()
        guard case .message(let first)? = try receiver.receive(b, maxDescriptors: 4, passed: &passed) else {
            Issue.record("no first piece")
            return
        }
        #expect(first.count == 40 && passed.descriptors.count == 1)
        var rest = DescriptorPassing.Received()
        guard case .message(let second)? = try receiver.receive(b, maxDescriptors: 4, passed: &rest) else {
            Issue.record("no second piece")
            return
        }
        #expect(second.count == 40 && rest.descriptors.isEmpty, "only the first piece carries them")
        passed.descriptors[0].close()
        var got: UInt8 = 0
        #expect(read(p.read.raw, &got, 1) == 0)
    }

    @Test("more descriptors than the receiver takes: truncated, and none of them is left open")
    func tooManyAreClosed() throws {
        let (a, b) = try Sockets.streamPair()
        defer { a.close(); b.close() }
        try b.setNonBlocking()
        let p = try Self.pipe()
        defer { p.read.close() }
        let copies = (0..<(DescriptorPassing.maxPerFrame + 1)).map { _ in Descriptor(dup(p.write.raw)) }
        try a.writeAll([1], deadlineMillis: nil, descriptors: copies)
        for c in copies { c.close() }
        p.write.close()
        let before = Self.openCount()
        var buffer: [UInt8] = []
        var passed = DescriptorPassing.Received()
        _ = try Sockets.readAvailable(b, into: &buffer, maxDescriptors: DescriptorPassing.maxPerFrame, passed: &passed)
        #expect(passed.truncated)
        #expect(passed.descriptors.count <= DescriptorPassing.maxPerFrame)
        for d in passed.descriptors { d.close() }
        #expect(Self.openCount() == before)
        var got: UInt8 = 0
        #expect(read(p.read.raw, &got, 1) == 0, "every passed copy is closed")
    }

    @Test("a plain receive (no room for descriptors) closes any that came")
    func plainReceiveCloses() throws {
        let (a, b) = try Sockets.seqpacketPair()
        defer { a.close(); b.close() }
        try b.setNonBlocking()
        let p = try Self.pipe()
        defer { p.read.close() }
        var sent = 0
        try a.sendPieces([1, 2, 3], piece: 64, deadlineMillis: nil, sent: &sent, descriptors: [p.write])
        p.write.close()
        let receiver = MessageReceiver(maxMessage: 64)
        guard case .message(let bytes)? = try receiver.receive(b) else {
            Issue.record("no message")
            return
        }
        #expect(Array(bytes) == [1, 2, 3])
        var got: UInt8 = 0
        #expect(read(p.read.raw, &got, 1) == 0)
    }
}
