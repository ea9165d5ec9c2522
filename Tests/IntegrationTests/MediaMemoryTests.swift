import Glibc
import Testing
import SteadyCore
import SteadyMedia
import SteadyPlatforms
import SteadyStore
import SteadySystem
import SteadyTestSupport

/// The memory goal through the real posting worker: a 64 MiB video uploads to the
/// simulator (64 X segments of the default 1 MiB chunk) while the worker's peak RSS stays
/// within its idle RSS + 2 × chunk + 10 MB. (The benchmark size is 200 MB: set
/// `megabytes` to 200 for it; a debug build spends about 3 minutes making and hashing the
/// file, too long for the suite.) Throughput is printed.
@Suite("media memory", .serialized, .timeLimit(.minutes(4)))
struct MediaMemoryTests {
    /// /proc/PID/status `VmHWM` (peak resident set) in bytes.
    static func peakRSS(_ pid: Int32) -> Int64 {
        for line in (Files.read("/proc/\(pid)/status") ?? "").split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return (Int64(line.filter(\.isNumber)) ?? 0) * 1024
        }
        return 0
    }

    static let megabytes = 64

    @Test("a 64 MiB X video streams from the media store: the posting worker's peak RSS grows by less than 2 × chunk + 10 MB; the post lands with the video's SHA-256")
    func bigVideoBoundedMemory() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "mem-x", nil)], leaseMillis: 30_000)
        defer { d.cleanUp() }
        let mib = 1 << 20, total = Self.megabytes * mib
        let path = d.dir.path + "/video.mp4"
        let file = try Descriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
        var hasher = SHA256()
        for n in 0..<(total / mib) {
            var block = MediaFixture.filler(mib, n)
            if n == 0 { block.replaceSubrange(0..<12, with: [0, 0, 0, 0x18] + Array("ftypisom".utf8)) }
            try block.withUnsafeBytes { try file.writeAll($0) }
            hasher.update(block)
        }
        file.close()
        let sha = hasher.finalizeHex()
        try Files.makeDirectories(d.dir.path + "/state", mode: 0o700)
        let media = try MediaStore(directory: d.dir.path + "/state/media")
        let source = try Descriptor.open(path, O_RDONLY)
        let put = try media.put(from: source, name: path)
        source.close()
        #expect(put.item.sha256 == sha)
        let text = "a \(Self.megabytes) MiB video"
        // Due a few seconds after the start, so the idle worker can be measured first.
        let due = SteadyClock.wallMillis() + 6_000
        let store = try SQLitePostStore(path: d.storePath)
        let id = try store.insert([NewPost(account: "mem-x", platform: "x", text: text, dueAt: due, contentHash: ContentNormalizer.hash(text),
                                           media: [MediaAttachment(sha256: sha, type: put.item.type, bytes: put.item.bytes, alt: "big")])],
                                  now: SteadyClock.wallMillis())[0].id
        try d.start()
        let pid = try d.postingPid()
        let idle = Self.peakRSS(pid)
        #expect(SteadyClock.wallMillis() < due, "measured before the post was due")
        try d.waitMediaStates([id], "posted", timeoutMillis: 180_000)
        let peak = Self.peakRSS(pid)
        #expect(try d.postingPid() == pid, "the same worker did it")
        let truth = try sim.posts("mem-x").first?["media"]?.array ?? []
        #expect(truth.map { $0["sha256"]?.string } == [sha])
        let bound = idle + 2 * Int64(MediaStore.defaultChunkSize) + 10 * Int64(mib)
        let line = d.log().split(separator: "\n").first { $0.contains("media 1/1 uploaded") }.map(String.init) ?? "-"
        print("media memory: idle peak RSS \(idle / 1024) KiB, after the \(Self.megabytes) MiB upload \(peak / 1024) KiB (bound \(bound / 1024) KiB); \(line)")
        #expect(peak <= bound, "peak RSS \(peak) > idle \(idle) + 2 × chunk + 10 MB")
    }
}
