import Glibc
import SteadyCore
import SteadyHTTP
import SteadySystem

/// steadypost-sim from the same build directory, on a loopback port of its own.
final class BenchSim {
    let process: SpawnedProcess
    let port: Int
    let http = HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 2000, totalTimeoutMillis: 30_000, maxResponseBytes: 64 << 20))
    var base: String { "http://127.0.0.1:\(port)" }

    /// `accounts`: "platform:name"; their credential files are written to `credentialsDir`.
    init(accounts: [String], credentialsDir: String, extraArguments: [String] = []) {
        let portFile = credentialsDir + "/../sim.port"
        var args = [here + "/steadypost-sim", "--listen", "127.0.0.1:0", "--port-file", portFile, "--credentials-dir", credentialsDir, "--quiet"]
        for a in accounts { args += ["--account", a] }
        args += extraArguments
        let devnull = Descriptor(open("/dev/null", O_WRONLY | O_CLOEXEC))
        do {
            process = try spawnProcess(path: args[0], arguments: args, environment: ["SWIFT_BACKTRACE=enable=no"], passFds: [], stdout: devnull, stderr: devnull)
        } catch { die("cannot start steadypost-sim: \(error)") }
        devnull.close()
        childPids[0] = process.pid
        var found = 0
        let deadline = SteadyClock.monotonicMillis() + 20_000
        while found == 0 && SteadyClock.monotonicMillis() < deadline {
            if let t = Files.read(portFile), let v = Int(t.filter(\.isNumber)) { found = v; break }
            var ts = timespec(tv_sec: 0, tv_nsec: 10_000_000)
            nanosleep(&ts, nil)
        }
        guard found > 0 else { die("steadypost-sim did not start") }
        port = found
    }

    /// Ground truth: (text, created_at_ms) of every post, oldest first.
    func posts() -> [(text: String, createdAt: Int64)] {
        guard let r = try? http.send(HTTPRequest(method: .get, url: base + "/_sim/posts")) else { return [] }
        let body = String(decoding: r.body, as: UTF8.self)
        // A light scan of the JSON: "text":"…","created_at_ms":N pairs.
        var out: [(String, Int64)] = []
        var rest = Substring(body)
        while let t = rest.firstRange(of: "\"created_at_ms\":") {
            let after = rest[t.upperBound...]
            let digits = after.prefix { $0.isNumber }
            let objectStart = rest[..<t.lowerBound].lastIndex(of: "{") ?? rest.startIndex
            let objectEnd = after.firstIndex(of: "}") ?? after.endIndex
            let object = rest[objectStart..<objectEnd]
            var text = ""
            if let tr = object.firstRange(of: "\"text\":\"") {
                text = String(object[tr.upperBound...].prefix { $0 != "\"" })
            }
            out.append((text, Int64(digits) ?? 0))
            rest = after[objectEnd...]
        }
        return out
    }

    /// One admin call (`/_sim/...`); the answer's body, or nil when it failed.
    @discardableResult
    func admin(_ method: HTTPMethod, _ path: String, json: String? = nil) -> [UInt8]? {
        var request = HTTPRequest(method: method, url: base + path)
        if let json {
            request.headers = ["Content-Type": "application/json"]
            request.body = Array(json.utf8)
        }
        guard let r = try? http.send(request), (200..<300).contains(r.status) else { return nil }
        return r.body
    }

    func stop() {
        signalProcess(process, SIGTERM)
        _ = waitpid(process.pid, nil, 0)
    }
}
