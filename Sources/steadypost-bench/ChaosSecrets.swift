import FoundationEssentials
import SteadyControl
import SteadyStore
import SteadySystem

/// After a chaos run: every secret the daemon held — each string in the credentials files
/// and every token the platforms rotated in (persisted in the store) — must appear nowhere
/// an operator looks: the log lines of every process, `status`, the job listings and each
/// post's errors and attempts.
enum ChaosSecrets {
    /// Values of secret fields (a key naming a token, password, secret or JWT; at least 12
    /// characters), from the credential files and the store's persisted session tokens.
    /// Identifiers and client ids are not secret and may be logged.
    static func collect(credentialsDir: String, store: any Store, accounts: [String]) -> Set<String> {
        var secrets: Set<String> = []
        func strings(in json: String) {
            guard let pairs = try? JSONSerializationLite.strings(json) else { return }
            for (key, value) in pairs where value.count >= 12 {
                let k = key.lowercased()
                if ["token", "password", "secret", "jwt"].contains(where: { k.contains($0) }) { secrets.insert(value) }
            }
        }
        for account in accounts {
            if let text = Files.read(credentialsDir + "/" + account + ".json") { strings(in: text) }
        }
        if let states = try? store.accountStates() {
            for state in states.values { if let tokens = state.tokens { strings(in: tokens) } }
        }
        return secrets
    }

    /// Where each secret was seen ("daemon.log", "status", ...), one entry per place and secret.
    static func leaks(_ secrets: Set<String>, logPath: String, client: ControlClient, store: any Store) -> [String] {
        var places: [(String, String)] = [("daemon.log", Files.read(logPath) ?? "")]
        if let status = try? client.call(method: "status", body: []) { places.append(("status", String(decoding: status, as: UTF8.self))) }
        for state in ["scheduled", "unknown", "posted", "failed", "parked"] {
            if let list = try? client.call(method: "posting.list", body: Array("{\"state\":\"\(state)\",\"limit\":5000}".utf8)) {
                places.append(("jobs --state \(state)", String(decoding: list, as: UTF8.self)))
            }
        }
        if let posts = try? store.posts(limit: 10_000_000) {
            var errors = ""
            for p in posts {
                errors += (p.lastError ?? "") + "\n"
                for a in (try? store.attempts(postId: p.id)) ?? [] { errors += (a.detail ?? "") + "\n" }
            }
            places.append(("post errors and attempts", errors))
        }
        var found: [String] = []
        for (place, text) in places {
            for secret in secrets where text.contains(secret) {
                found.append("secret: a credential (\(secret.prefix(4))…) appears in \(place)")
            }
        }
        return found
    }
}

/// The (key, string value) pairs of a JSON object, at any depth (credentials files are flat;
/// token records nest).
enum JSONSerializationLite {
    static func strings(_ text: String) throws -> [(String, String)] {
        let value = try JSONDecoder().decode(AnyJSON.self, from: Data(text.utf8))
        return value.strings
    }

    indirect enum AnyJSON: Decodable {
        case string(String)
        case object([String: AnyJSON])
        case array([AnyJSON])
        case other

        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .string(s) }
            else if let o = try? c.decode([String: AnyJSON].self) { self = .object(o) }
            else if let a = try? c.decode([AnyJSON].self) { self = .array(a) }
            else { self = .other }
        }

        var strings: [(String, String)] { pairs(key: "") }

        func pairs(key: String) -> [(String, String)] {
            switch self {
            case .string(let s): return [(key, s)]
            case .object(let o): return o.flatMap { $0.value.pairs(key: $0.key) }
            case .array(let a): return a.flatMap { $0.pairs(key: key) }
            case .other: return []
            }
        }
    }
}
