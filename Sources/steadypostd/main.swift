import Glibc
import Logging
import SteadyConfig
import SteadyCore
import SteadySupervisor
import SteadySystem

/// `steadypostd`: the daemon. `run` is the supervisor (systemd Type=notify), `check-config`
/// validates a config file, `worker ROLE` runs one worker (it hands over to the worker
/// executables installed beside this one: `steadypost-worker`, `steadypost-api`).
///
/// This binary holds the supervisor only, and parses its three commands by hand: no worker
/// code, no argument-parsing library (which would bring FoundationEssentials), so the
/// supervisor's resident memory stays within its goal (BENCHMARKS.md P6).

let usage = """
    usage: steadypostd run [--config PATH]
           steadypostd check-config [--config PATH]
           steadypostd worker ROLE [--config PATH]   (internal: how the supervisor starts a child)

      run           Run the supervisor in the foreground (systemd Type=notify).
      check-config  Validate a config file; print each error as PATH:LINE: KEY: message.
      --config      The config file (TOML); default \(Config.defaultPath).

    """

func writeStderr(_ text: String) {
    let bytes = Array(text.utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
}

/// Bad usage: what is wrong, the usage, exit 64 (EX_USAGE).
func usageError(_ message: String) -> Never {
    writeStderr("steadypostd: \(message)\n\(usage)")
    exit(64)
}

/// The command line: a command, its one positional argument (worker's ROLE), `--config`.
struct Arguments {
    var command: String
    var positional: [String] = []
    var config = Config.defaultPath

    init(_ args: [String]) {
        guard let first = args.first else { usageError("a command is needed") }
        if ["-h", "--help", "help"].contains(first) {
            print(usage, terminator: "")
            exit(0)
        }
        command = first
        var rest = args.dropFirst()
        while let arg = rest.popFirst() {
            if arg == "-h" || arg == "--help" {
                print(usage, terminator: "")
                exit(0)
            } else if arg == "--config" {
                guard let value = rest.popFirst(), !value.isEmpty else { usageError("--config needs a path") }
                config = value
            } else if arg.hasPrefix("--config=") {
                config = String(arg.dropFirst("--config=".count))
                if config.isEmpty { usageError("--config needs a path") }
            } else if arg.hasPrefix("-") {
                usageError("unknown option '\(arg)'")
            } else {
                positional.append(arg)
            }
        }
    }
}

func loadConfig(_ path: String) -> Config {
    do {
        return try Config.load(path: path)
    } catch {
        writeStderr(error.diagnostics.map { $0.description + "\n" }.joined())
        exit(1)
    }
}

/// The executable that runs `role`, beside this one.
func workerExecutable(for role: Role) -> String {
    let me = (try? readLink("/proc/self/exe")) ?? CommandLine.arguments[0]
    let name = role == .api ? "steadypost-api" : "steadypost-worker"
    guard let slash = me.lastIndex(of: "/") else { return name }
    return String(me[...slash]) + name
}

func readLink(_ path: String) throws -> String {
    var buf = [CChar](repeating: 0, count: 4096)
    let n = readlink(path, &buf, buf.count - 1)
    if n < 0 { throw SystemError("readlink(\(path))", errno: errno) }
    return String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// `run`: the supervisor in the foreground until SIGTERM/SIGINT.
func runSupervisor(configPath: String) -> Never {
    let env = processEnvironment()
    // A test hook (STEADYPOST_FAULTS, ...) in a build without them: refused before anything
    // starts, rather than passed to every worker and silently ignored (TestHooks).
    if let refusal = TestHooks.refusal(environment: env) {
        writeStderr("steadypostd: \(refusal)\n")
        exit(1)
    }
    let logger = makeProcessLogger(label: "steadypostd", identifier: "steadypostd", environment: env)
    // systemd's RuntimeDirectory=, StateDirectory= and credentials win over the file.
    let config = loadConfig(configPath).applyingEnvironment(env)
    for warning in config.warnings { logger.warning("config: \(warning)") }
    // The workers are executables of their own, installed beside this one:
    // `steadypost-worker` (posting, metrics, replies, browser, reconciler) and
    // `steadypost-api` (only it maps Hummingbird and NIO).
    // Test hooks (debug builds only): another executable to start, for tests of
    // exec-failure reporting. Otherwise one Environment= line could make the supervisor
    // exec any binary as the service.
    let executable = TestHooks.value(.workerExecutable, in: env) ?? workerExecutable(for: .posting)
    let apiExecutable = TestHooks.value(.apiExecutable, in: env) ?? workerExecutable(for: .api)
    let supervisor: Supervisor
    do {
        supervisor = try Supervisor(
            config: config,
            options: .init(executable: executable, environment: env, runtimeDir: config.daemon.runtimeDir,
                           roleExecutables: [.api: apiExecutable]),
            logger: logger)
    } catch {
        logger.critical("cannot start: \(error)")
        exit(1)
    }
    exit(supervisor.run())
}

/// `worker ROLE`: hands over to the role's executable, same arguments.
func execWorker(_ name: String, configPath: String) -> Never {
    guard let role = Role(rawValue: name) else {
        usageError("unknown role '\(name)'; roles: \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    let path = workerExecutable(for: role)
    let argv: [String] = [path, "worker", role.rawValue, "--config", configPath]
    var cArgs: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
    execv(path, &cArgs)
    writeStderr("steadypostd: cannot run \(path): \(String(cString: strerror(errno))) (is it installed beside steadypostd?)\n")
    exit(1)
}

let arguments = Arguments(Array(CommandLine.arguments.dropFirst()))
switch (arguments.command, arguments.positional.count) {
case ("run", 0):
    runSupervisor(configPath: arguments.config)
case ("check-config", 0):
    let config = loadConfig(arguments.config)
    for warning in config.warnings { writeStderr("\(config.path): warning: \(warning)\n") }
    let enabled = Role.allCases.filter { config.workers[$0]!.enabled }.map(\.rawValue)
    print("\(config.path): ok (\(config.accounts.count) account(s); workers: \(enabled.joined(separator: ", ")))")
    exit(0)
case ("worker", 1):
    execWorker(arguments.positional[0], configPath: arguments.config)
case ("worker", _):
    usageError("worker needs exactly one ROLE")
case ("run", _), ("check-config", _):
    usageError("\(arguments.command) takes no arguments besides --config")
default:
    usageError("unknown command '\(arguments.command)'")
}
