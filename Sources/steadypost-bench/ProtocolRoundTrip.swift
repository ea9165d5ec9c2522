import Glibc
import SteadyCore
import SteadyProtocol
import SteadySystem

/// P4: a request/response round trip to a real worker process over its SEQPACKET socket
/// (encode, send, the worker's loop decodes and answers, decode), beside a raw socketpair
/// ping-pong with an echo child, in the same run.
enum P4 {
    static func run(rounds: Int) {
        let tmpConfig = "/tmp/steadypost-bench-p4.toml"
        try? Files.writeAtomically(tmpConfig, "[daemon]\nstate_dir = \"/tmp\"\nruntime_dir = \"/tmp\"\n")
        defer { unlink(tmpConfig) }

        // The worker: started the way the supervisor starts it.
        guard let (mine, theirs) = try? Sockets.seqpacketPair() else { die("socketpair") }
        guard let worker = try? spawnProcess(path: here + "/steadypost-worker", arguments: [here + "/steadypost-worker", "worker", "posting", "--config", tmpConfig],
                                             environment: ["SWIFT_BACKTRACE=enable=no"], passFds: [theirs]) else { die("spawn worker") }
        theirs.close()
        var decoder = FrameDecoder()
        let receiver = MessageReceiver(maxMessage: Frame.maxSocketMessage)
        func nextMessage() -> (Frame, Message) {
            while true {
                if let f = try? decoder.next(), let m = try? Message(f) { return (f, m) }
                guard let r = try? receiver.receive(mine), case .message(let bytes) = r else { die("worker socket closed") }
                decoder.feed(bytes)
            }
        }
        // hello, ready, first heartbeat
        while true { if case .ready = nextMessage().1 { break } }
        let body = Array(#"{"n":1}"#.utf8)
        var framed: [Double] = []
        for i in 0..<rounds {
            let t0 = SteadyClock.monotonicNanos()
            do { try mine.writeAll(try Message.request(method: "ping", body: body).encoded(correlation: UInt64(i + 1))) } catch { die("\(error)") }
            while true {
                let (f, m) = nextMessage()
                if case .response = m, f.correlation == UInt64(i + 1) { break }
            }
            framed.append(Double(SteadyClock.monotonicNanos() - t0) / 1000)
        }
        mine.close()
        signalProcess(worker, SIGKILL)
        _ = waitpid(worker.pid, nil, 0)

        // The baseline: the same bytes bounced by a raw echo child.
        guard let (a, b) = try? Sockets.seqpacketPair() else { die("socketpair") }
        guard let echo = try? spawnProcess(path: here + "/steadypost-bench", arguments: [here + "/steadypost-bench", "echo"],
                                           environment: [], passFds: [b]) else { die("spawn echo") }
        b.close()
        let ping = (try? Message.request(method: "ping", body: body).encoded(correlation: 1)) ?? []
        var raw: [Double] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        for _ in 0..<rounds {
            let t0 = SteadyClock.monotonicNanos()
            _ = ping.withUnsafeBytes { send(a.raw, $0.baseAddress, $0.count, 0) }
            _ = buf.withUnsafeMutableBytes { recv(a.raw, $0.baseAddress, $0.count, 0) }
            raw.append(Double(SteadyClock.monotonicNanos() - t0) / 1000)
        }
        a.close()
        _ = waitpid(echo.pid, nil, 0)
        let f = Sample(framed)
        let r = Sample(raw)
        out("| P4 worker socket request/response (framed, real worker loop) | \(fmt(f.p(0.5), 1)) µs | \(fmt(f.p(0.99), 1)) µs | \(fmt(f.max, 1)) µs | \(f.count) |")
        out("| P4 peer: raw socketpair ping-pong (same bytes, echo child) | \(fmt(r.p(0.5), 1)) µs | \(fmt(r.p(0.99), 1)) µs | \(fmt(r.max, 1)) µs | \(r.count) |")
        out("| P4 ratio framed/raw | \(fmt(f.p(0.5) / r.p(0.5))) × | \(fmt(f.p(0.99) / r.p(0.99))) × | | |")
    }
}
