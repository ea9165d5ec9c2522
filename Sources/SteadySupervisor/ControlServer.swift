import Glibc
import SteadyCore
import Logging
import SteadyProtocol
import SteadySystem

/// One CLI connection on the control socket.
final class ControlConnection {
    let id: UInt64
    let fd: Descriptor
    var decoder = FrameDecoder(maxLength: Frame.maxLength)
    let uid: UInt32
    /// Bytes read from the stream so far, and bytes of it that whole frames took.
    var bytesRead = 0
    var bytesDecoded = 0
    /// Descriptors received and not yet claimed by a frame: each group with the stream range
    /// of the read that brought it (`PassedGroup`).
    var passed: [PassedGroup] = []

    init(id: UInt64, fd: Descriptor, uid: UInt32) {
        self.id = id
        self.fd = fd
        self.uid = uid
    }
}

/// Descriptors that came with one read of the control stream, bytes `start..<end`.
///
/// The CLI attaches a request's descriptors to its frame's first byte; the kernel ends a read
/// at the bytes that carried descriptors (they arrive with that read, never later), so they
/// belong to the last frame that starts inside the read's range. A group inside no frame's
/// start is closed.
struct PassedGroup {
    let start: Int
    let end: Int
    let descriptors: [Descriptor]

    /// What a frame spanning `frameStart..<frameEnd` does with this group: nil while a later
    /// frame may still start inside it; true to claim it; false to close it, unclaimed.
    func claim(frameStart: Int, frameEnd: Int) -> Bool? {
        guard frameEnd >= end else { return nil }
        return frameStart >= start && frameStart < end
    }
}

/// The control socket: a stream socket (mode 0660) the CLI connects to, or the one systemd
/// passed in by socket activation. Frames in, frames out; peers checked by SO_PEERCRED.
final class ControlServer {
    let listener: Descriptor
    let path: String
    let activated: Bool
    let logger: Logger
    var connections: [UInt64: ControlConnection] = [:]
    var nextId: UInt64 = 1

    /// The listening socket systemd passed (LISTEN_FDS), if it is meant for this process.
    static func activatedListener(environment: [String: String]) -> Descriptor? {
        guard let pid = environment["LISTEN_PID"].flatMap(Int32.init), pid == getpid(),
              let count = environment["LISTEN_FDS"].flatMap(Int.init), count >= 1 else { return nil }
        let fd: Int32 = 3
        _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        let fdesc = Descriptor(fd)
        try? fdesc.setNonBlocking()
        return fdesc
    }

    init(path: String, inherited: Descriptor?, logger: Logger) throws {
        self.path = path
        self.logger = logger
        if let inherited {
            listener = inherited
            activated = true
            logger.info("control socket from systemd socket activation")
        } else {
            listener = try Sockets.listenStream(path: path, mode: 0o660)
            activated = false
            logger.info("control socket at \(path)")
        }
    }

    func close() {
        for c in connections.values { c.fd.close() }
        connections.removeAll()
        if !activated {
            _ = unlink(path)
        }
        listener.close()
    }

    func reply(_ id: UInt64, correlation: UInt64, ok body: [UInt8]) {
        write(id, .response(status: "ok", body: body), correlation: correlation)
    }

    func reply(_ id: UInt64, correlation: UInt64, error: ErrorBody) {
        write(id, .response(status: "error", body: (try? JSONCoding.encode(error)) ?? []), correlation: correlation)
    }

    private func write(_ id: UInt64, _ message: Message, correlation: UInt64) {
        guard let conn = connections[id] else { return }
        do {
            let bytes = try message.encoded(correlation: correlation)
            // A large answer (a long `jobs` list) gets time for the client to read it.
            try conn.fd.writeAll(bytes, deadlineMillis: SteadyClock.monotonicMillis() + 200 + Int64(bytes.count >> 14))
        } catch {
            // Part of a frame may be out: this connection cannot carry another answer.
            logger.warning("control reply failed, closing the connection: \(error)")
            conn.fd.close()
            connections[id] = nil
        }
    }
}
