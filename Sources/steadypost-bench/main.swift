import Glibc
import SteadyCore
import SteadyProtocol
import SteadySystem

// steadypost-bench: the benchmark harness (not a test). Each subcommand prints Markdown rows
// for BENCHMARKS.md; scripts/bench.sh runs them all on a release build.
//
//   steadypost-bench p1 [KILLS]      restart latency: SIGKILL a worker → replacement ready
//   steadypost-bench p4 [ROUNDS]     request/response over the worker socket vs raw socketpair
//   steadypost-bench p56 [SECONDS]   idle CPU of all processes; RSS/PSS of each
//   steadypost-bench threads [THREADS [PARTS [SINGLES]]]   issue 16: part N answered → part N+1's create
//                                    at the simulator over THREADS (200) threads of PARTS (5), with P2
//                                    from SINGLES (1,000) single posts due 20 ms apart in the same run
//   steadypost-bench chaos [--posts N] [--seed S] [--spread-ms MS] [--kill-every-ms MS]
//                    [--supervisor-kill-every-ms MS] [--max-kills N] [--settle-ms MS]
//                    [--quota N] [--quota-window-ms MS] [--media-share N] [--threads N]
//                    [--thread-gap-ms MS] [--keep]
//                                    the chaos run: faults, kills, then an audit (exit 1 if unclean)
//   steadypost-bench leaks [POSTS [RSS_PCT]]  F12: POSTS (10,000) leave every worker's fds flat
//                                    and RSS within RSS_PCT (20) % of its value after a warm-up
//   steadypost-bench media [MEGABYTES [CHUNK_BYTES [ROUNDS]]]   issue 15: a MEGABYTES (200) MB video to
//                                    the simulator's X upload through the posting worker vs curl,
//                                    ROUNDS (3) times each, alternating, with `[media] chunk_bytes`
//                                    CHUNK_BYTES (4 MiB); the worker's peak RSS
//   steadypost-bench p8 [LEASES]     browser pool: pages/s with 2 browsers, lease latency, PSS, recycle cost
//   steadypost-bench stamp FILE|-    the bare child: writes "<pid> <CLOCK_MONOTONIC ns>" and waits
//   steadypost-bench echo            raw echo over fd 3 (the socketpair peer for p4's baseline)
//   steadypost-bench claim-race DB OWNER READY_FILE [BUSY_MS]   the claim path in its own process (F06/F16 tests)
//   steadypost-bench token-race STATE_DIR ACCOUNT PLATFORM BASE_URL CREDENTIALS_FILE GO_FILE
//                                    one renewer of an account's refused tokens (the token race test)

let args = CommandLine.arguments
let here: String = {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink("/proc/self/exe", &buf, buf.count - 1)
    let exe = String(decoding: buf[0..<max(0, n)].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    return String(exe[..<(exe.lastIndex(of: "/") ?? exe.endIndex)])
}()

func out(_ s: String) {
    let b = Array((s + "\n").utf8)
    _ = b.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

/// The daemon a benchmark runs, stopped by `die` too so no failure leaves processes behind.
nonisolated(unsafe) var activeDaemon: BenchDaemon?

/// The simulator's and the daemon's pids (slot 0 and 1), read by the SIGTERM/SIGINT handler:
/// a run stopped from outside (a test's backstop, ^C) takes its processes with it.
nonisolated(unsafe) let childPids: UnsafeMutablePointer<Int32> = {
    let p = UnsafeMutablePointer<Int32>.allocate(capacity: 2)
    p.initialize(repeating: 0, count: 2)
    return p
}()

for sig in [SIGTERM, SIGINT] {
    signal(sig) { _ in
        // Only async-signal-safe calls here.
        for i in 0..<2 where childPids[i] > 0 { kill(childPids[i], SIGKILL) }
        _exit(1)
    }
}

func die(_ s: String) -> Never {
    activeDaemon?.stop()
    if childPids[0] > 0 { kill(childPids[0], SIGTERM) }
    let b = Array(("steadypost-bench: " + s + "\n").utf8)
    _ = b.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(1)
}

switch args.count > 1 ? args[1] : "" {
case "stamp":
    let line = "\(getpid()) \(SteadyClock.monotonicNanos())\n"
    if args.count > 2 && args[2] != "-" {
        let fd = open(args[2], O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        _ = Array(line.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    } else {
        _ = Array(line.utf8).withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
        exit(0)
    }
    while true { pause() }
case "echo":
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBytes { recv(3, $0.baseAddress, $0.count, 0) }
        if n <= 0 { exit(0) }
        _ = buf.withUnsafeBytes { send(3, $0.baseAddress, n, 0) }
    }
case "p1":
    P1.run(kills: args.count > 2 ? Int(args[2]) ?? 100 : 100)
case "p4":
    P4.run(rounds: args.count > 2 ? Int(args[2]) ?? 10_000 : 10_000)
case "p2":
    PostingBench.p2(count: args.count > 2 ? Int(args[2]) ?? 1000 : 1000)
case "p3":
    PostingBench.p3(count: args.count > 2 ? Int(args[2]) ?? 1000 : 1000)
case "p7":
    PostingBench.p7()
case "threads":
    ThreadBench.run(threads: args.count > 2 ? Int(args[2]) ?? 200 : 200, parts: args.count > 3 ? Int(args[3]) ?? 5 : 5,
                    singles: args.count > 4 ? Int(args[4]) ?? 1000 : 1000)
case "leaks":
    Leaks.run(posts: args.count > 2 ? Int(args[2]) ?? 10_000 : 10_000, rssPercent: args.count > 3 ? Double(args[3]) ?? 20 : 20)
case "chaos":
    Chaos.run(ChaosOptions.parse(args.dropFirst(2)))
case "claim-race" where args.count == 5 || args.count == 6:
    ClaimRace.run(db: args[2], owner: args[3], readyFile: args[4], busyMillis: args.count == 6 ? Int32(args[5]) ?? 5000 : 5000)
case "token-race" where args.count == 8:
    TokenRace.run(stateDir: args[2], account: args[3], platform: args[4], baseURL: args[5], credentialsFile: args[6], goFile: args[7])
case "p56":
    P56.run(seconds: args.count > 2 ? Int(args[2]) ?? 60 : 60)
case "media":
    MediaUpload.run(megabytes: args.count > 2 ? Int(args[2]) ?? 200 : 200, chunkBytes: args.count > 3 ? Int(args[3]) ?? 4 << 20 : 4 << 20,
                    rounds: args.count > 4 ? max(1, Int(args[4]) ?? 3) : 3)
case "p8":
    P8.run(leases: args.count > 2 ? Int(args[2]) ?? 200 : 200)
default:
    die("usage: steadypost-bench p1 [KILLS] | p2 [POSTS] | p3 [POSTS] | p4 [ROUNDS] | threads [THREADS [PARTS [SINGLES]]] | p56 [SECONDS] | p7 | p8 [LEASES] | media [MEGABYTES [CHUNK_BYTES [ROUNDS]]] | chaos [OPTIONS] | leaks [POSTS [RSS_PCT]] | stamp FILE | echo | claim-race DB OWNER READY_FILE [BUSY_MS] | token-race STATE_DIR ACCOUNT PLATFORM BASE_URL CREDENTIALS_FILE GO_FILE")
}
