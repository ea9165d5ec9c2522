import SteadyCore
import SteadyPlatforms

/// How rotated tokens are kept in `account_state.tokens`: the `SessionTokens` JSON plus a
/// fingerprint of the credentials file they grew from. When an operator replaces the file
/// (re-authorizes the account), the fingerprint no longer matches and the stale rotation is
/// dropped in favour of the new file. The fingerprint is a SHA-256 of the secrets: it
/// reveals nothing about them.
public enum TokenRecord {
    public static func fingerprint(_ credentials: Credentials) -> String {
        String(SHA256.hex(Array(credentials.secrets.joined(separator: "\u{0}").utf8)).prefix(32))
    }

    public static func encode(_ tokens: SessionTokens, fingerprint: String) -> String {
        JSON.obj([("credentials_fp", JSON(fingerprint)), ("session", (try? JSON.parse(tokens.json)) ?? .null)]).serialized
    }

    /// The stored session if it belongs to these credentials.
    public static func decode(_ text: String?, fingerprint: String) -> SessionTokens? {
        guard let text, let j = try? JSON.parse(text), j["credentials_fp"]?.string == fingerprint,
              let session = j["session"], session.isObject else { return nil }
        return try? SessionTokens(json: session.serialized)
    }
}
