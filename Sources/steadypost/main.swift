import ArgumentParser
import Glibc
import SteadyConfig
import SteadyControl
import SteadyCore
import SteadyProtocol

/// `steadypost`: the control CLI. Exit 0 on success, 1 when refused or failed, 2 on bad
/// usage, 3 when the daemon cannot be reached.
struct SteadypostCLI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "steadypost",
        abstract: "Control a running steadypostd over its control socket.",
        subcommands: [Status.self, Restart.self, Stop.self, Start.self, PostCommand.self, ThreadCommand.self, Jobs.self, Show.self, Cancel.self, Reconcile.self, Health.self, Token.self, Debug.self])
}

struct Connection: ParsableArguments {
    @Option(help: "The control socket (default: the config's runtime_dir/control.sock, else /run/steadypost/control.sock).")
    var socket: String?
    @Option(help: "Find the control socket through this config file.")
    var config: String?
    @Flag(help: "Machine-readable output.")
    var json = false
    @Option(help: "Give up waiting for the daemon after this many seconds (1 to 86400).")
    var timeout: Int = 30

    func validate() throws {
        guard (1...86_400).contains(timeout) else {
            throw ValidationError("--timeout: \(timeout) is not a number of seconds from 1 to 86400")
        }
    }

    func client() throws -> ControlClient {
        var path = "/run/steadypost/control.sock"
        if let socket {
            path = socket
        } else if let config {
            do {
                path = try Config.load(path: config).daemon.controlSocketPath
            } catch {
                fail(error.diagnostics.map(\.description).joined(separator: "\n"), code: 2)
            }
        }
        return ControlClient(socketPath: path, timeoutMillis: Int64(timeout) * 1000)
    }
}

func writeOut(_ text: String) {
    let bytes = Array(TerminalText.safe(text).utf8)
    _ = bytes.withUnsafeBytes { write(1, $0.baseAddress, $0.count) }
}

func fail(_ message: String, code: Int32) -> Never {
    let bytes = Array("steadypost: \(TerminalText.safe(message))\n".utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(code)
}

func perform<T>(_ body: () throws(ControlClientError) -> T) -> T {
    do { return try body() } catch { fail(error.description, code: error.exitCode) }
}

func parseRole(_ text: String) throws -> Role {
    guard let role = Role(rawValue: text) else {
        throw ValidationError("unknown role '\(text)'; roles: \(Role.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return role
}

extension SteadypostCLI {
    struct Status: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One line per worker, then the posting figures.")
        @OptionGroup var connection: Connection

        func run() throws {
            let client = try connection.client()
            if connection.json {
                let body = perform { () throws(ControlClientError) in try client.call(.status) }
                writeOut(String(decoding: body, as: UTF8.self) + "\n")
                return
            }
            let report = perform { () throws(ControlClientError) in try client.status() }
            writeOut(StatusTable.render(report))
        }
    }

    struct Restart: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Restart one worker; returns once the new one is ready.")
        @Argument(help: "The worker's role.") var role: String
        @OptionGroup var connection: Connection
        func run() throws { try roleCommand(.restart, role, connection) }
    }

    struct Stop: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Drain and stop one worker; it stays stopped until `start`.")
        @Argument(help: "The worker's role.") var role: String
        @OptionGroup var connection: Connection
        func run() throws { try roleCommand(.stop, role, connection) }
    }

    struct Start: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Start a stopped or failed worker; returns once it is ready.")
        @Argument(help: "The worker's role.") var role: String
        @OptionGroup var connection: Connection
        func run() throws { try roleCommand(.start, role, connection) }
    }

    struct Debug: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Test-only tools (need daemon.allow_fault_injection).", shouldDisplay: false,
            subcommands: [Fault.self, WaitReady.self, Call.self])

        struct Call: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Send ROLE.method with a JSON body to a worker and print its answer.")
            @Argument(help: "ROLE.method, e.g. posting.ping") var method: String
            @Argument(help: "The JSON body.") var body: String = "{}"
            @OptionGroup var connection: Connection

            func run() throws {
                let client = try connection.client()
                let answer = perform { () throws(ControlClientError) in try client.call(method: method, body: Array(body.utf8)) }
                writeOut(String(decoding: answer, as: UTF8.self) + "\n")
            }
        }

        struct WaitReady: ParsableCommand {
            static let configuration = CommandConfiguration(commandName: "wait-ready", abstract: "Wait until a worker runs with a pid other than --not-pid.")
            @Argument(help: "The worker's role.") var role: String
            @Option(name: .customLong("not-pid"), help: "A pid the ready worker must not have (the one just killed).") var notPid: Int32?
            @OptionGroup var connection: Connection

            func run() throws {
                let request = WaitReadyRequest(role: try parseRole(role), not_pid: notPid)
                let client = try connection.client()
                let body = perform { () throws(ControlClientError) in try client.call(.waitReady, body: (try? JSONCoding.encode(request)) ?? []) }
                printAnswer(body, json: connection.json)
            }
        }

        struct Fault: ParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Make a worker misbehave: hang, crash, exit or alloc.")
            @Argument(help: "The worker's role.") var role: String
            @Argument(help: "hang | crash | exit | alloc") var kind: String
            @OptionGroup var connection: Connection

            func validate() throws {
                guard ["hang", "crash", "exit", "alloc"].contains(kind) else {
                    throw ValidationError("unknown fault '\(kind)'; faults: hang, crash, exit, alloc")
                }
            }

            func run() throws {
                let request = FaultRequest(role: try parseRole(role), kind: kind)
                let client = try connection.client()
                let body = perform { () throws(ControlClientError) in try client.call(.fault, body: (try? JSONCoding.encode(request)) ?? []) }
                printAnswer(body, json: connection.json)
            }
        }
    }
}

func roleCommand(_ method: ControlMethod, _ roleText: String, _ connection: Connection) throws {
    let role = try parseRole(roleText)
    let client = try connection.client()
    let body = perform { () throws(ControlClientError) in try client.call(method, body: (try? JSONCoding.encode(RoleRequest(role: role))) ?? []) }
    printAnswer(body, json: connection.json)
}

func printAnswer(_ body: [UInt8], json: Bool) {
    if json {
        writeOut(String(decoding: body, as: UTF8.self) + "\n")
    } else if let answer = try? JSONCoding.decode(MessageBody.self, body, type: "answer") {
        writeOut(answer.message + "\n")
    }
}

// Usage errors exit 2 (INTERFACE.md), not ArgumentParser's 64.
do {
    var command = try SteadypostCLI.parseAsRoot(GlobalOptions.reorder(Array(CommandLine.arguments.dropFirst())))
    try command.run()
} catch {
    let code = SteadypostCLI.exitCode(for: error)
    if code == .success {
        SteadypostCLI.exit(withError: error)
    }
    if let exit = error as? ExitCode {
        SteadypostCLI.exit(withError: exit)
    }
    let message = SteadypostCLI.fullMessage(for: error)
    let bytes = Array((TerminalText.safe(message) + "\n").utf8)
    _ = bytes.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}
