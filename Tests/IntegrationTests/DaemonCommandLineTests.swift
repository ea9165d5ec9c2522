import Testing
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
            let out = spawnAndWait([Binaries.daemon] + args)
            #expect(out.code == 64, "\(args): \(out)")
            #expect(out.stderr.hasPrefix("steadypostd: \(message)\n"), "\(args): \(out.stderr)")
            #expect(out.stderr.contains("usage: steadypostd run [--config PATH]"), "\(args)")
        }
    }

    @Test("--help prints the usage on stdout and exits 0")
    func help() {
        for args in [["--help"], ["-h"], ["run", "--help"]] {
            let out = spawnAndWait([Binaries.daemon] + args)
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
            let out = spawnAndWait([Binaries.daemon] + args)
            #expect(out.code == 1, "\(args): \(out)")
            #expect(out.stderr.contains("\(path):2: daemon.state_dir"), "\(args): \(out.stderr)")
        }
        // The worker executable itself reads the config and says so under its own name.
        let worker = spawnAndWait([Binaries.daemon, "worker", "posting", "--config", path])
        #expect(worker.code == 1, "\(worker)")
        #expect(worker.stderr.hasPrefix("steadypost-worker: \(path):2: daemon.state_dir"), "\(worker.stderr)")
    }
}
