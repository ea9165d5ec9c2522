import Testing
import SteadyCore
import SteadySystem

/// `steadypostd`'s command line, parsed by hand (the supervisor's executable links no
/// argument-parsing library): bad usage names what is wrong and exits 64; `worker ROLE` hands
/// over to the worker executable installed beside it.
@Suite("steadypostd command line", .timeLimit(.minutes(1)))
struct DaemonCommandLineTests {
    @Test("bad usage: a clear message naming the problem, the usage, exit 64")
    func badUsage() {
        let cases: [([String], String)] = [
            ([], "a command is needed"),
            (["bogus"], "unknown command 'bogus'"),
            (["run", "--config"], "--config needs a path"),
            (["run", "--verbose"], "unknown option '--verbose'"),
            (["run", "extra"], "run takes no arguments besides --config"),
            (["worker"], "worker needs exactly one ROLE"),
            (["worker", "poster"], "unknown role 'poster'; roles: posting, metrics, replies, browser, reconciler, api"),
        ]
        for (args, message) in cases {
            let out = spawnAndWait([TestBinaries.daemon] + args)
            #expect(out.code == 64, "\(args): \(out)")
            #expect(out.stderr.hasPrefix("steadypostd: \(message)\n"), "\(args): \(out.stderr)")
            #expect(out.stderr.contains("usage: steadypostd run [--config PATH]"), "\(args)")
        }
    }

    @Test("--help prints the usage on stdout and exits 0")
    func help() {
        for args in [["--help"], ["-h"], ["run", "--help"]] {
            let out = spawnAndWait([TestBinaries.daemon] + args)
            #expect(out.code == 0, "\(args): \(out)")
            #expect(out.stdout.contains("steadypostd check-config [--config PATH]"), "\(args)")
        }
    }

    @Test("check-config takes --config PATH and --config=PATH; worker ROLE runs steadypost-worker")
    func configAndWorker() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let path = dir.path + "/bad.toml"
        try Files.writeAtomically(path, "[daemon]\nstate_dir = 7\n")
        for args in [["check-config", "--config", path], ["check-config", "--config=" + path]] {
            let out = spawnAndWait([TestBinaries.daemon] + args)
            #expect(out.code == 1, "\(args): \(out)")
            #expect(out.stderr.contains("\(path):2: daemon.state_dir"), "\(args): \(out.stderr)")
        }
        // The worker executable itself reads the config and says so under its own name.
        let worker = spawnAndWait([TestBinaries.daemon, "worker", "posting", "--config", path])
        #expect(worker.code == 1, "\(worker)")
        #expect(worker.stderr.hasPrefix("steadypost-worker: \(path):2: daemon.state_dir"), "\(worker.stderr)")
    }

    /// The tests run debug builds, which have the test hooks (`TestHooks`): with every hook
    /// set, `steadypostd run` starts, passes them to its workers, and the posting worker arms
    /// its fault points. A release build refuses this environment; since no test binary lacks
    /// the hooks, that refusal is tested as the pure function (`TestHooksTests`).
    @Test("a debug steadypostd run with every test hook set starts, and its posting worker arms STEADYPOST_FAULTS")
    func debugBuildTakesTheHooks() throws {
        let values: [TestHooks.Variable: String] = [
            .faults: "crash:after_send@hooks-x", .reconcilerFault: "fail", .postingLeaseMillis: "60000",
            .postingHTTPTimeoutMillis: "5000", .postingQuotaHourMillis: "3600000", .postingSettleMillis: "30000",
            .postingBreakerOpenMillis: "30000",
            // The real executables, named through the hooks: the workers still start.
            .workerExecutable: TestBinaries.directory + "/steadypost-worker", .apiExecutable: TestBinaries.directory + "/steadypost-api",
        ]
        #expect(Set(values.keys) == Set(TestHooks.Variable.allCases))
        // One account (nothing is due, so nothing is sent to its closed port) for a posting
        // engine that reads the hooks; the other account-driven workers off.
        let account = "[[accounts]]\nname = \"hooks-x\"\nplatform = \"x\"\nbase_url = \"http://127.0.0.1:9\"\ncredentials = \"hooks-x.json\"\n\n"
        let off = ["metrics", "replies", "reconciler"].map { "[workers.\($0)]\nenabled = false\n\n" }.joined()
        let d = try DaemonProcess.started(extraConfig: account + off, environment: values.map { "\($0.key.rawValue)=\($0.value)" })
        defer { d.cleanUp() }
        try d.waitAllRunning(expect: 3)
        _ = try waitFor("the posting worker's fault points armed", timeoutMillis: 20_000) {
            d.log().contains("test fault points armed (STEADYPOST_FAULTS): crash:after_send@hooks-x") ? true : nil
        }
        #expect(!d.log().contains("refusing to start"), "\(d.log())")
        let pid = try #require(try d.worker(.posting).pid)
        let environ = (Files.read("/proc/\(pid)/environ") ?? "").split(separator: "\0").map(String.init)
        for (hook, value) in values {
            #expect(environ.contains("\(hook.rawValue)=\(value)"), "\(hook.rawValue) reaches the worker")
        }
    }

    @Test("a debug worker started by hand with a test hook set goes on to read its config")
    func debugWorkerTakesTheHooks() throws {
        let dir = TempDir()
        defer { dir.remove() }
        let path = dir.path + "/bad.toml"
        try Files.writeAtomically(path, "[daemon]\nstate_dir = 7\n")
        let worker = spawnAndWait([TestBinaries.directory + "/steadypost-worker", "worker", "posting", "--config", path],
                                  environment: currentEnvironment() + ["STEADYPOST_FAULTS=crash:after_send"])
        #expect(worker.code == 1, "\(worker)")
        #expect(worker.stderr.hasPrefix("steadypost-worker: \(path):2: daemon.state_dir"), "\(worker.stderr)")
    }
}
