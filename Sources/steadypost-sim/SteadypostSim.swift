import ArgumentParser
import Dispatch
import Glibc
import Logging
import SteadyCore
import SteadySimulator
import Synchronization

/// `steadypost-sim`: the platform simulator. Exit 0 after SIGTERM or SIGINT, 1 when it cannot
/// start, 64 on bad usage.
@main
struct SteadypostSim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "steadypost-sim",
        abstract: "Play X, Mastodon and Bluesky on one loopback port, faults included.",
        discussion: """
            A stand-in for the real platforms, faithful to their wire facts (status codes, bodies, \
            rate-limit headers, token lifetimes, idempotency rules, length limits). It serves:
              X API v2     /2/tweets, /2/users/..., /2/oauth2/token
              Mastodon     /api/v1/..., /api/v2/instance
              Bluesky      /xrpc/com.atproto.*, /xrpc/app.bsky.*
              browser      /web/login, /web/compose, /web/posts/ID
            Accounts are found from the bearer token, so one server holds many accounts.

            Admin API (JSON, under /_sim/):
              GET  /_sim/health                    {"ok": true}
              POST /_sim/accounts                  {"platform","name"} -> credentials
              GET  /_sim/posts[?account=NAME]      ground truth: every post ever created
              POST /_sim/posts                     inject a post (orphan or duplicate)
              POST /_sim/mentions                  {"account","from","text","in_reply_to"?}
              POST /_sim/metrics                   {"account","id","likes"?,...}
              POST /_sim/tokens/expire|revoke      {"account"}
              POST /_sim/clock                     {"advance_ms"} moves the simulated clock
              POST /_sim/faults                    add a fault rule -> {"id"}
              GET|DELETE /_sim/faults[/ID]         list (with fired counts) / remove rules
              GET  /_sim/requests[?limit=N]        the last requests, newest last
            Fault kinds: lose-response, hold-response, delay, error-before, error-after, \
            rate-limit, token-expired, token-revoked, duplicate-content, slow-timeline, \
            rewrite-urls, hang-result-page. See SIMULATOR.md for the whole contract.

            One log line per request goes to stderr (method, path, account, status, duration, \
            fault); tokens and passwords never appear in it. SIGTERM or SIGINT stops it (exit 0).

            Example:
              steadypost-sim --port-file /tmp/sim.port --account x:news-x \\
                  --account bluesky:news-b --credentials-dir /tmp/creds &
              P=$(cat /tmp/sim.port)
              curl -s -X POST 127.0.0.1:$P/_sim/faults -d \\
                '{"kind":"lose-response","endpoint":"create","count":1}'
              curl -s 127.0.0.1:$P/_sim/posts
            """)

    @Option(help: ArgumentHelp("Where to listen: loopback only (127.0.0.0/8 or ::1); port 0 picks a free one.", valueName: "host:port"))
    var listen = "127.0.0.1:0"

    @Option(name: .customLong("port-file"), help: ArgumentHelp("Write the bound port here (atomically) once connections are accepted.", valueName: "file"))
    var portFile: String?

    @Option(help: "Seed of the one generator behind every random choice (faults, ids, tokens).")
    var seed: UInt64 = 1

    @Option(name: .customLong("account"), help: ArgumentHelp("Create this account at start (repeatable), e.g. x:news-x, mastodon:news-m, bluesky:news-b, facebook:news-f.", valueName: "platform:name"))
    var accounts: [String] = []

    @Option(name: .customLong("credentials-dir"), help: ArgumentHelp("Write each --account's credentials file DIR/NAME.json (mode 0600).", valueName: "dir"))
    var credentialsDir: String?

    @Option(name: .customLong("rate-limit-scale"), help: ArgumentHelp("Multiply every rate limit by N (1: the platforms' own; load runs raise it).", valueName: "N"))
    var rateLimitScale = 1

    @Flag(help: "No per-request log lines (warnings and errors only).")
    var quiet = false

    func validate() throws {
        _ = try ListenAddress(listen)
        guard (1...1_000_000).contains(rateLimitScale) else {
            throw ValidationError("--rate-limit-scale \(rateLimitScale): expected a whole number from 1 to 1000000")
        }
        for account in accounts where SimulatorAccountSpec(argument: account) == nil {
            throw ValidationError("--account \(account): expected PLATFORM:NAME with PLATFORM x, mastodon, bluesky or facebook and NAME [a-z0-9-]+")
        }
    }

    func run() async throws {
        let address = try ListenAddress(listen)
        let level: Logger.Level = quiet ? .warning : .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "steadypost-sim")
        var configuration = SimulatorConfiguration(
            host: address.host, port: address.port, seed: seed,
            accounts: accounts.compactMap { SimulatorAccountSpec(argument: $0) },
            credentialsDirectory: credentialsDir, logger: logger)
        configuration.rateLimitScale = rateLimitScale
        let server: SimulatorServer
        do {
            server = try SimulatorServer(configuration: configuration)
        } catch {
            logger.error("\(error)")
            throw ExitCode(1)
        }

        // Signals only ask the server to stop; run() then returns and the process exits 0.
        signal(SIGTERM, SIG_IGN)
        signal(SIGINT, SIG_IGN)
        let queue = DispatchQueue(label: "steadypost-sim.signals")
        let sources = [SIGTERM, SIGINT].map { number -> any DispatchSourceSignal in
            let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
            source.setEventHandler {
                logger.info("signal \(number): stopping")
                server.stop()
            }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }

        let portFailure = Mutex<String?>(nil)
        let portFile = self.portFile
        do {
            try await server.run { port in
                if let portFile {
                    do {
                        try AtomicFile.write(path: portFile, contents: "\(port)\n")
                    } catch {
                        portFailure.withLock { $0 = "cannot write the port file \(portFile): \(error)" }
                        server.stop()
                        return
                    }
                }
                // After the port file: a reader of this line finds the file in place.
                logger.notice("listening on \(address.host):\(port)")
            }
        } catch {
            logger.error("\(error)")
            throw ExitCode(1)
        }
        if let failure = portFailure.withLock({ $0 }) {
            logger.error("\(failure)")
            throw ExitCode(1)
        }
    }
}

/// `HOST:PORT` or `[::1]:PORT`, loopback only.
struct ListenAddress {
    let host: String
    let port: Int

    init(_ text: String) throws {
        var host: Substring
        var portText: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]"), text[text.index(after: close)...].hasPrefix(":") else {
                throw ValidationError("--listen \(text): expected [::1]:PORT")
            }
            host = text[text.index(after: text.startIndex)..<close]
            portText = text[text.index(close, offsetBy: 2)...]
        } else {
            guard let colon = text.lastIndex(of: ":") else { throw ValidationError("--listen \(text): expected HOST:PORT") }
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        }
        guard let port = Int(portText), (0...65535).contains(port) else {
            throw ValidationError("--listen \(text): the port must be 0 to 65535")
        }
        guard ListenAddress.isLoopback(String(host)) else {
            throw ValidationError("--listen \(text): loopback addresses only (127.0.0.0/8 or ::1)")
        }
        self.host = String(host)
        self.port = port
    }

    static func isLoopback(_ host: String) -> Bool {
        var v4 = in_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            return UInt32(bigEndian: v4.s_addr) >> 24 == 127
        }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, host, &v6) == 1 {
            return withUnsafeBytes(of: &v6) { bytes in
                bytes.prefix(15).allSatisfy { $0 == 0 } && bytes[15] == 1
            }
        }
        return false
    }
}
