import Glibc
import Logging
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyStore
import SteadyTokens

/// `steadypost-bench token-race STATE_DIR ACCOUNT PLATFORM BASE_URL CREDENTIALS_FILE GO_FILE`:
/// one process renewing an account's refused tokens the way every worker does
/// (`TokenKeeper`), for the process-level test that several of these racing on one expired
/// X token spend its single-use refresh token once. Opens `STATE_DIR/steadypost.db`, makes
/// the adapter from the credentials file and the stored tokens, waits until GO_FILE exists
/// (so the racers start together; it prints `ready` once it holds its tokens), renews, then
/// reads the account's identity with whatever tokens it ended with. Prints `renewal OUTCOME`
/// and `read ok` (or `read failed: ERROR`);
/// exits 1 if it could not run at all.
enum TokenRace {
    static func run(stateDir: String, account: String, platform: String, baseURL: String, credentialsFile: String, goFile: String) {
        guard let platform = Platform(rawValue: platform) else { die("token-race: unknown platform \(platform)") }
        let store: any Store
        do { store = try Stores.open(path: stateDir + "/steadypost.db") } catch { die("token-race: cannot open the store: \(error)") }
        guard let text = readFile(credentialsFile) else { die("token-race: cannot read \(credentialsFile)") }
        let credentials: Credentials
        do { credentials = try Credentials.parse(text, platform: platform) } catch { die("token-race: \(credentialsFile): \(error)") }
        let logger = Logger(label: "token-race") { _ in SwiftLogNoOpLogHandler() }
        let keeper = TokenKeeper(account: account, platform: platform, credentials: credentials, store: store, stateDir: stateDir, logger: logger)
        let stored: SessionTokens?
        do { stored = try keeper.stored() } catch { die("token-race: cannot read the stored tokens: \(error)") }
        let adapter = AdapterFactory.make(credentials: credentials, baseURL: baseURL, session: stored,
                                          client: HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 2_000, totalTimeoutMillis: 10_000)))
        let refused = adapter.session
        // The starting line: every racer has its tokens in hand before any of them renews.
        out("ready")
        let deadline = SteadyClock.monotonicMillis() + 30_000
        while access(goFile, F_OK) != 0 {
            guard SteadyClock.monotonicMillis() < deadline else { die("token-race: \(goFile) never appeared") }
            usleep(500)
        }
        let renewal = keeper.renew(adapter, refused: refused, deadline: SteadyClock.wallMillis() + 20_000)
        out("renewal \(renewal)")
        do {
            _ = try adapter.identity()
            out("read ok")
        } catch {
            out("read failed: \(error)")
        }
    }

    static func readFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            bytes += chunk[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
