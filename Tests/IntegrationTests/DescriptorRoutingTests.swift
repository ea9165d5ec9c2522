import Glibc
import Testing
import CShim
import SteadyControl
import SteadyCore
import SteadySystem
import SteadyTestSupport

/// Descriptors on the control socket, through a real supervisor: unclaimed ones are closed
/// (by the supervisor for its own methods, by the worker for methods that take none), too
/// many in one request are refused. Each passes the write end of a pipe and waits, with a
/// deadline, for the read end's end of file: it comes only once every copy is closed.
@Suite("descriptor routing", .serialized, .timeLimit(.minutes(1)))
struct DescriptorRoutingTests {
    static func pipe() throws -> (read: Descriptor, write: Descriptor) {
        var fds: [Int32] = [-1, -1]
        _ = try syscall("pipe2") { steady_pipe2_cloexec(&fds) }
        let read = Descriptor(fds[0])
        try read.setNonBlocking()
        return (read, Descriptor(fds[1]))
    }

    /// Waits until nobody holds the pipe's write end.
    static func waitClosed(_ read: Descriptor, _ what: String) throws {
        _ = try waitFor(what, timeoutMillis: 10_000) { () -> Bool? in
            var byte: UInt8 = 0
            return Glibc.read(read.raw, &byte, 1) == 0 ? true : nil
        }
    }

    @Test("descriptors sent with a supervisor method or a routed method that takes none are closed; 17 in one request are refused")
    func unclaimedAreClosed() throws {
        let d = try DaemonProcess()
        defer { d.cleanUp() }
        try d.start()
        _ = try d.waitAllRunning()

        // `status` is the supervisor's: it refuses descriptors and closes them.
        let p1 = try Self.pipe()
        do {
            _ = try d.client.call(method: "status", descriptors: [p1.write])
            Issue.record("status took a descriptor")
        } catch {
            #expect(error.description.contains("takes no descriptors"), "\(error)")
        }
        p1.write.close()
        try Self.waitClosed(p1.read, "the supervisor to close a descriptor sent with status")

        // `posting.ping` is routed: the worker answers and closes what it did not take.
        let p2 = try Self.pipe()
        let echoed = try d.client.call(method: "posting.ping", body: Array("{}".utf8), descriptors: [p2.write])
        #expect(echoed == Array("{}".utf8))
        p2.write.close()
        try Self.waitClosed(p2.read, "the posting worker to close a descriptor it did not take")

        // More than 16: refused, and every one closed.
        let p3 = try Self.pipe()
        let copies = (0...DescriptorPassing.maxPerFrame).map { _ in Descriptor(dup(p3.write.raw)) }
        p3.write.close()
        do {
            _ = try d.client.call(method: "posting.ping", body: Array("{}".utf8), descriptors: copies)
            Issue.record("17 descriptors were taken")
        } catch {
            #expect(error.description.contains("at most \(DescriptorPassing.maxPerFrame) descriptors"), "\(error)")
        }
        for c in copies { c.close() }
        try Self.waitClosed(p3.read, "the supervisor to close descriptors past the bound")
        // The daemon still answers.
        #expect(try d.client.status().workers.count == Role.allCases.count)
    }
}
