import Glibc
import SteadyControl
import SteadyCore
import SteadyProtocol
import SteadySystem

/// P1: SIGKILL a worker → its replacement's `ready` as the supervisor sees it (a wait-ready
/// request registered before the kill answers the moment the new child is ready), beside
/// spawning the bare binary to its first instruction of main in the same run.
enum P1 {
    static func run(kills: Int) {
        // stable_after short and a pause between kills: each kill is a *first* restart.
        let d = BenchDaemon(workerToml: "heartbeat_interval = \"1s\"\nstable_after = \"100ms\"\nrestart_intensity = 10000")
        defer { d.stop() }
        _ = d.waitAllRunning()
        var restart: [Double] = []
        for _ in 0..<kills {
            guard let posting = try? d.client.status().workers.first(where: { $0.role == .posting }), let pid = posting.pid else { die("no posting pid") }
            let call = PendingCall(socket: d.socket, method: .waitReady, body: (try? JSONCoding.encode(WaitReadyRequest(role: .posting, not_pid: pid))) ?? [])
            // The request is in the daemon's queue before the kill: a status round trip proves it was read.
            _ = try? d.client.status()
            let t0 = SteadyClock.monotonicNanos()
            kill(pid, SIGKILL)
            let (t1, answer) = call.receive()
            guard case .response("ok", _) = answer else { die("wait-ready failed: \(answer)") }
            restart.append(Double(t1 - t0) / 1e6)
            var ts = timespec(tv_sec: 0, tv_nsec: 200_000_000)
            nanosleep(&ts, nil)
        }
        var bare: [Double] = []
        for _ in 0..<kills {
            guard let (r, w) = try? Sockets.streamPair() else { die("socketpair") }
            let t0 = SteadyClock.monotonicNanos()
            guard let p = try? spawnProcess(path: here + "/steadypost-bench", arguments: [here + "/steadypost-bench", "stamp", "-"],
                                            environment: ["SWIFT_BACKTRACE=enable=no"], passFds: [], stdout: w) else { die("spawn") }
            w.close()
            var buf: [UInt8] = []
            while !buf.contains(UInt8(ascii: "\n")) {
                if (try? Sockets.readAvailable(r, into: &buf)) == 0 { break }
            }
            let fields = String(decoding: buf, as: UTF8.self).split(separator: " ")
            if fields.count == 2, let stamp = UInt64(fields[1].trimmingCharacters(in: "\n")) { bare.append(Double(stamp - t0) / 1e6) }
            _ = waitpid(p.pid, nil, 0)
        }
        let s = Sample(restart)
        let b = Sample(bare)
        out("| P1 restart: SIGKILL → replacement worker ready (steadypostd) | \(fmt(s.p(0.5))) ms | \(fmt(s.p(0.99))) ms | \(fmt(s.max)) ms | \(s.count) |")
        out("| P1 peer: spawn of a bare Swift binary → its main runs (same run) | \(fmt(b.p(0.5))) ms | \(fmt(b.p(0.99))) ms | \(fmt(b.max)) ms | \(b.count) |")
    }
}

extension Substring {
    func trimmingCharacters(in chars: String) -> Substring {
        var s = self
        while let last = s.last, chars.contains(last) { s = s.dropLast() }
        return s
    }
}
