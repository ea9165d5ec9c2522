import Glibc
import Testing
import SteadyControl
import SteadyCore
import SteadyProtocol
import SteadySystem

/// The real supervisor and workers, as processes, over real sockets.
@Suite("supervision", .serialized, .timeLimit(.minutes(3)))
struct SupervisionTests {
    @Test("F28: SIGKILL each worker in turn; the others' heartbeats never gap; a crash-looping worker is parked failed")
    func f28_crashesDoNotCascade() throws {
        let d = try DaemonProcess.started(heartbeat: "100ms", hangTimeout: "2s")
        defer { d.cleanUp() }
        let initial = try d.waitAllRunning()
        let gapLimitMs: Int64 = 100 * 5  // five missed intervals
        var pids = Dictionary(uniqueKeysWithValues: initial.workers.map { ($0.role, $0.pid!) })

        // Two rounds: kill each worker, wait for its replacement; the others must not notice.
        for _ in 0..<2 {
            for victim in Role.allCases {
                let old = pids[victim]!
                #expect(kill(old, SIGKILL) == 0)
                _ = try d.waitReady(victim, notPid: old)
                let report = try d.status()
                for w in report.workers {
                    if w.role == victim {
                        #expect(w.pid != old)
                        pids[victim] = w.pid!
                    } else {
                        #expect(w.pid == pids[w.role], "\(w.role) was disturbed by \(victim)'s death")
                        #expect(w.state == "running")
                        #expect((w.heartbeat_age_ms ?? .max) < gapLimitMs, "\(w.role) heartbeat gap \(w.heartbeat_age_ms ?? -1) ms")
                    }
                }
            }
        }

        // Crash loop one worker until it is parked; the others keep beating throughout.
        var victimPid = pids[.metrics]!
        var parked: WorkerStatus?
        for _ in 0..<20 {
            kill(victimPid, SIGKILL)
            let w = try d.waitFor("metrics replaced or parked") { r -> WorkerStatus? in
                let m = r.workers.first { $0.role == .metrics }!
                return (m.state == "running" && m.pid != victimPid) || m.state == "failed" ? m : nil
            }
            let others = try d.status().workers.filter { $0.role != .metrics }
            for o in others {
                #expect(o.state == "running" && o.pid == pids[o.role])
                #expect((o.heartbeat_age_ms ?? .max) < gapLimitMs, "\(o.role) heartbeat gap during the crash loop")
            }
            if w.state == "failed" {
                parked = w
                break
            }
            victimPid = w.pid!
        }
        let failed = try #require(parked, "metrics never parked")
        #expect(failed.reason?.contains("intensity") == true)
        // status (CLI) reports it.
        let out = d.cli(["status"])
        #expect(out.code == 0)
        #expect(out.stdout.contains("metrics") && out.stdout.contains("failed"))
        // An operator can revive it.
        let revived = d.cli(["start", "metrics"])
        #expect(revived.code == 0, "\(revived.stderr)")
        #expect(try d.worker(.metrics).state == "running")
    }

    @Test("F29: a worker whose loop stops is killed (SIGTERM, then SIGKILL) and restarted within its hang timeout")
    func f29_hungWorkerRestarted() throws {
        let d = try DaemonProcess.started(heartbeat: "100ms", hangTimeout: "1500ms")
        defer { d.cleanUp() }
        try d.waitAllRunning()
        let before = try d.worker(.posting)
        let out = d.cli(["debug", "fault", "posting", "hang"])
        #expect(out.code == 0, "\(out.stderr)")
        let started = SteadyClock.monotonicMillis()
        _ = try d.waitReady(.posting, notPid: before.pid)
        let elapsed = SteadyClock.monotonicMillis() - started
        let after = try d.worker(.posting)
        #expect(after.pid != before.pid)
        #expect(after.restarts == before.restarts + 1)
        #expect(after.last_exit?.contains("SIGKILL") == true, "a hung loop ignores SIGTERM; SIGKILL must follow: \(after.last_exit ?? "-")")
        // Bound: hang timeout + grace + restart, with room for a loaded 2-core machine.
        #expect(elapsed < 1500 + 500 + 5000)
        #expect(d.log().contains("hung: no heartbeat"))
    }

