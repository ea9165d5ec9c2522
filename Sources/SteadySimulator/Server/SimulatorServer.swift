import Foundation
import Hummingbird
import Logging
import SteadyCore

/// An account to create when the simulator starts: `--account x:news-x`.
public struct SimulatorAccountSpec: Sendable, Hashable {
    public let platform: SimPlatform
    public let name: String

    public init(platform: SimPlatform, name: String) {
        self.platform = platform
        self.name = name
    }

    /// Parses `PLATFORM:NAME`; nil when malformed.
    public init?(argument: String) {
        let parts = argument.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, let platform = Platform(rawValue: String(parts[0])),
            Store.isValidAccountName(String(parts[1]))
        else { return nil }
        self.init(platform: platform, name: String(parts[1]))
    }
}

/// How to run the simulator.
public struct SimulatorConfiguration: Sendable {
    /// The address to listen on (loopback only is the CLI's rule).
    public var host: String
    /// 0 picks a free port.
    public var port: Int
    /// The seed of the one generator behind every random choice.
    public var seed: UInt64
    /// Accounts created at start.
    public var accounts: [SimulatorAccountSpec]
    /// Where to write `NAME.json` credentials files (mode 0600) for `accounts`.
    public var credentialsDirectory: String?
    /// One line per request goes here at `info`; nil: nothing is logged.
    public var logger: Logger?
    /// Every rate-limit window holds this many times the platform's limit (1: faithful).
    /// Load runs (the chaos run) raise it so thousands of posts fit in minutes.
    public var rateLimitScale: Int = 1

    public init(
        host: String = "127.0.0.1", port: Int = 0, seed: UInt64 = 1, accounts: [SimulatorAccountSpec] = [],
        credentialsDirectory: String? = nil, logger: Logger? = nil
    ) {
        self.host = host
        self.port = port
        self.seed = seed
        self.accounts = accounts
        self.credentialsDirectory = credentialsDirectory
        self.logger = logger
    }
}

/// Why the simulator could not start.
public struct SimulatorError: Error, CustomStringConvertible {
    public let description: String

    public init(_ description: String) { self.description = description }
}

/// The platform simulator: X API v2, Mastodon and Bluesky on one port, the browser pages and
/// the `/_sim/` admin API, as SIMULATOR.md specifies. The same seed and the same requests give
/// the same responses (ids, tokens, fault firings).
public final class SimulatorServer: Sendable {
    public let configuration: SimulatorConfiguration
    let simulator: Simulator

    /// Creates the state and the start-up accounts, and writes their credentials files.
    public init(configuration: SimulatorConfiguration) throws {
        self.configuration = configuration
        self.simulator = Simulator(seed: configuration.seed, rateLimitScale: configuration.rateLimitScale,
                                   logger: configuration.logger ?? SimulatorServer.silentLogger)
        if let directory = configuration.credentialsDirectory, !configuration.accounts.isEmpty {
            do {
                try FileManager.default.createDirectory(
                    atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
            } catch {
                throw SimulatorError("cannot create the credentials directory \(directory): \(error)")
            }
        }
        for spec in configuration.accounts {
            let created = simulator.withStore { store -> Result<JSON, RuleError> in
                store.createAccount(platform: spec.platform, name: spec.name).map { store.credentials(of: $0) }
            }
            switch created {
            case .failure(let error):
                throw SimulatorError("--account \(spec.platform.rawValue):\(spec.name): \(error.message)")
            case .success(let credentials):
                if let directory = configuration.credentialsDirectory {
                    let path = directory + "/" + spec.name + ".json"
                    do {
                        try AtomicFile.write(path: path, contents: credentials.serialized + "\n", mode: 0o600)
                    } catch {
                        throw SimulatorError("cannot write \(path): \(error)")
                    }
                }
            }
        }
    }

    /// The Hummingbird application serving the simulator, for `run()` or for HummingbirdTesting's
    /// `.router` and `.live` test frameworks. `onListening` receives the bound port.
    public func makeApplication(onListening: @escaping @Sendable (Int) async -> Void = { _ in })
        -> some ApplicationProtocol
    {
        // Hummingbird's own lines would only repeat ours, or report the cancellation that
        // `stop()` uses as an error: keep its logger for the critical.
        var serverLogger = configuration.logger ?? SimulatorServer.silentLogger
        serverLogger.logLevel = .critical
        return Application(
            router: simulator.makeRouter(),
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: nil),
            onServerRunning: { channel in
                await onListening(channel.localAddress?.port ?? 0)
            },
            logger: serverLogger)
    }

    /// Serves until `stop()` (or cancellation). `onListening` is called with the bound port once
    /// connections are accepted. Held responses end without an answer when it stops.
    public func run(onListening: @escaping @Sendable (Int) async -> Void = { _ in }) async throws {
        let application = makeApplication(onListening: onListening)
        let holds = simulator.holds
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await application.run() }
            group.addTask { await holds.waitUntilStopped() }
            do {
                try await group.next()
            } catch {
                group.cancelAll()
                if !holds.isStopped { throw error }
                return
            }
            holds.stop()
            group.cancelAll()
        }
    }

    /// Stops `run()`: held and hanging responses end without an answer, the listener closes.
    /// Safe from any thread (a signal handler's queue included).
    public func stop() {
        simulator.holds.stop()
    }

    /// Ends every held, delayed or hanging response now (held ones close their connection
    /// without answering). Tests call it before tearing a live server down.
    public func releaseHeldResponses() {
        simulator.holds.releaseAll()
    }

    static let silentLogger = Logger(label: "steadypost-sim", factory: { _ in SwiftLogNoOpLogHandler() })

    /// The credentials JSON of an account (INTERFACE.md format plus `web_password`), as text.
    public func credentialsJSON(of name: String) -> String? {
        simulator.withStore { store in
            store.accounts[name].map { store.credentials(of: $0).serialized }
        }
    }
}
