import Foundation
import Glibc
import Testing

@testable import SteadySimulator

@Suite("steadypost-sim executable", .timeLimit(.minutes(1)))
struct ExecutableTests {
    /// The built `steadypost-sim`: next to the test bundle, or in a directory above it.
    static func executable() -> String? {
        guard let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") else { return nil }
        var directory = URL(fileURLWithPath: exe).deletingLastPathComponent()
        while directory.path != "/" {
            let candidate = directory.appendingPathComponent("steadypost-sim").path
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            directory.deleteLastPathComponent()
        }
        return nil
    }

    /// Reads `fd` until the text read contains `marker` or the deadline passes; what was read.
    static func read(_ fd: Int32, until marker: String?, timeoutMs: Int) async -> String {
        await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
                var text = ""
                var buffer = [UInt8](repeating: 0, count: 4096)
                while marker.map({ !text.contains($0) }) ?? true {
                    let remaining = deadline.timeIntervalSinceNow
                    if remaining <= 0 { break }
                    var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
                    let ready = poll(&pfd, 1, Int32(max(1, remaining * 1000)))
                    if ready < 0, errno == EINTR { continue }
                    if ready <= 0 { break }
                    let n = buffer.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
                    if n <= 0 { break }
                    text += String(decoding: buffer[0..<n], as: UTF8.self)
                }
                continuation.resume(returning: text)
            }
        }
    }

    @Test("listens on a free port, writes the port file and credentials, serves, exits 0 on SIGTERM")
    func runAndTerminate() async throws {
        let binary = try #require(Self.executable(), "steadypost-sim is built next to the tests")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("steadypost-sim-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let portFile = directory.appendingPathComponent("port").path

        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = [
            "--listen", "127.0.0.1:0", "--port-file", portFile, "--seed", "3",
            "--account", "x:news-x", "--account", "bluesky:news-b", "--credentials-dir", directory.path,
        ]
        let stderr = Pipe()
        process.standardError = stderr
        process.standardOutput = FileHandle.nullDevice
        let (exits, exited) = AsyncStream.makeStream(of: Int32.self)
        process.terminationHandler = { finished in
            exited.yield(finished.terminationStatus)
            exited.finish()
        }
        try process.run()
        let pid = process.processIdentifier
        defer {
            if process.isRunning { kill(pid, SIGKILL) }
        }
        let stderrFD = stderr.fileHandleForReading.fileDescriptor

        let startup = await Self.read(stderrFD, until: "listening on", timeoutMs: 20_000)
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
        let log = await Self.read(stderrFD, until: "GET /2/users/me", timeoutMs: 5_000)
        #expect(log.contains("sim.account=news-x"))
        #expect(log.contains("http.status=200"))
        #expect(!(startup + log).contains(token), "tokens never logged")

        #expect(kill(pid, SIGTERM) == 0)
        let killer = Task {
            try await Task.sleep(for: .seconds(15))
            kill(pid, SIGKILL)
        }
        defer { killer.cancel() }
        var status: Int32?
        for await value in exits {
            status = value
        }
        #expect(status == 0, "exit status after SIGTERM")
    }

    @Test("--help explains the simulator; bad usage is refused")
    func helpAndUsage() async throws {
        let binary = try #require(Self.executable())
        func run(_ arguments: [String]) async throws -> (Int32, String) {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: binary)
            process.arguments = arguments
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            let (exits, exited) = AsyncStream.makeStream(of: Int32.self)
            process.terminationHandler = { finished in
                exited.yield(finished.terminationStatus)
                exited.finish()
            }
            try process.run()
            let pid = process.processIdentifier
            defer { if process.isRunning { kill(pid, SIGKILL) } }
            let text = await Self.read(output.fileHandleForReading.fileDescriptor, until: nil, timeoutMs: 10_000)
            var status: Int32 = -1
            for await value in exits { status = value }
            return (status, text)
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
