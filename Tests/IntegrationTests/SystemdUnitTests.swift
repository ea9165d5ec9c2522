#if os(Linux)
import Foundation
import Glibc
import SteadyCore
import SteadySystem
import Testing

/// The systemd units, checked for real: `units/steadypost.service` booted under systemd in a
/// throw-away container (`scripts/systemd-check.sh`, systemd-nspawn), and both units put
/// through `systemd-analyze verify` and `systemd-analyze security`. The binaries are the ones
/// of the build this test bundle belongs to.
@Suite("systemd units", .serialized)
struct SystemdUnitTests {
    /// The most `systemd-analyze security --offline=true` may report for the service.
    static let maxExposure = 2.0

    @Test(
        "systemd: real unit under systemd-nspawn: READY, worker restart, watchdog NRestarts, per-worker journal identifier",
        // Skipped (with the reason printed) without systemd-nspawn, without root, or before
        // steadypostd and steadypost are built.
        .enabled(if: SystemdHarness.nspawnSkipReason == nil, "needs root, systemd-nspawn and the built binaries"),
        .timeLimit(.minutes(5))
    )
    func realUnitUnderNspawn() throws {
        let out = FileManager.default.temporaryDirectory
            .appendingPathComponent("steadypost-systemd-check-\(UUID().uuidString)")
        let script = SystemdHarness.packageRoot.appendingPathComponent("scripts/systemd-check.sh").path
        // The script bounds the container to 120 s itself and tears it down on SIGTERM; this
        // deadline is the backstop.
        let outcome = try SystemdHarness.run(
            ["/bin/bash", script, SystemdHarness.buildDirectory.path, out.path], timeoutMillis: 200_000)
        if outcome.status == 77 {
            print("systemd-check skipped: \(outcome.output)")
            return
        }
        let result = SystemdHarness.keyValues(atPath: out.appendingPathComponent("result").path)
        let evidence = Comment(rawValue: """
            systemd-check.sh exited \(outcome.status)\(outcome.timedOut ? " after its deadline" : ""); \
            evidence kept in \(out.path)
            \(outcome.output)
            """)
        #expect(!outcome.timedOut, evidence)
        #expect(outcome.status == 0, evidence)
        #expect(result["ready"] == "yes", evidence)
        #expect(result["restarted_worker"] == "yes", evidence)
        #expect(result["watchdog_restart"] == "yes", evidence)
        #expect((result["nrestarts"].flatMap { Int($0) } ?? 0) >= 1, evidence)
        #expect((result["posting_lines"].flatMap { Int($0) } ?? 0) > 0, evidence)
        #expect(result["foreign_lines_in_posting"] == "0", evidence)
        if outcome.status == 0 {
            try? FileManager.default.removeItem(at: out)
        } else {
            print("systemd-check evidence kept in \(out.path)")
        }
    }

    @Test(
        "units: systemd-analyze verify is clean and security exposure ≤ 2.0",
        .enabled(if: SystemdHarness.executable(named: "systemd-analyze") != nil, "needs systemd-analyze"),
        .timeLimit(.minutes(1))
    )
    func analyze() throws {
        let analyze = try #require(SystemdHarness.executable(named: "systemd-analyze"))
        let units = SystemdHarness.packageRoot.appendingPathComponent("units")
        let service = units.appendingPathComponent("steadypost.service")
        let socket = units.appendingPathComponent("steadypost.socket")

        // verify checks that ExecStart= exists: check a copy that starts /bin/true instead.
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("steadypost-units-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let text = try String(contentsOf: service, encoding: .utf8)
        var rewritten = 0
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map { line -> String in
            guard line.hasPrefix("ExecStart=") else { return String(line) }
            rewritten += 1
            let arguments = line.dropFirst("ExecStart=".count).split(separator: " ").dropFirst()
            return (["ExecStart=/bin/true"] + arguments.map(String.init)).joined(separator: " ")
        }
        #expect(rewritten == 1, "expected exactly one ExecStart= line in \(service.path)")
        let serviceCopy = dir.appendingPathComponent("steadypost.service")
        let socketCopy = dir.appendingPathComponent("steadypost.socket")
        try lines.joined(separator: "\n").write(to: serviceCopy, atomically: true, encoding: .utf8)
        try FileManager.default.copyItem(at: socket, to: socketCopy)

        let verify = try SystemdHarness.run(
            [analyze, "verify", serviceCopy.path, socketCopy.path], timeoutMillis: 30_000)
        #expect(!verify.timedOut)
        #expect(verify.status == 0, "systemd-analyze verify: \(verify.output)")
        #expect(verify.output.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty,
                "systemd-analyze verify printed: \(verify.output)")

        // --threshold= is in tenths: 20 means an overall exposure of 2.0.
        let threshold = Int((Self.maxExposure * 10).rounded())
        let security = try SystemdHarness.run(
            [analyze, "security", "--offline=true", "--threshold=\(threshold)", "--no-pager", service.path],
            timeoutMillis: 30_000)
        #expect(!security.timedOut)
        let exposure = SystemdHarness.overallExposure(in: security.output)
        #expect(security.status == 0, "exposure above \(Self.maxExposure): \(security.output)")
        #expect(exposure != nil && exposure! <= Self.maxExposure,
                "overall exposure \(exposure.map { "\($0)" } ?? "not found"); limit \(Self.maxExposure)")
        print("systemd-analyze security: overall exposure \(exposure.map { "\($0)" } ?? "?")")
    }
}

