import FoundationEssentials
import Glibc
import SteadyControl
import SteadyCore
import SteadyProtocol
import SteadySystem

/// Issue 15's media benchmarks: a video (an MP4 by its magic bytes, padded with pseudo-random
/// bytes) uploaded to the simulator's X endpoint by the real posting worker, scheduled through
/// the product's interface (`posting.media_put` with the open file, then `posting.create`),
/// beside `curl` sending the same bytes as the same requests (INIT, one APPEND per segment of
/// the worker's size, multipart field `media`, FINALIZE) in one process with `--next`, so
/// the connection is reused. Both are timed the same way, from the simulator's request log:
/// INIT's arrival to FINALIZE's answer. Meanwhile the posting worker's RSS is sampled every
/// 10 ms, and its VmHWM (reset just before the upload) read after it.
enum MediaUpload {
    static let workerAccount = "bench-x-worker"
    static let curlAccount = "bench-x-curl"
    /// One upload as the simulator saw it: INIT → FINALIZE (ms), the median APPEND (ms), the
    /// uploader's own time from an answer to its next request (ms).
    typealias Round = (total: Int64, append: Double, between: Double)

    static func run(megabytes: Int, chunkBytes: Int, rounds: Int) {
        let total = megabytes * 1_000_000
        var toml = "[[accounts]]\nname = \"\(workerAccount)\"\nplatform = \"x\"\nbase_url = \"BASE\"\ncredentials = \"\(workerAccount).json\"\n"
        toml += "quota = { hourly = 1000000, daily = 1000000 }\n\n[media]\nchunk_bytes = \(chunkBytes)\n\n[workers.posting]\nconcurrency = 1\n"
        let prepared = BenchDaemonPlaceholder.prepare(toml: toml)
        let video = prepared.dir + "/video.mp4"
        let segmentsDir = prepared.dir + "/segments"
        let segments = writeVideo(video, bytes: total, segmentBytes: chunkBytes, segmentsDir: segmentsDir)
        let sim = BenchSim(accounts: ["x:\(workerAccount)", "x:\(curlAccount)"], credentialsDir: prepared.dir + "/credentials")
        let config = (Files.read(prepared.config) ?? "").replacingAll("BASE", sim.base)
        try? Files.writeAtomically(prepared.config, config)
        let d = BenchDaemon(workerToml: "", reuse: prepared.asReuse())
        defer { d.stop(); sim.stop() }
        guard let pid = d.waitAllRunning().workers.first(where: { $0.role == .posting })?.pid else { die("media: no posting worker") }
        pause(millis: 2000)
        let idleBefore = ProcessStats.residentBytes(pid: pid)

        // Into the daemon's media store as the CLI does it: the open file over the control socket.
        let sha: String
        do {
            let fd = try Descriptor.open(video, O_RDONLY)
            defer { fd.close() }
            let answer = try ControlClient(socketPath: d.socket, timeoutMillis: 600_000)
                .call(method: "posting.media_put", body: Array(#"{"names":["video.mp4"]}"#.utf8), descriptors: [fd])
            struct Put: Decodable { struct Item: Decodable { var sha256: String; var bytes: Int }; var media: [Item] }
            let put = try JSONDecoder().decode(Put.self, from: Data(answer))
            guard let item = put.media.first, item.bytes == total else { die("media: media_put answered \(String(decoding: answer, as: UTF8.self))") }
            sha = item.sha256
        } catch { die("media: posting.media_put: \(error)") }
        pause(millis: 2000)
        let idle = ProcessStats.residentBytes(pid: pid)

        // Rounds of the worker's upload then curl's (one each is at the mercy of whatever else
        // this shared machine runs for a second): VmHWM reset before the first, RSS sampled.
        _ = Files.writeRaw("/proc/\(pid)/clear_refs", "5")
        var sampledPeak = idle
        var workerRuns: [Round] = []
        var curlRuns: [Round] = []
        var cpu = (simWorker: 0.0, worker: 0.0, simCurl: 0.0, curl: 0.0)
        for round in 0..<rounds {
            let simCPU0 = ProcessStats.cpuNanos(pid: sim.process.pid) ?? 0
            let workerCPU0 = ProcessStats.cpuNanos(pid: pid) ?? 0
            let body = "{\"posts\":[{\"account\":\"\(workerAccount)\",\"text\":\"media bench \(round)\",\"at\":\(SteadyClock.wallMillis()),\"media\":[{\"sha256\":\"\(sha)\"}]}]}"
            do { _ = try d.client.call(method: "posting.create", body: Array(body.utf8)) } catch { die("media: posting.create: \(error)") }
            let deadline = SteadyClock.monotonicMillis() + 600_000
            var live = false
            var tick = 0
            while !live && SteadyClock.monotonicMillis() < deadline {
                sampledPeak = max(sampledPeak, ProcessStats.residentBytes(pid: pid))
                pause(millis: 10)
                tick += 1
                if tick % 25 == 0 { live = postsCarrying(sim, account: workerAccount, sha: sha) == round + 1 }
            }
            guard live else { die("media: the post with the video is not on the simulator after 10 minutes; see \(d.dir)/daemon.log") }
            cpu.simWorker += Double((ProcessStats.cpuNanos(pid: sim.process.pid) ?? 0) - simCPU0) / 1e9
            cpu.worker += Double((ProcessStats.cpuNanos(pid: pid) ?? 0) - workerCPU0) / 1e9
            guard let worker = window(sim, account: workerAccount, appends: segments.count) else { die("media: the worker's upload is not in the request log") }
            workerRuns.append(worker)

            // curl: INIT, then every APPEND and FINALIZE in one process (one connection).
            let simCPU1 = ProcessStats.cpuNanos(pid: sim.process.pid) ?? 0
            cpu.curl += curlUpload(sim, dir: prepared.dir, bytes: total, segments: segments)
            cpu.simCurl += Double((ProcessStats.cpuNanos(pid: sim.process.pid) ?? 0) - simCPU1) / 1e9
            guard let curl = window(sim, account: curlAccount, appends: segments.count) else { die("media: curl's upload is not in the request log") }
            curlRuns.append(curl)
        }
        let hwm = peakResident(pid)

        let mb = Double(total) / 1e6
        func rates(_ runs: [Round]) -> Sample { Sample(runs.map { mb / (Double($0.total) / 1000) }) }
        func describe(_ runs: [Round]) -> String {
            let r = rates(runs)
            let windows = Sample(runs.map { Double($0.total) })
            return "\(fmt(r.p(0.5), 1)) MB/s | median of \(runs.count) (\(r.values.map { String(Int($0.rounded())) }.joined(separator: ", ")) MB/s); \(Int(windows.p(0.5))) ms INIT → FINALIZE, APPEND p50 \(Int(Sample(runs.map(\.append)).p(0.5))) ms, \(fmt(Sample(runs.map(\.between)).p(0.5), 1)) ms from an answer to the next request"
        }
        let n = Double(rounds)
        let chunk = "\(chunkBytes / 1_048_576) MiB"
        let what = "\(megabytes) MB MP4, \(segments.count) APPENDs of \(chunk)"
        out("| M1 X upload by the posting worker (\(what)) | \(describe(workerRuns)) | a round: simulator CPU \(fmt(cpu.simWorker / n, 2)) s, worker CPU \(fmt(cpu.worker / n, 2)) s (the whole post) | |")
        out("| M1 curl, same bytes and requests, one process (\(what)) | \(describe(curlRuns)) | a round: simulator CPU \(fmt(cpu.simCurl / n, 2)) s, curl CPU \(fmt(cpu.curl / n, 2)) s | |")
        out("| M1 worker ÷ curl (medians) | \(Int((rates(workerRuns).p(0.5) / rates(curlRuns).p(0.5) * 100).rounded())) % | | | goal ≥ 80 % |")
        let mib = 1_048_576.0
        let goal = Double(idleBefore) + 2 * Double(chunkBytes) + 10 * mib
        let peak = max(sampledPeak, hwm)
        out("| M2 posting worker RSS during the \(rounds) uploads | idle \(fmt(Double(idleBefore) / mib, 1)) MB (\(fmt(Double(idle) / mib, 1)) MB after the media_put) | peak \(fmt(Double(peak) / mib, 1)) MB (VmHWM \(fmt(Double(hwm) / mib, 1)), sampled every 10 ms \(fmt(Double(sampledPeak) / mib, 1))) | goal ≤ idle + 2 × \(chunk) + 10 MB = \(fmt(goal / mib, 1)) MB | \(peak <= UInt64(goal) ? "met" : "missed") |")
    }

    /// The video: `ftyp` box (brand `isom`), then SplitMix64 bytes; also cut into segment files
    /// for curl (outside every timed region). Returns the segment files in order.
    static func writeVideo(_ path: String, bytes total: Int, segmentBytes: Int, segmentsDir: String) -> [String] {
        var rng = SplitMix64(seed: 15)
        var segments: [String] = []
        do {
            try Files.makeDirectories(segmentsDir, mode: 0o700)
            let file = try Descriptor.open(path, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
            defer { file.close() }
            var written = 0
            var block = [UInt8](repeating: 0, count: segmentBytes)
            while written < total {
                let n = min(segmentBytes, total - written)
                block.withUnsafeMutableBytes { raw in
                    let words = raw.bindMemory(to: UInt64.self)
                    for i in 0..<words.count { words[i] = rng.next() }
                }
                if written == 0 {
                    // size 24, "ftyp", major brand "isom", minor version 0x200, brands isom iso2
                    let box: [UInt8] = [0, 0, 0, 24] + Array("ftypisom".utf8) + [0, 0, 2, 0] + Array("isomiso2".utf8)
                    block.replaceSubrange(0..<box.count, with: box)
                }
                let number = String(segments.count)
                let segment = segmentsDir + "/" + String(repeating: "0", count: max(0, 4 - number.count)) + number
                let out = try Descriptor.open(segment, O_WRONLY | O_CREAT | O_TRUNC, mode: 0o600)
                try block.withUnsafeBytes { raw in
                    try file.writeAll(UnsafeRawBufferPointer(rebasing: raw[0..<n]))
                    try out.writeAll(UnsafeRawBufferPointer(rebasing: raw[0..<n]))
                }
                out.close()
                segments.append(segment)
                written += n
            }
        } catch { die("media: cannot write the video: \(error)") }
        return segments
    }

    /// How many of the account's posts on the simulator carry exactly the one medium `sha`.
    static func postsCarrying(_ sim: BenchSim, account: String, sha: String) -> Int {
        struct Posts: Decodable {
            struct Item: Decodable { struct Media: Decodable { var sha256: String }; var media: [Media]? }
            var posts: [Item]
        }
        guard let body = sim.admin(.get, "/_sim/posts?account=\(account)"),
              let posts = try? JSONDecoder().decode(Posts.self, from: Data(body)) else { return 0 }
        return posts.posts.filter { $0.media?.map(\.sha256) == [sha] }.count
    }

    /// INIT's arrival to FINALIZE's answer (ms) of the account's upload, from the request log
    /// (its `POST /2/media/upload`s are INIT, the APPENDs and FINALIZE, in that order), and the
    /// median APPEND's time in the simulator (its body read, then handled).
    /// `between`: the window less the time requests were in the simulator, per gap between two
    /// requests: the uploader's own time from an answer to its next request.
    static func window(_ sim: BenchSim, account: String, appends: Int) -> Round? {
        struct Log: Decodable {
            struct Record: Decodable { var at_ms: Int64; var duration_ms: Int64; var method: String; var path: String; var account: String?; var status: Int }
            var requests: [Record]
        }
        guard let body = sim.admin(.get, "/_sim/requests?limit=2000"),
              let log = try? JSONDecoder().decode(Log.self, from: Data(body)) else { return nil }
        // The newest upload of the account: INIT (202), the APPENDs (200), FINALIZE (201).
        let all = log.requests.filter { $0.account == account && $0.method == "POST" && $0.path == "/2/media/upload" }
        let uploads = Array(all.suffix(appends + 2))
        guard uploads.count == appends + 2, uploads.allSatisfy({ (200..<300).contains($0.status) }),
              let first = uploads.first, let last = uploads.last, first.status == 202, last.status == 201 else {
            out("  \(account): \(uploads.count) uploads logged, \(appends + 2) expected: \(uploads.map(\.status))")
            return nil
        }
        let append = Sample(uploads.dropFirst().dropLast().map { Double($0.duration_ms) }).p(0.5)
        let total = (last.at_ms + last.duration_ms) - (first.at_ms - first.duration_ms)
        let inside = uploads.reduce(Int64(0)) { $0 + $1.duration_ms }
        return (total, append, Double(total - inside) / Double(uploads.count - 1))
    }

    /// curl with the account's token: INIT (its own process: the media id comes from its
    /// answer), then one process for every APPEND and FINALIZE, joined by `--next`. "Expect:"
    /// as the product sends it (no 100-continue round trip). Returns curl's CPU seconds.
    static func curlUpload(_ sim: BenchSim, dir: String, bytes: Int, segments: [String]) -> Double {
        struct Credentials: Decodable { var access_token: String }
        guard let text = Files.read(dir + "/credentials/\(curlAccount).json"),
              let token = try? JSONDecoder().decode(Credentials.self, from: Data(text.utf8)).access_token else { die("media: no credentials for \(curlAccount)") }
        let url = sim.base + "/2/media/upload"
        let common = "url = \"\(url)\"\nheader = \"Authorization: Bearer \(token)\"\nheader = \"Expect:\"\nsilent\nshow-error\n"
        let initConfig = dir + "/curl-init.conf"
        let initOut = dir + "/curl-init.json"
        try? Files.writeAtomically(initConfig, common + "data = \"command=INIT&total_bytes=\(bytes)&media_type=video%2Fmp4&media_category=tweet_video\"\noutput = \"\(initOut)\"\n")
        var cpu = runCurl(["-K", initConfig])
        struct Init: Decodable { struct D: Decodable { var id: String }; var data: D }
        guard let answer = Files.read(initOut), let id = try? JSONDecoder().decode(Init.self, from: Data(answer.utf8)).data.id else {
            die("media: curl's INIT answered \(Files.read(initOut) ?? "nothing")")
        }
        var config = ""
        for (i, segment) in segments.enumerated() {
            config += common + "form = \"command=APPEND\"\nform = \"media_id=\(id)\"\nform = \"segment_index=\(i)\"\n"
            config += "form = \"media=@\(segment);type=application/octet-stream\"\noutput = \"/dev/null\"\nnext\n"
        }
        config += common + "data = \"command=FINALIZE&media_id=\(id)\"\noutput = \"/dev/null\"\n"
        let uploadConfig = dir + "/curl-upload.conf"
        try? Files.writeAtomically(uploadConfig, config)
        cpu += runCurl(["-K", uploadConfig])
        return cpu
    }

    /// Runs curl to its end (exit 0 or the benchmark dies); its CPU seconds.
    static func runCurl(_ arguments: [String]) -> Double {
        var before = rusage()
        getrusage(Int32(RUSAGE_CHILDREN.rawValue), &before)
        let process: SpawnedProcess
        do {
            process = try spawnProcess(path: "/usr/bin/curl", arguments: ["curl"] + arguments, environment: ["PATH=/usr/bin:/bin"], passFds: [])
        } catch { die("media: cannot start curl: \(error)") }
        var status: Int32 = 0
        waitpid(process.pid, &status, 0)
        process.pidfd.close()
        guard status == 0 else { die("media: curl \(arguments.joined(separator: " ")) exited with status \(status)") }
        var after = rusage()
        getrusage(Int32(RUSAGE_CHILDREN.rawValue), &after)
        func seconds(_ t: timeval) -> Double { Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return seconds(after.ru_utime) + seconds(after.ru_stime) - seconds(before.ru_utime) - seconds(before.ru_stime)
    }

    /// /proc/PID/status VmHWM in bytes.
    static func peakResident(_ pid: Int32) -> UInt64 {
        for line in (Files.read("/proc/\(pid)/status") ?? "").split(separator: "\n") where line.hasPrefix("VmHWM:") {
            return (UInt64(line.filter(\.isNumber)) ?? 0) * 1024
        }
        return 0
    }

    static func pause(millis: Int) {
        var ts = timespec(tv_sec: millis / 1000, tv_nsec: (millis % 1000) * 1_000_000)
        nanosleep(&ts, nil)
    }
}

extension Files {
    /// Writes `text` to an existing file (a /proc control file), not atomically; false on failure.
    static func writeRaw(_ path: String, _ text: String) -> Bool {
        let fd = open(path, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return Array(text.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) } == text.utf8.count
    }
}
