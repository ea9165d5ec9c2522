import Dispatch
import Glibc
import Logging
import Testing
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyStore
import SteadySystem
import SteadyTestSupport
import SteadyTokens
import Synchronization

/// The one renewal mechanism every process uses (`TokenKeeper`), against the real simulator:
/// racing renewers spend X's single-use refresh token once; a transient failure of the token
/// endpoint is retried with the same refresh token; only a refusal says "re-authorize".
@Suite("token keeper", .serialized, .timeLimit(.minutes(2)))
struct TokenKeeperTests {
    /// One simulator X account, its credentials, and a state directory with a store.
    final class Fixture: @unchecked Sendable {
        let sim: SimulatorProcess
        let dir = TempDir("steadypost-tokens")
        let store: SQLitePostStore
        let account: String
        let credentials: Credentials
        let logger = Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }

        init(_ account: String) throws {
            sim = try SimulatorProcess()
            self.account = account
            store = try SQLitePostStore(path: dir.path + "/steadypost.db")
            guard let creds = try sim.newAccount(.x, account)["credentials"] else { throw TestFailure("no credentials") }
            credentials = try Credentials.parse(creds.serialized, platform: .x)
        }

        func keeper(_ policy: TokenKeeper.Policy = TokenKeeper.Policy(retryDelaysMs: [50, 100, 200])) -> TokenKeeper {
            TokenKeeper(account: account, platform: .x, credentials: credentials, store: store, stateDir: dir.path, policy: policy, logger: logger)
        }

