import Glibc
import SteadyConfig
import SteadyPlatforms
import SteadySystem

/// Finds and parses an account's credentials file (INTERFACE.md). Under systemd,
/// `LoadCredential=accounts:DIR` names the files `accounts_<file>`, so both spellings are
/// tried. Errors name the file and the problem, never its content.
public enum CredentialsLoader {
    public static func load(_ account: AccountConfig, config: Config) -> Result<Credentials, CredentialsLoadError> {
        let primary = config.credentialsPath(for: account)
        let dir = config.daemon.credentialsDir
        let alternate = (dir.hasSuffix("/") ? dir : dir + "/") + "accounts_" + account.credentials
        for path in [primary, alternate] {
            let text: String
            switch SecretFile.read(path, trustMode: config.daemon.credentialsFromSystemd) {
            case .missing: continue
            case .refused(let why): return .failure(CredentialsLoadError(account: account.name, message: why))
            case .read(let t): text = t
            }
            do {
                return .success(try Credentials.parse(text, platform: account.platform))
            } catch {
                return .failure(CredentialsLoadError(account: account.name, message: "\(path): \(error.description)"))
            }
        }
        return .failure(CredentialsLoadError(account: account.name, message: "no credentials file \(primary) (nor \(alternate))"))
    }
}

public struct CredentialsLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    public var account: String
    public var message: String
    public var description: String { "account \(account): \(message)" }
}