    @Test("F13: a worker that allocates past its memory bound dies alone; the others are unaffected")
    func f13_memoryBoundKillsOnlyThatWorker() throws {
        let d = try DaemonProcess.started(extraConfig: """
            [workers.posting]
            heartbeat_interval = "100ms"
            hang_timeout = "3s"
            memory_max = "96M"
            """)
        defer { d.cleanUp() }
        let initial = try d.waitAllRunning()
        let before = initial.workers.first { $0.role == .posting }!
        #expect(["cgroup-v1", "cgroup-v2", "rlimit"].contains(before.bounds))
        let out = d.cli(["debug", "fault", "posting", "alloc"])
        #expect(out.code == 0, "\(out.stderr)")
        _ = try d.waitReady(.posting, notPid: before.pid)
        let report = try d.status()
        let after = report.workers.first { $0.role == .posting }!
        #expect(after.restarts == 1)
        if before.bounds == "rlimit" {
            #expect(after.last_exit?.contains("SIGABRT") == true, "\(after.last_exit ?? "-")")
        } else {
            #expect(after.last_exit?.contains("SIGKILL") == true, "the cgroup OOM kill: \(after.last_exit ?? "-")")
            #expect(after.last_exit?.contains("OOM killer at its 96 MiB memory bound") == true, "\(after.last_exit ?? "-")")
        }
        for w in report.workers where w.role != .posting {
            let old = initial.workers.first { $0.role == w.role }!
            #expect(w.pid == old.pid && w.state == "running" && w.restarts == 0, "\(w.role) was touched")
            #expect((w.heartbeat_age_ms ?? .max) < 1000)
        }
    }

    @Test("restart returns once the new child is ready; stop and start act on one worker")
    func restartStopStart() throws {
        let d = try DaemonProcess.started()
        defer { d.cleanUp() }
        try d.waitAllRunning()
        let before = try d.worker(.replies)
        let r = d.cli(["restart", "replies"])
        #expect(r.code == 0, "\(r.stderr)")
        // Returned only once ready: the status right after shows the new pid running.
        let after = try d.worker(.replies)
        #expect(after.state == "running" && after.pid != before.pid)
        #expect(after.restarts == 0, "an operator restart is not a failure")
        #expect(d.cli(["stop", "replies"]).code == 0)
        #expect(try d.worker(.replies).state == "stopped")
        #expect(try d.worker(.posting).state == "running")
        #expect(d.cli(["start", "replies"]).code == 0)
        #expect(try d.worker(.replies).state == "running")
        let json = d.cli(["status", "--json"])
        #expect(json.code == 0)
        #expect(json.stdout.contains("\"workers\"") && json.stdout.contains("\"heartbeat_age_ms\""))
    }

    @Test("F24: SIGTERM drains every worker in reverse start order and exits 0")
    func f24_gracefulShutdown() throws {
        let d = try DaemonProcess.started()
        defer { d.cleanUp() }
        let report = try d.waitAllRunning()
        let pids = report.workers.compactMap(\.pid)
        let status = d.terminate()
        #expect(status == .exited(0))
        for pid in pids { #expect(!isAlive(pid), "worker \(pid) outlived the supervisor") }
        #expect(!Files.exists(d.socketPath), "control socket left behind")
        let log = d.log()
        let lines = log.split(separator: "\n")
        let order = Role.allCases.reversed().compactMap { role in lines.firstIndex { $0.contains("worker \(role.rawValue): stopped") } }
        #expect(order.count == Role.allCases.count, Comment(rawValue: log))
        #expect(order == order.sorted(), "workers must stop in reverse start order")
    }

    @Test("exec failure is reported and the worker is parked, not retried forever")
    func execFailureReported() throws {
        let d = try DaemonProcess.started(environment: ["STEADYPOST_WORKER_EXECUTABLE=/nonexistent/steadypostd"])
        defer { d.cleanUp() }
        let w = try d.waitFor("posting parked") { r in r.workers.first { $0.role == .posting && $0.state == "failed" } }
        #expect(w.reason?.contains("No such file or directory") == true, "\(w.reason ?? "-")")
        #expect(d.log().contains("could not start"))
    }

    @Test("a worker exits when its supervisor dies (no orphans)")
    func workersFollowSupervisor() throws {
        let d = try DaemonProcess.started()
        defer { d.cleanUp() }
        let report = try d.waitAllRunning()
        d.exited = killProcess(d.process)
        for w in report.workers {
            let pid = w.pid!
            guard let fd = try? openPidfd(pid) else { continue }  // already gone
            defer { fd.close() }
            var pfd = pollfd(fd: fd.raw, events: Int16(POLLIN), revents: 0)
            #expect(poll(&pfd, 1, 10_000) == 1, "\(w.role) outlived its supervisor")
        }
    }
}