        /// An adapter as a process starting now makes it: the file's tokens, or the stored ones.
        func adapter() throws -> any PlatformAdapter {
            AdapterFactory.make(credentials: credentials, baseURL: sim.baseURL, session: try keeper().stored(),
                                client: HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 2_000, totalTimeoutMillis: 10_000)))
        }

        func expireAccess() throws { try sim.call(.post, "/_sim/tokens/expire", .obj([("account", JSON(account))])) }

        /// The token endpoint's requests in the simulator's log (status of each, in order).
        func tokenRequests() throws -> [Int] {
            try sim.requests().filter { $0["path"]?.string == "/2/oauth2/token" }.compactMap { $0["status"]?.int }
        }

        deinit {
            sim.stop()
            dir.remove()
        }
    }

    final class Box<T>: @unchecked Sendable {
        var value: T
        init(_ value: T) { self.value = value }
    }

    @Test("the simulator refuses a reused X refresh token (what a second, unlocked refresher would meet)")
    func simulatorRefusesReusedRefreshToken() throws {
        let f = try Fixture("reuse-x")
        let first = try f.adapter()
        let second = try f.adapter()
        guard case .refreshed = try first.refreshAuth() else { throw TestFailure("the first refresh did not refresh") }
        #expect(throws: PlatformError.self) { _ = try second.refreshAuth() }
        do {
            _ = try second.refreshAuth()
        } catch {
            #expect(error.errorClass == .auth)
            #expect(error.evidence.platformError == "invalid_request", "\(error)")
        }
        #expect(try f.tokenRequests() == [200, 400, 400])
    }

    @Test("four threads renewing one expired X token spend its refresh token once; all end with working tokens")
    func racingThreadsSpendRefreshTokenOnce() throws {
        let f = try Fixture("race-x")
        let n = 4
        let adapters = try (0..<n).map { _ in Box(try f.adapter()) }
        let keepers = (0..<n).map { _ in f.keeper() }
        try f.expireAccess()
        #expect(throws: PlatformError.self) { _ = try adapters[0].value.identity() }

        // Everyone holds the refused tokens in hand, then all renew at once.
        let ready = DispatchSemaphore(value: 0)
        let go = DispatchSemaphore(value: 0)
        let done = DispatchGroup()
        let results = Mutex<[TokenKeeper.Renewal]>([])
        for i in 0..<n {
            let (adapter, keeper) = (adapters[i], keepers[i])
            done.enter()
            DispatchQueue.global().async {
                let refused = adapter.value.session
                ready.signal()
                go.wait()
                let r = keeper.renew(adapter.value, refused: refused, deadline: SteadyClock.wallMillis() + 20_000)
                results.withLock { $0.append(r) }
                done.leave()
            }
        }
        for _ in 0..<n { ready.wait() }
        for _ in 0..<n { go.signal() }
        #expect(done.wait(timeout: .now() + 30) == .success)

        let renewals = results.withLock { $0 }
        #expect(renewals.filter { $0 == .refreshed }.count == 1, "\(renewals)")
        #expect(renewals.filter { $0 == .adopted }.count == n - 1, "\(renewals)")
        #expect(try f.tokenRequests() == [200], "one refresh request, accepted")
        let stored = try #require(try f.keeper().stored())
        for a in adapters {
            #expect(a.value.session.sameTokens(as: stored))
            #expect(throws: Never.self) { _ = try a.value.identity() }
        }
    }

    @Test("a 504 from the token endpoint is retried with the same refresh token and succeeds")
    func gatewayTimeoutRetriedWithSameToken() throws {
        let f = try Fixture("t504-x")
        let adapter = try f.adapter()
        try f.expireAccess()
        try f.sim.fault("error-before", account: f.account, endpoint: "refresh", count: 1, extra: [("status", JSON(504))])
        let r = f.keeper().renew(adapter, refused: adapter.session, deadline: SteadyClock.wallMillis() + 20_000)
        #expect(r == .refreshed)
        #expect(try f.tokenRequests() == [504, 200])
        #expect(throws: Never.self) { _ = try adapter.identity() }
    }

    @Test("a 504 that lasts past the tries is transient (the refresh token kept and good later), never a refusal")
    func persistentGatewayTimeoutIsTransient() throws {
        let f = try Fixture("t504p-x")
        let adapter = try f.adapter()
        let before = adapter.session
        try f.expireAccess()
        try f.sim.fault("error-before", account: f.account, endpoint: "refresh", count: 10, extra: [("status", JSON(504))])
        let r = f.keeper().renew(adapter, refused: adapter.session, deadline: SteadyClock.wallMillis() + 20_000)
        guard case .transient(let why) = r else { throw TestFailure("expected transient, got \(r)") }
        #expect(why.contains("HTTP 504") && why.contains("4 time(s)"), "\(why)")
        #expect(try f.tokenRequests() == [504, 504, 504, 504])
        #expect(adapter.session.sameTokens(as: before), "the same refresh token is kept")
        try f.sim.clearFaults()
        #expect(f.keeper().renew(adapter, refused: adapter.session, deadline: SteadyClock.wallMillis() + 20_000) == .refreshed)
    }

    @Test("F21: rotated tokens the store refuses are kept in a 0600 pending file: every process reads them first, they move into the store once it takes them, and the rotated refresh token still renews")
    func f21RotatedTokensOutliveAFailingStore() throws {
        let f = try Fixture("pending-x")
        let failing = FaultInjectingStore(f.store, retry: TransientRetry(limit: 0, baseMillis: 1))
        func keeper(_ store: any AccountStore) -> TokenKeeper {
            TokenKeeper(account: f.account, platform: .x, credentials: f.credentials, store: store, stateDir: f.dir.path,
                        policy: TokenKeeper.Policy(retryDelaysMs: [50]), logger: f.logger)
        }
        let adapter = try f.adapter()
        try f.expireAccess()
        failing.failNextWrites(1_000, with: .injectedIOError("disk gone"))
        let first = keeper(failing)
        #expect(first.renew(adapter, refused: adapter.session, deadline: SteadyClock.wallMillis() + 20_000) == .refreshed)
        #expect(try f.store.tokens(account: f.account) == nil, "the store took nothing")
        #expect(try Files.status(first.pendingPath)?.permissions == 0o600)
        // A process started now (the store still failing) reads the rotated tokens, not the spent ones.
        #expect(try keeper(failing).stored()?.sameTokens(as: adapter.session) == true)
        #expect(throws: Never.self) { _ = try adapter.identity() }

        // The store recovers: the next use moves the tokens into it and the file goes.
        failing.failNextWrites(0, with: .injectedIOError("disk gone"))
        #expect(keeper(failing).flushUnsaved())
        #expect(!Files.exists(first.pendingPath))
        let stored = TokenRecord.decode(try f.store.tokens(account: f.account), fingerprint: first.fingerprint)
        #expect(stored?.sameTokens(as: adapter.session) == true)

        // The kept refresh token is the platform's current one: the next renewal succeeds.
        try f.expireAccess()
        #expect(f.keeper().renew(adapter, refused: adapter.session, deadline: SteadyClock.wallMillis() + 20_000) == .refreshed)
        #expect(try f.tokenRequests() == [200, 200], "no refresh token was refused")
    }

    @Test("a refused refresh token is reported as refused, naming the platform's error")
    func refusedRefreshTokenSaysReauthorize() throws {
        let f = try Fixture("refused-x")
        let adapter = try f.adapter()
        try f.sim.call(.post, "/_sim/tokens/revoke", .obj([("account", JSON(f.account))]))
        let r = f.keeper().renew(adapter, refused: adapter.session, deadline: SteadyClock.wallMillis() + 20_000)
        #expect(r == .refused("the platform refused the refresh token (invalid_request): re-authorize the account"))
        #expect(try f.tokenRequests() == [400], "a refusal is not retried")
    }

    @Test("a refresh cut off earlier (its mark left by a dead process) is named in the refusal; a refresh that ends leaves no mark")
    func interruptedRefreshNamed() throws {
        let f = try Fixture("cut-x")
        let adapter = try f.adapter()
        let keeper = f.keeper()
        #expect(keeper.renew(adapter, refused: adapter.session, deadline: SteadyClock.wallMillis() + 20_000) == .refreshed)
        #expect(!Files.exists(keeper.refreshingPath), "a finished refresh removes its mark")
        // A process that sent a refresh and died before storing the answer leaves its mark;
        // the platform has rotated (here: revoked) the refresh token meanwhile.
        try Files.writeAtomically(keeper.refreshingPath, "pid 4242, started at 1 ms\n", mode: 0o600)
        try f.sim.call(.post, "/_sim/tokens/revoke", .obj([("account", JSON(f.account))]))
        let r = keeper.renew(adapter, refused: adapter.session, deadline: SteadyClock.wallMillis() + 20_000)
        #expect(r == .refused("the platform refused the refresh token (invalid_request), likely spent by a refresh cut off before its answer was stored (pid 4242, started at 1 ms): re-authorize the account"))
        #expect(!Files.exists(keeper.refreshingPath))
    }

    @Test("a token whose expiry the platform told is renewed ahead of it, once, without a refusal")
    func renewedAheadOfExpiry() throws {
        let f = try Fixture("ahead-x")
        try f.sim.call(.post, "/_sim/tokens/lifetime", .obj([("access_s", JSON(2))]))
        let adapter = try f.adapter()
        let keeper = f.keeper()
        // The file's token has no known expiry: nothing to do ahead of time.
        #expect(keeper.renewIfDue(adapter, deadline: SteadyClock.wallMillis() + 10_000) == nil)
        try f.expireAccess()
        #expect(keeper.renew(adapter, refused: adapter.session, deadline: SteadyClock.wallMillis() + 10_000) == .refreshed)
        #expect(adapter.session.accessExpiresAtMs != nil, "X said expires_in")
        #expect(keeper.renewIfDue(adapter, deadline: SteadyClock.wallMillis() + 10_000) == nil, "not yet: most of its life is left")
        _ = try waitFor("the last fifth of the token's life", timeoutMillis: 5_000) { () -> Bool? in
            adapter.session.renewalDue(nowMs: SteadyClock.wallMillis()) ? true : nil
        }
        #expect(throws: Never.self) { _ = try adapter.identity() }  // still valid
        #expect(keeper.renewIfDue(adapter, deadline: SteadyClock.wallMillis() + 10_000) == .refreshed)
        #expect(keeper.renewIfDue(adapter, deadline: SteadyClock.wallMillis() + 10_000) == nil, "renewed once")
        #expect(try f.tokenRequests() == [200, 200])
        #expect(try f.sim.requests().filter { $0["status"]?.int == 401 }.isEmpty, "no request was refused")
    }

    @Test("renewal ahead of expiry: due once less than a fifth of the life (at most 5 minutes) remains; never without an expiry",
          arguments: [
              // (issued, expires, now, due)
              (Int64(0), Int64(7_200_000), Int64(6_800_000), false),
              (0, 7_200_000, 6_900_000, true),     // 5 minutes left of 2 hours
              (0, 8_000, 6_000, false),            // 2 s left of 8 s
              (0, 8_000, 6_400, true),             // 1.6 s left of 8 s: a fifth
              (0, 8_000, 9_000, true),             // expired
          ])
    func renewalDue(issued: Int64, expires: Int64, now: Int64, due: Bool) {
        let s = SessionTokens(accessToken: "a", refreshToken: "r", accessExpiresAtMs: expires, accessIssuedAtMs: issued)
        #expect(s.renewalDue(nowMs: now) == due)
        #expect(SessionTokens(accessToken: "a").renewalDue(nowMs: .max) == false)
    }

    @Test("the account lock excludes a second holder until released, and a bounded wait names the file")
    func fileLockExcludesAndTimesOut() throws {
        let dir = TempDir("steadypost-lock")
        let path = dir.path + "/a.lock"
        let first = try FileLock.acquire(path, timeoutMillis: 0)
        do {
            _ = try FileLock.acquire(path, timeoutMillis: 50)
            Issue.record("a second holder got the lock")
        } catch {
            #expect(error.call.contains(path) && error.errno == EWOULDBLOCK, "\(error)")
        }
        first.release()
        let second = try FileLock.acquire(path, timeoutMillis: 0)
        second.release()
    }
}
