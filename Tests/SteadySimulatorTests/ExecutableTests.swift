import Foundation
import Glibc
import SteadySystem
import SteadyTestSupport
import Testing

@testable import SteadySimulator

@Suite("steadypost-sim executable", .timeLimit(.minutes(1)))
struct ExecutableTests {
    @Test("listens on a free port, writes the port file and credentials, serves, exits 0 on SIGTERM")
    func runAndTerminate() async throws {
        let binary = try #require(SimulatorProcess.binary, "steadypost-sim is built next to the tests")
        let dir = TempDir("steadypost-sim-test")
        defer { dir.remove() }
        let directory = URL(fileURLWithPath: dir.path)
        let portFile = directory.appendingPathComponent("port").path
        let logPath = dir.path + "/sim.log"
        let process = try spawnLogged([binary, "--listen", "127.0.0.1:0", "--port-file", portFile, "--seed", "3",
                                       "--account", "x:news-x", "--account", "bluesky:news-b", "--credentials-dir", directory.path],
                                      log: logPath, environment: currentEnvironment())
        var ended: SteadySystem.ExitStatus?
        defer { if ended == nil { killProcess(process) } }
        /// The log once it holds `marker` (or what it holds at the deadline).
        func log(until marker: String, timeoutMillis: Int64) -> String {
            (try? waitFor("\(marker) in the simulator's log", timeoutMillis: timeoutMillis) { () -> String? in
                let text = Files.read(logPath) ?? ""
                return text.contains(marker) ? text : nil
            }) ?? Files.read(logPath) ?? ""
        }

        let startup = log(until: "listening on", timeoutMillis: 20_000)
        #expect(startup.contains("listening on 127.0.0.1:"))
        let portText = try String(contentsOfFile: portFile, encoding: .utf8)
        let port = try #require(Int(portText.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(port > 0)

        let health = await RawHTTP.request(port: port, method: "GET", path: "/_sim/health", timeoutMs: 5_000)
        #expect(health.status == 200)
        #expect(health.body == #"{"ok":true}"#)

        let credentialsPath = directory.appendingPathComponent("news-x.json").path
        var info = stat()
        #expect(stat(credentialsPath, &info) == 0)
        #expect(info.st_mode & 0o777 == 0o600)
        let credentials = JSON.parse(try String(contentsOfFile: credentialsPath, encoding: .utf8))
        let token = try #require(credentials?["access_token"]?.stringValue)
        let bluesky = JSON.parse(try String(contentsOfFile: directory.appendingPathComponent("news-b.json").path, encoding: .utf8))
        #expect(bluesky?["identifier"] == "news-b.bsky.social")

        let me = await RawHTTP.request(
            port: port, method: "GET", path: "/2/users/me", headers: [("Authorization", "Bearer \(token)")], timeoutMs: 5_000)
        #expect(me.status == 200)
        let requestLog = log(until: "GET /2/users/me", timeoutMillis: 5_000)
        #expect(requestLog.contains("sim.account=news-x"))
        #expect(requestLog.contains("http.status=200"))
        #expect(!(startup + requestLog).contains(token), "tokens never logged")

        // SIGTERM by pid; SIGKILL if it is still running 15 s later.
        ended = endProcess(process, graceMillis: 15_000)
        #expect(ended == .exited(0), "exit status after SIGTERM")
    }

    @Test("--help explains the simulator; bad usage is refused")
    func helpAndUsage() async throws {
        let binary = try #require(SimulatorProcess.binary)
        func run(_ arguments: [String]) async throws -> (Int32, String) {
            let r = spawnAndWait([binary] + arguments, timeoutMillis: 10_000)
            return (r.code, r.stdout + r.stderr)
        }
        let (helpStatus, help) = try await run(["--help"])
        #expect(helpStatus == 0)
        for phrase in ["/_sim/faults", "lose-response", "--port-file", "Example"] {
            #expect(help.contains(phrase), "\(phrase)")
        }
        let (badStatus, bad) = try await run(["--listen", "0.0.0.0:0"])
        #expect(badStatus != 0)
        #expect(bad.contains("loopback"))
    }
}
