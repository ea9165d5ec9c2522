import Glibc
import Logging
import SteadyConfig
import SteadyCore
import SteadyHTTP
import SteadyMedia
import SteadyPlatforms
import SteadyStore
import SteadySystem
@testable import SteadyAPI

/// A temporary directory with a config and a store in it; removed at the end.
final class APIFixture {
    let tmp = TempDir("steadypost-api")
    let dir: String
    let config: Config
    let store: SQLitePostStore
    let service: APIService
    var server: APIServer?
    let http = HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 2000, totalTimeoutMillis: 20_000))

    static let logger: Logger = {
        var l = Logger(label: "steadypost.api.test")
        l.logLevel = getenv("STEADYPOST_TEST_LOG") != nil ? .debug : .critical
        return l
    }()

    /// `mediaMaxBytes`: the service gets a media store at `state/media` taking at most that much.
    init(extraTOML: String = "", apiTOML: String = "", mediaMaxBytes: Int64? = nil) throws {
        dir = tmp.path
        try Files.makeDirectories(dir + "/credentials", mode: 0o700)
        let toml = """
        [daemon]
        state_dir = "\(dir)/state"
        runtime_dir = "\(dir)/run"
        credentials_dir = "\(dir)/credentials"

        [api]
        listen = "127.0.0.1:0"
        \(apiTOML)

        [[accounts]]
        name = "news-x"
        platform = "x"
        base_url = "http://127.0.0.1:9"
        credentials = "news-x.json"
        quota = { hourly = 4, daily = 10 }

        \(extraTOML)
        """
        let path = dir + "/steadypost.toml"
        try Files.writeAtomically(path, toml)
        config = try Config.parse(toml, path: path)
        try Files.makeDirectories(dir + "/state", mode: 0o700)
        store = try SQLitePostStore(path: dir + "/state/steadypost.db")
        let stateDir = dir + "/state"
        let media = try mediaMaxBytes.map { try MediaStore(directory: stateDir + "/media", chunkSize: 64 << 10, maxBytes: $0) }
        let links = try mediaMaxBytes.map { _ in try MediaLinks.open(stateDir: stateDir) }
        service = APIService(config: config, store: store, media: media, mediaLinks: links, logger: Self.logger)
    }

    /// Serves the real HTTP server over loopback.
    func serve() throws -> Int {
        let s = try APIServer.start(service: service, host: "127.0.0.1", port: 0, logger: Self.logger) {}
        server = s
        return s.port
    }

    func get(_ path: String, token: String? = nil) throws -> HTTPResponse {
        try send(.get, path, token: token)
    }

    func send(_ method: HTTPMethod, _ path: String, token: String? = nil, body: String? = nil) throws -> HTTPResponse {
        guard let port = server?.port else { throw TestFailure("not serving") }
        var headers: HTTPHeaders = [:]
        if let token { headers.add("Authorization", "Bearer \(token)") }
        if body != nil { headers.add("Content-Type", "application/json") }
        return try http.send(HTTPRequest(method: method, url: "http://127.0.0.1:\(port)\(path)", headers: headers, body: body.map { Array($0.utf8) }))
    }

    deinit {
        server?.stop()
        tmp.remove()
    }
}

/// The repository's root (this file is Tests/SteadyAPITests/Support.swift).
let repositoryRoot: String = {
    var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
    parts.removeLast(3)
    return parts.joined(separator: "/")
}()

func post(_ text: String, due: Int64, account: String = "news-x") -> NewPost {
    NewPost(account: account, platform: "x", text: text, dueAt: due, contentHash: "h:" + text)
}
