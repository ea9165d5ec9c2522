import Glibc
import SteadyBrowser
import SteadyConfig
import SteadyCore
import SteadyMetrics
import SteadyPosting
import SteadyReconciler
import SteadyReplies
import SteadySystem
import SteadyWorker

// `steadypost-worker worker ROLE --config PATH`: the posting, metrics, replies, browser and
// reconciler workers. Its own executable, apart from the supervisor's (`steadypostd`), so
// the supervisor maps none of the workers' code (SQLite, the adapters, CDP): its RSS stays
// under its goal (BENCHMARKS.md P6). The supervisor starts it beside itself; the api worker
// is `steadypost-api`, started the same way.

func fail(_ message: String, code: Int32) -> Never {
    let bytes = Array("steadypost-worker: \(message)\n".utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(code)
}

let roles = Role.allCases.filter { $0 != .api }.map(\.rawValue).joined(separator: ", ")
let args = Array(CommandLine.arguments.dropFirst())
guard args.count == 4, args[0] == "worker", args[2] == "--config" else {
    fail("usage: steadypost-worker worker ROLE --config PATH, ROLE one of \(roles) (the supervisor starts it; not meant to be run by hand)", code: 2)
}
guard let role = Role(rawValue: args[1]), role != .api else {
    fail(args[1] == Role.api.rawValue
         ? "the api worker is the steadypost-api executable (installed beside steadypostd)"
         : "unknown role '\(args[1])'; roles: \(roles)", code: 2)
}
let env = processEnvironment()
let logger = makeProcessLogger(label: "steadypost.\(role.rawValue)", identifier: role.logIdentifier, environment: env)
let config: Config
do {
    config = try Config.load(path: args[3]).applyingEnvironment(env)
} catch {
    fail(error.diagnostics.map(\.description).joined(separator: "\n"), code: 1)
}

/// The role's engine. The posting, metrics, replies and reconciler engines run once accounts
/// are configured (an idle role otherwise); the browser pool always (its browsers start on
/// the first lease).
func makeJob() throws -> any WorkerRole {
    let hasAccounts = !config.accounts.isEmpty
    switch role {
    case .browser: return makeBrowserRole(config: config, logger: logger)
    case .posting where hasAccounts: return try PostingEngine(config: config, environment: env, logger: logger)
    case .metrics where hasAccounts: return try MetricsEngine(config: config, logger: logger)
    case .replies where hasAccounts: return try RepliesEngine(config: config, logger: logger)
    case .reconciler where hasAccounts: return try ReconcilerRole(config: config, environment: env, logger: logger)
    default: return IdleRole(role: role, config: config)
    }
}

do {
    let runtime = try WorkerRuntime(role: role, settings: config.worker(role), job: try makeJob(), logger: logger,
                                    allowTestMethods: config.daemon.allowFaultInjection)
    exit(runtime.run())
} catch {
    logger.critical("worker \(role.rawValue) cannot start: \(error)")
    exit(1)
}
