import ArgumentParser
import Glibc
import Logging
import SteadyConfig
import SteadyCore
import SteadyPosting
import SteadyReconciler
import SteadySupervisor
import SteadySystem
import SteadyWorker
import SteadyBrowser
import SteadyMetrics
import SteadyReplies

/// `steadypostd`: the daemon. `run` is the supervisor (systemd Type=notify), `worker ROLE`
/// is how the supervisor starts a child, `check-config` validates a config file.
struct SteadypostDaemon: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "steadypostd",
        abstract: "The steadypost daemon: publishes scheduled posts exactly once.",
        subcommands: [Run.self, CheckConfig.self, Worker.self])
}

struct ConfigOption: ParsableArguments {
    @Option(name: .long, help: "The config file (TOML).")
    var config: String = Config.defaultPath
}

func loadConfig(_ path: String) throws -> Config {
    do {
        return try Config.load(path: path)
    } catch {
        var text = ""
        for d in error.diagnostics { text += d.description + "\n" }
        writeStderr(text)
        throw ExitCode(1)
    }
}

func writeStderr(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

extension SteadypostDaemon {
    struct Run: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Run the supervisor in the foreground.")
        @OptionGroup var options: ConfigOption

        func run() throws {
            let env = processEnvironment()
            let logger = makeProcessLogger(label: "steadypostd", identifier: "steadypostd", environment: env)
            // systemd's RuntimeDirectory=, StateDirectory= and credentials win over the file.
            let config = try loadConfig(options.config).applyingEnvironment(env)
            let runtimeDir = config.daemon.runtimeDir
            // STEADYPOST_WORKER_EXECUTABLE: for tests of exec-failure reporting only.
            let executable = env["STEADYPOST_WORKER_EXECUTABLE"] ?? (try? readLink("/proc/self/exe")) ?? CommandLine.arguments[0]
            // The api worker is its own executable, installed beside this one (so only it
            // maps Hummingbird and NIO).
            let apiExecutable = env["STEADYPOST_API_EXECUTABLE"] ?? Self.sibling(of: executable, named: "steadypost-api")
            let supervisor: Supervisor
            do {
                supervisor = try Supervisor(
                    config: config,
                    options: .init(executable: executable, environment: env, runtimeDir: runtimeDir, roleExecutables: [.api: apiExecutable]),
                    logger: logger)
            } catch {
                logger.critical("cannot start: \(error)")
                throw ExitCode(1)
            }
            throw ExitCode(supervisor.run())
        }

        static func sibling(of executable: String, named name: String) -> String {
            guard let slash = executable.lastIndex(of: "/") else { return name }
            return String(executable[...slash]) + name
        }
    }

    struct CheckConfig: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "check-config", abstract: "Validate a config file; print each error as PATH:LINE: KEY: message.")
        @OptionGroup var options: ConfigOption

        func run() throws {
            let config = try loadConfig(options.config)
            let enabled = Role.allCases.filter { config.workers[$0]!.enabled }.map(\.rawValue)
            print("\(config.path): ok (\(config.accounts.count) account(s); workers: \(enabled.joined(separator: ", ")))")
        }
    }

    struct Worker: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Internal: run one worker role (the supervisor starts these).", shouldDisplay: false)
        @Argument(help: "The role: \(Role.allCases.map(\.rawValue).joined(separator: ", ")).")
        var role: String
        @OptionGroup var options: ConfigOption

        func run() throws {
            guard let role = Role(rawValue: role) else {
                throw ValidationError("unknown role '\(self.role)'; roles: \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            let env = processEnvironment()
            let logger = makeProcessLogger(label: "steadypost.\(role.rawValue)", identifier: role.logIdentifier, environment: env)
            let config = try loadConfig(options.config).applyingEnvironment(env)
            // The posting engine runs once accounts are configured; the browser pool always
            // (its browsers start on the first lease); the other roles run IdleRole until
            // their engines exist.
            guard role != .api else {
                logger.critical("the api worker is the steadypost-api executable (installed beside steadypostd), not `steadypostd worker api`")
                throw ExitCode(1)
            }
            let job: any WorkerRole
            if role == .browser {
                job = makeBrowserRole(config: config, logger: logger)
            } else if role == .posting && !config.accounts.isEmpty {
                do {
                    job = try PostingEngine(config: config, environment: env, logger: logger)
                } catch {
                    logger.critical("worker posting cannot start: \(error)")
                    throw ExitCode(1)
                }
            } else if role == .metrics && !config.accounts.isEmpty {
                do { job = try MetricsEngine(config: config, logger: logger) } catch {
                    logger.critical("worker metrics cannot start: \(error)")
                    throw ExitCode(1)
                }
            } else if role == .replies && !config.accounts.isEmpty {
                do { job = try RepliesEngine(config: config, logger: logger) } catch {
                    logger.critical("worker replies cannot start: \(error)")
                    throw ExitCode(1)
                }
            } else if role == .reconciler && !config.accounts.isEmpty {
                do { job = try ReconcilerRole(config: config, environment: env, logger: logger) } catch {
                    logger.critical("worker reconciler cannot start: \(error)")
                    throw ExitCode(1)
                }
            } else {
                job = IdleRole(role: role, config: config)
            }
            do {
                let runtime = try WorkerRuntime(role: role, settings: config.workers[role]!, job: job, logger: logger,
                                                 allowTestMethods: config.daemon.allowFaultInjection)
                throw ExitCode(runtime.run())
            } catch let code as ExitCode {
                throw code
            } catch {
                logger.critical("worker \(role.rawValue) cannot start: \(error)")
                throw ExitCode(1)
            }
        }
    }
}

func readLink(_ path: String) throws -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink(path, &buf, buf.count - 1)
    if n < 0 { throw SystemError("readlink(\(path))", errno: errno) }
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

SteadypostDaemon.main()
