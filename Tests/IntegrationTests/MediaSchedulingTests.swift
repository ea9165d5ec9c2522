import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import SteadyProtocol
import SteadySystem
import SteadyTestSupport

/// Scheduling posts with media through the real CLI and daemon (issue 15): the CLI opens the
/// files and passes the open descriptors; the posting worker copies them into its media store
/// and checks them against the platform's rules. Posts are scheduled for 2099, so nothing is
/// uploaded here: this is the scheduling half.
@Suite("scheduling media", .serialized, .timeLimit(.minutes(2)))
struct MediaSchedulingTests {
    static let later = "2099-01-02T03:04:05Z"

    /// A PNG-signed file of `count` bytes, different for each `seed`.
    static func png(_ count: Int, seed: UInt8) -> [UInt8] {
        var bytes: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13] + Array("IHDR".utf8)
        var x = UInt32(seed) &* 2_654_435_761 &+ 1
        while bytes.count < count {
            x = x &* 1_664_525 &+ 1_013_904_223
            bytes.append(UInt8(truncatingIfNeeded: x >> 24))
        }
        return bytes
    }

    static func write(_ path: String, _ bytes: [UInt8]) throws {
        let d = try Descriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o644)
        defer { d.close() }
        try bytes.withUnsafeBytes { try d.writeAll($0, what: path) }
    }

    static func sha(_ bytes: [UInt8]) -> String {
        var h = SHA256()
        bytes.withUnsafeBytes { h.update($0) }
        return h.finalizeHex()
    }

    @Test("--media with 4 PNGs on X: jobs --json lists 4 media in order with alt text; the sources are deleted at once and the copies stay")
    func fourImagesOnX() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "media-x", nil)])
        defer { d.cleanUp() }
        try d.start()
        let files = TempDir("steadypost-media-src")
        var args = ["post", "--account", "media-x", "--at", Self.later]
        var expected: [(sha: String, bytes: Int, alt: String?)] = []
        for i in 1...4 {
            let bytes = Self.png(20_000 + i * 1_000, seed: UInt8(i))
            let path = "\(files.path)/photo\(i).png"
            try Self.write(path, bytes)
            args += ["--media", path]
            let alt: String? = i == 3 ? nil : "picture number \(i)"
            if let alt { args += ["--alt", alt] }
            expected.append((Self.sha(bytes), bytes.count, alt))
        }
        let posted = d.cli(args + ["four pictures"])
        #expect(posted.code == 0, "\(posted.stderr)")
        let id = posted.stdout.trimmed
        // The sources go the moment the command returns: the daemon has its own copies.
        files.remove()
        #expect(!Files.exists("\(files.path)/photo1.png"))

        let rows = try JSON.parse(d.cli(["jobs", "--json"]).stdout).array ?? []
        let row = try #require(rows.first { $0["id"]?.string == id })
        #expect(row["state"]?.string == "scheduled")
        let media = row["media"]?.array ?? []
        #expect(media.count == 4)
        for (m, e) in zip(media, expected) {
            #expect(m["sha256"]?.string == e.sha)
            #expect(m["type"]?.string == "png")
            #expect(m["bytes"]?.int == e.bytes)
            #expect(m["alt"] == (e.alt.map(JSON.init) ?? .null))
            #expect(Files.exists("\(d.dir.path)/state/media/\(e.sha.prefix(2))/\(e.sha)"), "the store holds \(e.sha)")
        }
        let shown = d.cli(["show", id])
        #expect(shown.code == 0 && shown.stdout.contains("media:") && shown.stdout.contains("picture number 4"), "\(shown.stdout)")
        #expect(d.cli(["jobs"]).stdout.contains("4 png"))
    }

    @Test("the source deleted right after scheduling: the post still goes out, once, with those very bytes and the alt text")
    func sourceDeletedPostStillGoesOut() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.mastodon, "media-m", nil)])
        defer { d.cleanUp() }
        try d.start()
        let files = TempDir("steadypost-media-src")
        let bytes = Self.png(30_000, seed: 9)
        let path = "\(files.path)/chart.png"
        try Self.write(path, bytes)
        let posted = d.cli(["post", "--account", "media-m", "--media", path, "--alt", "a chart", "due now, source gone"])
        #expect(posted.code == 0, "\(posted.stderr)")
        files.remove()
        let id = posted.stdout.trimmed
        _ = try waitFor("the post to be published", timeoutMillis: 30_000) { () -> Bool? in
            let rows = try JSON.parse(d.cli(["jobs", "--json"]).stdout).array ?? []
            return rows.first { $0["id"]?.string == id }?["state"]?.string == "posted" ? true : nil
        }
        let truth = try sim.posts("media-m").filter { $0["text"]?.string == "due now, source gone" }
        #expect(truth.count == 1)
        let media = truth.first?["media"]?.array ?? []
        #expect(media.map { $0["sha256"]?.string } == [Self.sha(bytes)])
        #expect(media.first?["alt"]?.string == "a chart")
    }

    @Test("bad media is refused naming the file and rule, exit 1 (2 for usage), and nothing of the batch is scheduled")
    func badMediaRefused() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "bad-x", nil), (.bluesky, "bad-sky", nil)])
        defer { d.cleanUp() }
        try d.start()
        let files = TempDir("steadypost-media-bad")
        let dir = files.path
        var five: [String] = []
        for i in 1...5 {
            try Self.write("\(dir)/photo\(i).png", Self.png(5_000, seed: UInt8(i)))
            five += ["--media", "\(dir)/photo\(i).png"]
        }
        try Self.write("\(dir)/notes.png", Array("just some text, renamed\n".utf8))
        try Self.write("\(dir)/big.png", Self.png(8 << 20, seed: 9))
        func refused(_ args: [String], code: Int32 = 1, naming file: String, _ rule: String) {
            let r = d.cli(["post"] + args + ["--at", Self.later, "text"])
            #expect(r.code == code, "\(args): exit \(r.code): \(r.stderr)")
            #expect(r.stderr.contains(file) && r.stderr.contains(rule), "\(args): \(r.stderr)")
        }
        refused(["--account", "bad-x", "--media", "\(dir)/notes.png"], naming: "notes.png", "not an image or video")
        refused(["--account", "bad-x"] + five, naming: "photo5.png", "X takes at most 4 images a post")
        refused(["--account", "bad-sky", "--media", "\(dir)/big.png"], naming: "big.png", "Bluesky images are at most")
        refused(["--account", "bad-x", "--media", "\(dir)/missing.png"], naming: "missing.png", "No such file")
        // Unreadable: a path the CLI can open but not read as a file (a directory) always; a
        // mode-000 file too when the tests do not run as root (root opens it regardless).
        try Files.makeDirectories("\(dir)/folder.png")
        refused(["--account", "bad-x", "--media", "\(dir)/folder.png"], naming: "folder.png", "not a regular file")
        if geteuid() != 0 {
            try Self.write("\(dir)/locked.png", Self.png(5_000, seed: 7))
            _ = chmod("\(dir)/locked.png", 0)
            refused(["--account", "bad-x", "--media", "\(dir)/locked.png"], naming: "locked.png", "Permission denied")
        }
        refused(["--account", "bad-x", "--alt", "no picture before me", "--media", "\(dir)/photo1.png"], code: 2, naming: "--alt", "--media")

        // A batch: line 1 is fine, line 2 names five images on X: nothing is scheduled.
        let lines = [
            JSON.obj([("text", JSON("one picture")), ("at", JSON(Self.later)), ("media", .array([.obj([("path", JSON("\(dir)/photo1.png")), ("alt", JSON("a"))])]))]),
            JSON.obj([("text", JSON("five pictures")), ("at", JSON(Self.later)),
                      ("media", .array((1...5).map { JSON.obj([("path", JSON("\(dir)/photo\($0).png"))]) }))]),
        ]
        try Files.writeAtomically("\(dir)/batch.jsonl", lines.map(\.serialized).joined(separator: "\n") + "\n")
        let batch = d.cli(["post", "--account", "bad-x", "--file", "\(dir)/batch.jsonl"])
        #expect(batch.code == 1)
        #expect(batch.stderr.contains("line 2") && batch.stderr.contains("photo5.png") && batch.stderr.contains("at most 4"), "\(batch.stderr)")
        // A batch line naming a missing file is refused by the CLI before anything is sent.
        try Files.writeAtomically("\(dir)/batch2.jsonl", JSON.obj([("text", JSON("gone")), ("media", .array([.obj([("path", JSON("\(dir)/gone.png"))])]))]).serialized + "\n")
        let batch2 = d.cli(["post", "--account", "bad-x", "--file", "\(dir)/batch2.jsonl"])
        #expect(batch2.code == 1 && batch2.stderr.contains("gone.png"), "\(batch2.stderr)")

        let rows = try JSON.parse(d.cli(["jobs", "--json"]).stdout).array
        #expect(rows?.count == 0, "nothing scheduled from a refused command: \(rows ?? [])")

        // The same batch without its bad line goes through, media and all.
        try Files.writeAtomically("\(dir)/batch.jsonl", lines[0].serialized + "\n")
        let good = d.cli(["post", "--account", "bad-x", "--file", "\(dir)/batch.jsonl", "--json"])
        #expect(good.code == 0, "\(good.stderr)")
        #expect(try JSON.parse(good.stdout)["posts"]?[0]?["media"]?.array?.count == 1)
    }
}