/// Locating the checkout, the build and the tools, and running a child process under a
/// deadline.
enum SystemdHarness {
    /// The package checkout this file belongs to (…/Tests/IntegrationTests/ → …/).
    static let packageRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Where `swift test` put the binaries (`TestBinaries`: STEADYPOST_BIN_DIR, else beside
    /// this test bundle), unless STEADYPOST_BUILD_DIR says otherwise.
    static var buildDirectory: URL {
        if let dir = ProcessInfo.processInfo.environment["STEADYPOST_BUILD_DIR"], !dir.isEmpty { return URL(fileURLWithPath: dir) }
        return URL(fileURLWithPath: TestBinaries.directory)
    }

    static func executable(named name: String) -> String? {
        for dir in ["/usr/bin", "/bin", "/usr/sbin", "/sbin", "/usr/local/bin"] {
            let path = "\(dir)/\(name)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// nil when the nspawn check can run; else why not, printed once.
    static let nspawnSkipReason: String? = {
        var reason: String?
        let build = buildDirectory
        if executable(named: "systemd-nspawn") == nil {
            reason = "systemd-nspawn is not installed (apt-get install systemd-container)"
        } else if geteuid() != 0 {
            reason = "systemd-nspawn needs root"
        } else if !["steadypostd", "steadypost"].allSatisfy({
            FileManager.default.isExecutableFile(atPath: build.appendingPathComponent($0).path)
        }) {
            reason = "steadypostd and steadypost are not built in \(build.path)"
        }
        if let reason { print("skipping the systemd-nspawn check: \(reason)") }
        return reason
    }()

    /// `key=value` lines of a file.
    static func keyValues(atPath path: String) -> [String: String] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        return values
    }

    /// The figure of "Overall exposure level for UNIT: 2.0 OK" in `systemd-analyze security`.
    static func overallExposure(in output: String) -> Double? {
        for line in output.split(separator: "\n") where line.contains("Overall exposure level for") {
            guard let colon = line.lastIndex(of: ":") else { continue }
            let figure = line[line.index(after: colon)...].split(separator: " ").first
            return figure.flatMap { Double($0) }
        }
        return nil
    }

    struct Outcome: Sendable {
        var status: Int32
        var output: String
        var timedOut: Bool
    }

    /// Runs `argv` (argv[0] a path) with stdout and stderr in one captured file, stdin from
    /// /dev/null, through `spawnProcess`: an empty signal mask and default dispositions, so
    /// the child's shells can be stopped with SIGTERM (Foundation's Process hands its children
    /// SIGTERM blocked). Waits on the child's pidfd. Past `timeoutMillis` it gets SIGTERM
    /// (systemd-check.sh then tears its container down), SIGKILL `graceMillis` later; it is
    /// never left running.
    static func run(_ argv: [String], timeoutMillis: Int64, graceMillis: Int64 = 20_000) throws -> Outcome {
        let dir = TempDir("steadypost-run")
        defer { dir.remove() }
        let logPath = dir.path + "/run.log"
        let process = try spawnLogged(argv, log: logPath, environment: currentEnvironment())
        defer { process.pidfd.close() }

        var timedOut = false
        var status = waitExit(process, timeoutMillis: timeoutMillis)
        if status == nil {
            timedOut = true
            status = endProcess(process, graceMillis: graceMillis)
        }
        let output = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        let code: Int32
        switch status {
        case .exited(let c)?: code = c
        case .signaled(let s)?: code = 128 + s
        case nil: code = -1
        }
        return Outcome(status: code, output: output, timedOut: timedOut)
    }
}
#endif
