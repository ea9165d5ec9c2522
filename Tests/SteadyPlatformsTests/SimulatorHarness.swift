import Glibc
import SteadyCore
import SteadyHTTP
import SteadySystem
import SteadyTestSupport
import Testing

@testable import SteadyPlatforms

/// The real `steadypost-sim` (SteadyTestSupport's `SimulatorProcess`), with the accounts as
/// these tests use them: credentials parsed for an adapter.
extension SimulatorProcess {
    struct Account {
        var name: String
        var platform: Platform
        var userId: String?
        var handle: String?
        var credentials: Credentials
    }

    func createAccount(_ platform: Platform, _ name: String) throws -> Account {
        let j = try newAccount(platform, name)
        guard let creds = j["credentials"] else { throw TestError("POST /_sim/accounts: no credentials in \(j.serialized.prefix(200))") }
        return Account(name: name, platform: platform, userId: j["user_id"]?.stringOrNumber, handle: j["handle"]?.string,
                       credentials: try Credentials.parse(creds.serialized, platform: platform))
    }
}

/// An adapter bound to a simulator account, with a client whose total timeout is short enough
/// for hold-response faults.
func makeAdapter(_ sim: SimulatorProcess, _ account: SimulatorProcess.Account, totalTimeoutMillis: Int = 4000) -> any PlatformAdapter {
    let client = HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: 2000, totalTimeoutMillis: totalTimeoutMillis))
    return AdapterFactory.make(credentials: account.credentials, baseURL: sim.baseURL, client: client)
}

/// An adapter that starts from given session tokens (e.g. a stale rotation).
func makeAdapterWithSession(_ sim: SimulatorProcess, _ account: SimulatorProcess.Account, _ session: SessionTokens) -> any PlatformAdapter {
    AdapterFactory.make(credentials: account.credentials, baseURL: sim.baseURL, session: session, client: HTTPClient())
}
