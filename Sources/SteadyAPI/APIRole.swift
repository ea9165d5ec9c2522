import Glibc
import Logging
import SteadyConfig
import SteadyCore
import SteadyMedia
import SteadyStore
import SteadySystem
import SteadyWorker

/// The api worker's role: the HTTP server runs on its own threads; this loop keeps the
/// heartbeats, answers the routed `api.*` methods (tokens, health), and takes back what the
/// server's tasks hand it through `LoopInbox`.
public final class APIRole: WorkerRole {
    public let service: APIService
    let server: APIServer
    let inbox: LoopInbox<LoopEvent>
    var replies: WorkerReplies?
    var draining = false
    var logger: Logger

    /// Opens the store (`state_dir/steadypost.db`, created and migrated if the posting
    /// worker has not yet) and starts serving on `api.listen`; throws when either fails.
    public init(config: Config, logger: Logger) throws {
        self.logger = logger
        let dir = config.daemon.stateDir
        do { try Files.makeDirectories(dir, mode: 0o700) } catch {
            throw APIServerError(description: "cannot create the state directory \(dir): \(error)")
        }
        let dbPath = dir + "/steadypost.db"
        let store: any Store
        do { store = try Stores.open(path: dbPath) } catch {
            throw APIServerError(description: "cannot open the store \(dbPath): \(error)")
        }
        // The store holds rotated tokens and the API's token hashes: owner-only.
        for suffix in ["", "-wal", "-shm"] { _ = chmod(dbPath + suffix, 0o600) }
        let inbox = try LoopInbox<LoopEvent>()
        self.inbox = inbox
        let media: MediaStore
        do { media = try MediaStore(directory: dir + "/media", chunkSize: config.media.chunkBytes) } catch {
            throw APIServerError(description: "cannot open the media store: \(error)")
        }
        var links: MediaLinks?
        do { links = try MediaLinks.open(stateDir: dir) } catch {
            logger.error("media links cannot be served (platforms that fetch media by URL will fail to): \(error)")
        }
        service = APIService(config: config, store: store, media: media, mediaLinks: links, logger: logger)
        server = try APIServer.start(service: service, host: config.api.host, port: config.api.port, logger: logger) {
            inbox.post(.serverStopped)
        }
        logger.info("serving HTTP on \(config.api.host):\(server.port)",
                    metadata: ["http.max_connections": "\(server.connectionCounters["http_connection_limit"] ?? 0)",
                               "http.header_timeout_ms": "\(config.api.headerTimeoutMs)", "http.idle_timeout_ms": "\(config.api.idleTimeoutMs)"])
    }

    public var summary: String {
        "serving HTTP on \(service.config.api.host):\(server.port): /api, /health, /metrics, dashboard at /"
    }

    public var inFlight: Int { server.inFlight }

    public var counters: [String: Int64] {
        service.counters.merging(["http_port": Int64(server.port), "http_in_flight": Int64(server.inFlight)]) { a, _ in a }
            .merging(server.connectionCounters) { a, _ in a }
    }

    public func beginDrain() {
        guard !draining else { return }
        draining = true
        server.stop()
    }

    public var drained: Bool { draining && server.stopped }

    public var watchedDescriptors: [Int32] { [inbox.readFd] }

    public func readable(_ fd: Int32) {
        for event in inbox.drain() {
            switch event {
            case .reply(let correlation, let reply): replies?.reply(correlation: correlation, reply)
            case .serverStopped where !draining:
                // Nothing serves any more: exit, and the supervisor restarts the worker.
                logger.critical("the HTTP server stopped on its own; exiting")
                exit(1)
            case .serverStopped: break
            }
        }
    }

    /// From here on the HTTP handlers reach the other roles through the runtime's outbox.
    public func start(context: WorkerContext) {
        replies = context.replies
        service.link = context.outbox
    }

    public func handle(request: WorkerRequest) -> WorkerReply? {
        switch request.method {
        case "token-create": return Self.reply(service.tokenCreate(request.body))
        case "token-list": return Self.reply(service.tokenList())
        case "token-revoke": return Self.reply(service.tokenRevoke(request.body))
        case "health":
            // The supervisor's status comes through the outbox; the answer is given later,
            // back on this loop.
            let service = self.service
            let inbox = self.inbox
            let correlation = request.correlation
            Task.detached {
                let (status, error) = await service.supervisorStatus()
                let report = service.healthReport(status: status, statusError: error)
                inbox.post(.reply(correlation: correlation, .ok(report.json.bytes)))
            }
            return .deferred
        default:
            return nil
        }
    }

    static func reply(_ answer: WorkerCallResult) -> WorkerReply {
        switch answer {
        case .ok(let bytes): return .ok(bytes)
        case .error(let code, let message): return .error(code: code, message: message)
        }
    }
}

/// What the server's threads hand the worker's loop.
enum LoopEvent: Sendable {
    /// A deferred routed request's answer (given on the loop, as `WorkerReplies` asks).
    case reply(correlation: UInt64, WorkerReply)
    /// The HTTP server has ended (the drain can finish).
    case serverStopped
}

