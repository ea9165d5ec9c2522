import SteadyWorker
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyStore

/// Bearer tokens: `spt_` and 64 hex digits from the system's CSPRNG, shown once; the store
/// keeps only their SHA-256. The routed methods `api.token-create`, `token-list` and
/// `token-revoke` are how `steadypost token ...` reaches them: the control socket already
/// decides who administers the daemon (SO_PEERCRED), and the CLI never needs to open the
/// database (mode 0600, owned by the service user).
public enum APITokens {
    public static func generate() -> String {
        var rng = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        for _ in 0..<4 {
            var word = rng.next() as UInt64
            for _ in 0..<8 {
                bytes.append(UInt8(truncatingIfNeeded: word))
                word >>= 8
            }
        }
        // 256 random bits, hashed into 64 hex digits.
        return "spt_" + SHA256.hex(bytes)
    }

    /// The SHA-256 of the token, in hex: what the store keeps.
    public static func hash(_ token: String) -> String { SHA256.hex(Array(token.utf8)) }

    /// Names as accounts have them: 1-64 of a-z, 0-9, '-'.
    public static func validName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count) && name.utf8.allSatisfy { ($0 >= 97 && $0 <= 122) || ($0 >= 48 && $0 <= 57) || $0 == 45 }
    }
}

extension APIService {
    /// `api.token-create {"name"}` → `{"name", "token", "created_at"}` (the only time the
    /// token is shown).
    func tokenCreate(_ body: [UInt8]) -> WorkerCallResult {
        guard let name = (try? JSON.parse(body))?["name"]?.string else {
            return .error(code: "invalid", message: "expected {\"name\": \"NAME\"}")
        }
        guard APITokens.validName(name) else {
            return .error(code: "invalid", message: "name: 1 to 64 characters of a-z, 0-9 and '-', got '\(name)'")
        }
        let token = APITokens.generate()
        let now = SteadyClock.wallMillis()
        do { try store.createToken(name: name, hash: APITokens.hash(token), now: now) } catch .conflict(let why) {
            return .error(code: "conflict", message: why)
        } catch {
            return .error(code: "store", message: "cannot store the token: \(error)")
        }
        logger.notice("API token created", metadata: ["TOKEN_NAME": "\(name)"])
        return .ok(JSON.obj([("name", JSON(name)), ("token", JSON(token)), ("created_at", JSON(HTTPTime.formatISO8601(millis: now)))]).bytes)
    }

    /// `api.token-list` → `{"tokens": [{"name", "created_at", "revoked_at", "last_used_at", "active"}]}`.
    func tokenList() -> WorkerCallResult {
        do {
            let items = try store.tokens().map { t in
                JSON.obj([
                    ("name", JSON(t.name)), ("created_at", JSON(HTTPTime.formatISO8601(millis: t.createdAt))),
                    ("revoked_at", t.revokedAt.map { JSON(HTTPTime.formatISO8601(millis: $0)) } ?? .null),
                    ("last_used_at", t.lastUsedAt.map { JSON(HTTPTime.formatISO8601(millis: $0)) } ?? .null),
                    ("active", .bool(t.revokedAt == nil)),
                ])
            }
            return .ok(JSON.obj([("tokens", .array(items))]).bytes)
        } catch {
            return .error(code: "store", message: "cannot read the tokens: \(error)")
        }
    }

    /// `api.token-revoke {"name"}`: refused from then on.
    func tokenRevoke(_ body: [UInt8]) -> WorkerCallResult {
        guard let name = (try? JSON.parse(body))?["name"]?.string, !name.isEmpty else {
            return .error(code: "invalid", message: "expected {\"name\": \"NAME\"}")
        }
        do { try store.revokeToken(name: name, now: SteadyClock.wallMillis()) } catch .notFound {
            return .error(code: "not-found", message: "no active token named \(name)")
        } catch {
            return .error(code: "store", message: "cannot revoke the token: \(error)")
        }
        logger.notice("API token revoked", metadata: ["TOKEN_NAME": "\(name)"])
        return .ok(JSON.obj([("message", JSON("token \(name) revoked"))]).bytes)
    }
}
