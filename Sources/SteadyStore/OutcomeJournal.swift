import Glibc
import SteadyCore
import Synchronization

/// The outcome journal (DESIGN.md 3.3): when the platform accepted a post but the store
/// cannot record it, the outcome is appended here, fsync'd, and replayed into the store
/// before any new claim. One record per line of the file, each framed so a torn tail (a crash
/// mid-append) is recognised and skipped:
///
///     u32 length (big-endian) | u32 CRC-32 of the payload | payload (UTF-8, tab-separated:
///     post id, attempt id, outcome name, platform id or reason, time ms)
public final class OutcomeJournal: Sendable {
    public struct Record: Equatable, Sendable {
        public var postId: String
        public var attemptId: String
        public var outcome: AttemptOutcome
        public var at: Int64

        public init(postId: String, attemptId: String, outcome: AttemptOutcome, at: Int64) {
            self.postId = postId
            self.attemptId = attemptId
            self.outcome = outcome
            self.at = at
        }
    }

    public let path: String
    /// Holds nothing: one append or read or replay at a time within this process (the
    /// `flock` below orders them across processes).
    private let serial = Mutex(())

    public init(path: String) {
        self.path = path
    }

    /// Appends and fsyncs one record; returns only once it is on disk.
    public func append(_ record: Record) throws(SystemCallError) {
        let payload = Array(Self.encode(record).utf8)
        var frame: [UInt8] = []
        frame.reserveCapacity(payload.count + 8)
        for shift in stride(from: 24, through: 0, by: -8) { frame.append(UInt8(truncatingIfNeeded: payload.count >> shift)) }
        let crc = CRC32.checksum(payload)
        for shift in stride(from: 24, through: 0, by: -8) { frame.append(UInt8(truncatingIfNeeded: crc >> UInt32(shift))) }
        frame += payload
        try serial.withLock { _ throws(SystemCallError) in
            let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { throw SystemCallError("open(\(path))", errno) }
            defer { _ = close(fd) }
            try Self.lockFile(fd, path)
            var offset = 0
            while offset < frame.count {
                let n = frame.withUnsafeBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if n < 0 {
                    if errno == EINTR { continue }
                    throw SystemCallError("write(\(path))", errno)
                }
                offset += n
            }
            while fsync(fd) != 0 {
                if errno != EINTR { throw SystemCallError("fsync(\(path))", errno) }
            }
        }
    }

    /// Every whole record, oldest first, and how many bytes at the end were a torn record.
    public func read() -> (records: [Record], tornBytes: Int) {
        serial.withLock { _ in Self.parse(Self.readAll(path)) }
    }

    /// Replays every record into `store` (outcomes already recorded are skipped: replay is
    /// idempotent), then empties the journal. A record the store refuses for good (its post
    /// moved on) is dropped with the reason in `skipped`; if the store fails, the journal is
    /// kept for the next replay.
    ///
    /// Two processes replay it (the posting worker before its claims, the reconciler on each
    /// run) while the posting worker may append: every append and every replay holds an
    /// exclusive `flock` on the file for its whole length, so a record appended between a
    /// replay's read and its truncation cannot be lost.
    public func replay(into store: any PostingStore, now: Int64) throws(StoreError) -> (applied: Int, skipped: [String]) {
        try serial.withLock { _ throws(StoreError) in
            let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
            guard fd >= 0 else { return (0, []) }  // nothing can have been journaled where no file can be
            defer { _ = close(fd) }
            do { try Self.lockFile(fd, path) } catch {
                throw .database(DatabaseFailure(kind: .io, message: "\(error)", context: "outcome journal lock"))
            }
            let (records, _) = Self.parse(Self.readAll(path))
            var applied = 0
            var skipped: [String] = []
            for r in records {
                do throws(StoreError) {
                    _ = try store.recordOutcome(postId: r.postId, attemptId: r.attemptId, outcome: r.outcome, now: now)
                    applied += 1
                } catch .conflict(let why) {
                    skipped.append("\(r.postId): \(why)")
                } catch .notFound(let what) {
                    skipped.append("\(r.postId): \(what) not found")
                } catch {
                    throw error  // the store failed: keep the journal for the next replay
                }
            }
            // Emptied only after every record is in the store.
            if !records.isEmpty { _ = ftruncate(fd, 0) }
            return (applied, skipped)
        }
    }

