import Glibc
import SteadyConfig
import SteadyPlatforms

/// Finds and parses an account's credentials file (INTERFACE.md). Under systemd,
/// `LoadCredential=accounts:DIR` names the files `accounts_<file>`, so both spellings are
/// tried. Errors name the file and the problem, never its content.
public enum CredentialsLoader {
    public static func load(_ account: AccountConfig, config: Config) -> Result<Credentials, CredentialsLoadError> {
        let primary = config.credentialsPath(for: account)
        let dir = config.daemon.credentialsDir
        let alternate = (dir.hasSuffix("/") ? dir : dir + "/") + "accounts_" + account.credentials
        for path in [primary, alternate] {
            guard let text = readSmallFile(path) else { continue }
            do {
                return .success(try Credentials.parse(text, platform: account.platform))
            } catch {
                return .failure(CredentialsLoadError(account: account.name, message: "\(path): \(error.description)"))
            }
        }
        return .failure(CredentialsLoadError(account: account.name, message: "no credentials file \(primary) (nor \(alternate))"))
    }

    static func readSmallFile(_ path: String) -> String? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while out.count < 1 << 20 {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            out += chunk[0..<n]
        }
        return String(decoding: out, as: UTF8.self)
    }
}

public struct CredentialsLoadError: Error, Sendable, Equatable, CustomStringConvertible {
    public var account: String
    public var message: String
    public var description: String { "account \(account): \(message)" }
}
