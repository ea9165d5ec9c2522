import Glibc
import SteadyAPI
import SteadyConfig
import SteadyCore
import SteadySystem
import SteadyWorker

// `steadypost-api worker api --config PATH`: the api worker, a separate executable so that
// Hummingbird and NIO are mapped by this process only, not by the supervisor and the other
// workers (ARCHITECTURE.md, "The api worker"). The supervisor starts it exactly as it starts
// `steadypostd worker ROLE`.

func fail(_ message: String, code: Int32) -> Never {
    let bytes = Array("steadypost-api: \(message)\n".utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(code)
}

let args = Array(CommandLine.arguments.dropFirst())
guard args.count == 4, args[0] == "worker", args[1] == Role.api.rawValue, args[2] == "--config" else {
    fail("usage: steadypost-api worker api --config PATH (the supervisor starts it; not meant to be run by hand)", code: 2)
}
let env = processEnvironment()
let logger = makeProcessLogger(label: "steadypost.api", identifier: Role.api.logIdentifier, environment: env)
let config: Config
do {
    config = try Config.load(path: args[3]).applyingEnvironment(env)
} catch {
    fail(error.diagnostics.map(\.description).joined(separator: "\n"), code: 1)
}
do {
    let role = try APIRole(config: config, logger: logger)
    let runtime = try WorkerRuntime(role: .api, settings: config.worker(.api), job: role, logger: logger,
                                    allowTestMethods: config.daemon.allowFaultInjection)
    exit(runtime.run())
} catch {
    logger.critical("worker api cannot start: \(error)")
    exit(1)
}