    /// An exclusive `flock` held until `fd` is closed (shared across processes).
    static func lockFile(_ fd: Int32, _ path: String) throws(SystemCallError) {
        while flock(fd, LOCK_EX) != 0 {
            if errno != EINTR { throw SystemCallError("flock(\(path))", errno) }
        }
    }

    static func readAll(_ path: String) -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return [] }
        defer { _ = close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        return out
    }

    static func parse(_ bytes: [UInt8]) -> (records: [Record], tornBytes: Int) {
        var records: [Record] = []
        var offset = 0
        while bytes.count - offset >= 8 {
            var length = 0
            for i in 0..<4 { length = length << 8 | Int(bytes[offset + i]) }
            var crc: UInt32 = 0
            for i in 4..<8 { crc = crc << 8 | UInt32(bytes[offset + i]) }
            guard length <= 1 << 20, bytes.count - offset - 8 >= length else { break }
            let payload = Array(bytes[(offset + 8)..<(offset + 8 + length)])
            guard CRC32.checksum(payload) == crc, let record = decode(String(decoding: payload, as: UTF8.self)) else { break }
            records.append(record)
            offset += 8 + length
        }
        return (records, bytes.count - offset)
    }

    static func encode(_ r: Record) -> String {
        let (name, value, extra): (String, String, Int64)
        var cid: String?
        switch r.outcome {
        case .published(let id, let c): (name, value, extra, cid) = ("published", id, 0, c)
        case .noEffect(let reason, let retryAt): (name, value, extra) = ("noEffect", reason, retryAt)
        case .unknown(let reason, let verifyAt): (name, value, extra) = ("unknown", reason, verifyAt)
        case .permanent(let reason): (name, value, extra) = ("permanent", reason, 0)
        }
        let clean = { (s: String) in String(s.map { $0 == "\t" || $0 == "\n" ? " " : $0 }) }
        // A Bluesky cid rides in a 7th field (older journals have 6: both are read).
        return ([r.postId, r.attemptId, name, clean(value), String(extra), String(r.at)] + (cid.map { [$0] } ?? [])).map(clean).joined(separator: "\t")
    }

    static func decode(_ line: String) -> Record? {
        let f = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        guard f.count == 6 || f.count == 7, let extra = Int64(f[4]), let at = Int64(f[5]) else { return nil }
        let outcome: AttemptOutcome
        switch f[2] {
        case "published": outcome = .published(platformId: f[3], cid: f.count == 7 ? f[6] : nil)
        case "noEffect": outcome = .noEffect(reason: f[3], retryAt: extra)
        case "unknown": outcome = .unknown(reason: f[3], verifyAt: extra)
        case "permanent": outcome = .permanent(reason: f[3])
        default: return nil
        }
        return Record(postId: f[0], attemptId: f[1], outcome: outcome, at: at)
    }
}

/// A failed system call in the store's own file handling (the journal).
public struct SystemCallError: Error, Equatable, Sendable, CustomStringConvertible {
    public var call: String
    public var errno: Int32
    public init(_ call: String, _ errno: Int32) {
        self.call = call
        self.errno = errno
    }
    public var description: String { "\(call): \(String(cString: strerror(errno))) (errno \(errno))" }
}

/// CRC-32 (IEEE 802.3), for the journal's record check.
enum CRC32 {
    static let table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = c & 1 != 0 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func checksum(_ bytes: [UInt8]) -> UInt32 {
        var crc: UInt32 = 0xFFFF_FFFF
        for b in bytes { crc = table[Int((crc ^ UInt32(b)) & 0xff)] ^ (crc >> 8) }
        return crc ^ 0xFFFF_FFFF
    }
}
