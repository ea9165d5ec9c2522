import Glibc
import SteadyCore
import SteadyProtocol
import SteadySystem

/// P5/P6: CPU of the supervisor and every worker over an idle period (no polling loops: only
/// heartbeats), and each process's RSS and PSS at the end.
enum P56 {
    static func run(seconds: Int) {
        let d = BenchDaemon(workerToml: "")  // the defaults: 2 s heartbeats
        defer { d.stop() }
        let report = d.waitAllRunning()
        var ts = timespec(tv_sec: 2, tv_nsec: 0)
        nanosleep(&ts, nil)
        let pids: [(String, Int32)] = [("supervisor", d.process.pid)] + report.workers.map { ($0.role.rawValue, $0.pid!) }
        let before = pids.map { ProcessStats.cpuNanos(pid: $0.1) ?? 0 }
        let t0 = SteadyClock.monotonicMillis()
        ts = timespec(tv_sec: seconds, tv_nsec: 0)
        nanosleep(&ts, nil)
        let elapsed = Double(SteadyClock.monotonicMillis() - t0) / 1000
        let after = pids.map { ProcessStats.cpuNanos(pid: $0.1) ?? 0 }
        let hz = 1e9  // CPU clocks in nanoseconds (clock_getcpuclockid), not 10 ms ticks
        let total = zip(before, after).map { Double($1 - $0) }.reduce(0, +)
        out("| P5 idle CPU, supervisor + 6 workers, \(Int(elapsed)) s | \(fmt(total / hz / elapsed * 100, 3)) % of a core | goal ≤ 0.1 % |")
        for (i, (name, pid)) in pids.enumerated() {
            let cpu = Double(after[i] - before[i]) / hz / elapsed * 100
            let rss = Double(ProcessStats.residentBytes(pid: pid)) / 1_048_576
            let pss = Double(ProcessStats.proportionalBytes(pid: pid)) / 1_048_576
            let goal = name == "supervisor" ? "≤ 10 MB" : "≤ 30 MB"
            out("| P6 \(name) | RSS \(fmt(rss, 1)) MB | PSS \(fmt(pss, 1)) MB | CPU \(fmt(cpu, 3)) % | goal RSS \(goal) |")
        }
    }
}
