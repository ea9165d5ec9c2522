import Glibc
import Logging
import SteadyConfig
import SteadyCore
import SteadySystem

/// The `main` of a worker executable (`steadypost-worker`, `steadypost-api`): the command
/// line the supervisor gives it (`worker ROLE --config PATH`), the process logger, the
/// config with systemd's overrides, the role's job, and the worker loop until it ends.
/// Every failure before the loop runs is one line on stderr naming the executable; usage
/// errors exit 2, a config or start-up failure 1, and so does a test hook set in a build
/// without the hooks (`TestHooks.refusal`).
public enum WorkerMain {
    /// `roles`: what this executable runs; `elsewhere`: what to say for a role that another
    /// executable runs. `makeJob` builds the role's job from the loaded config.
    public static func run(executable name: String, roles: [Role], elsewhere: (Role) -> String?,
                           makeJob: (Role, Config, [String: String], Logger) throws -> any WorkerRole) -> Never {
        func fail(_ message: String, code: Int32) -> Never {
            let bytes = Array("\(name): \(message)\n".utf8)
            _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
            exit(code)
        }
        let list = roles.map(\.rawValue).joined(separator: ", ")
        let args = Array(CommandLine.arguments.dropFirst())
        guard args.count == 4, args[0] == "worker", args[2] == "--config" else {
            fail("usage: \(name) worker ROLE --config PATH, ROLE one of \(list) (the supervisor starts it; not meant to be run by hand)", code: 2)
        }
        guard let role = Role(rawValue: args[1]), roles.contains(role) else {
            fail(Role(rawValue: args[1]).flatMap(elsewhere) ?? "unknown role '\(args[1])'; roles: \(list)", code: 2)
        }
        let env = processEnvironment()
        // Started by hand with a test hook that this build does not have (the supervisor
        // refuses the same environment before it starts any worker).
        if let refusal = TestHooks.refusal(environment: env) { fail(refusal, code: 1) }
        let logger = makeProcessLogger(label: "steadypost.\(role.rawValue)", identifier: role.logIdentifier, environment: env)
        let config: Config
        do {
            config = try Config.load(path: args[3]).applyingEnvironment(env)
        } catch {
            fail(error.diagnostics.map(\.description).joined(separator: "\n"), code: 1)
        }
        do {
            let job = try makeJob(role, config, env, logger)
            let runtime = try WorkerRuntime(role: role, settings: config.worker(role), job: job, logger: logger,
                                            allowTestMethods: config.daemon.allowFaultInjection)
            exit(runtime.run())
        } catch {
            logger.critical("worker \(role.rawValue) cannot start: \(error)")
            exit(1)
        }
    }
}
