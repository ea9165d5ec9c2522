import SteadyCore
import SteadyHTTP

/// The one error taxonomy every adapter maps every outcome onto (DESIGN.md section 3, rule 5).
/// What the posting worker does with each class is fixed by the class alone.
public enum ErrorClass: Sendable, Equatable, CustomStringConvertible {
    /// Provably not published (nothing sent, refused before effect, validation before send):
    /// retry with backoff and jitter.
    case noEffect
    /// Possibly published: never re-send until verification proves the post absent.
    case unknownOutcome
    /// Credentials refused (expired, revoked, invalid, no session): refresh once, then pause
    /// the account and alert. Nothing was published.
    case auth
    /// The platform refused for rate: pause the account until `untilMs` (ms since the epoch).
    /// Not a failure; nothing was published.
    case rateLimited(untilMs: Int64)
    /// Will never succeed as asked: mark failed with the reason. Nothing was published.
    case permanent(reason: String)

    /// A short, stable name for logs, metrics and tests.
    public var name: String {
        switch self {
        case .noEffect: return "noEffect"
        case .unknownOutcome: return "unknownOutcome"
        case .auth: return "auth"
        case .rateLimited: return "rateLimited"
        case .permanent: return "permanent"
        }
    }

    public var description: String {
        switch self {
        case .rateLimited(let until): return "rateLimited(until \(HTTPTime.formatISO8601(millis: until)))"
        case .permanent(let reason): return "permanent(\(reason))"
        default: return name
        }
    }
}

/// What was seen when an operation failed: enough for an operator to tell what happened,
/// nothing secret. Built only through `PlatformError`, which redacts the excerpt.
public struct ErrorEvidence: Sendable, Equatable {
    /// The adapter operation, e.g. `create`, `lookup`, `refresh`.
    public var operation: String
    /// Method and path (no query string).
    public var endpoint: String?
    public var httpStatus: Int?
    /// The platform's own error name: Bluesky's `error`, X's problem `title` or `type`,
    /// Mastodon's `error` text.
    public var platformError: String?
    /// At most 200 characters of the response body, secrets redacted.
    public var bodyExcerpt: String?
    /// The transport failure (libcurl), if there was no complete response.
    public var transport: String?

    public init(operation: String, endpoint: String? = nil, httpStatus: Int? = nil, platformError: String? = nil,
                bodyExcerpt: String? = nil, transport: String? = nil) {
        self.operation = operation
        self.endpoint = endpoint
        self.httpStatus = httpStatus
        self.platformError = platformError
        self.bodyExcerpt = bodyExcerpt
        self.transport = transport
    }
}

/// An adapter's failure: its class (what to do), the evidence (what was seen) and a message
/// for people. `description` never contains a token or password.
public struct PlatformError: Error, Sendable, Equatable, CustomStringConvertible {
    public var platform: Platform
    public var errorClass: ErrorClass
    public var evidence: ErrorEvidence
    public var message: String
    /// A create refused because the platform no longer knows the media it names (an expired
    /// X upload, a collected Bluesky blob): nothing was published (`noEffect`), and the stored
    /// handles must be dropped so the next try uploads again.
    public var mediaRefused = false

    public init(platform: Platform, errorClass: ErrorClass, evidence: ErrorEvidence, message: String) {
        self.platform = platform
        self.errorClass = errorClass
        self.evidence = evidence
        self.message = message
    }

    public var description: String {
        var parts = ["\(platform.rawValue) \(evidence.operation): \(errorClass) — \(message)"]
        if let e = evidence.endpoint { parts.append("endpoint=\(e)") }
        if let s = evidence.httpStatus { parts.append("status=\(s)") }
        if let p = evidence.platformError { parts.append("error=\(p)") }
        if let t = evidence.transport { parts.append("transport=\(t)") }
        if let b = evidence.bodyExcerpt { parts.append("body=\(b)") }
        return parts.joined(separator: " ")
    }
}

/// Removes secrets from text that may be shown: values of secret-named JSON members and form
/// fields, bearer and basic credentials, JWT-shaped strings, and any exact secret the adapter
/// knows (its tokens and password).
public struct Redactor: Sendable {
    public var secrets: [String]

    public init(secrets: [String] = []) {
        // Short strings would blank out innocent text; real tokens are long.
        self.secrets = secrets.filter { $0.count >= 6 }.sorted { $0.count > $1.count }
    }

    static let secretNames = [
        "access_token", "refresh_token", "accessJwt", "refreshJwt", "password", "client_secret", "token",
        "id_token", "code_verifier", "web_password", "appPassword",
    ]

    public func redact(_ text: String) -> String {
        var out = text
        for s in secrets { out = out.replacingAll(s, with: "[redacted]") }
        for name in Self.secretNames {
            out = Self.redactJSONMember(name, in: out)
            out = Self.redactFormField(name, in: out)
        }
        out = Self.redactAfter("Bearer ", in: out)
        out = Self.redactAfter("Basic ", in: out)
        out = Self.redactJWTs(in: out)
        return out
    }

    /// `"name": "value"` → `"name": "[redacted]"`.
    static func redactJSONMember(_ name: String, in text: String) -> String {
        let needle = "\"\(name)\""
        var result = ""
        var rest = Substring(text)
        while let r = rest.firstRange(of: needle) {
            result += rest[..<r.upperBound]
            rest = rest[r.upperBound...]
            // skip spaces and the colon
            var j = rest.startIndex
            while j < rest.endIndex, rest[j] == " " || rest[j] == ":" { j = rest.index(after: j) }
            guard j < rest.endIndex, rest[j] == "\"" else { continue }
            result += rest[..<rest.index(after: j)]
            var k = rest.index(after: j)
            while k < rest.endIndex, rest[k] != "\"" {
                if rest[k] == "\\" { k = rest.index(after: k); if k == rest.endIndex { break } }
                k = rest.index(after: k)
            }
            result += "[redacted]"
            rest = rest[k...]
        }
        return result + rest
    }

    /// `name=value` in a form or query → `name=[redacted]`.
    static func redactFormField(_ name: String, in text: String) -> String {
        let needle = name + "="
        var result = ""
        var rest = Substring(text)
        while let r = rest.firstRange(of: needle) {
            // Only a whole field name: at the start, or after a separator (not "x_token=").
            let atBoundary = r.lowerBound == text.startIndex || ["&", "?", " ", "\n", "\""].contains(text[text.index(before: r.lowerBound)])
            result += rest[..<r.upperBound]
            rest = rest[r.upperBound...]
            guard atBoundary else { continue }
            let end = rest.firstIndex { $0 == "&" || $0 == " " || $0 == "\n" || $0 == "\"" } ?? rest.endIndex
            if end > rest.startIndex { result += "[redacted]" }
            rest = rest[end...]
        }
        return result + rest
    }

    static func redactAfter(_ prefix: String, in text: String) -> String {
        var result = ""
        var rest = Substring(text)
        while let r = rest.firstRange(of: prefix) {
            result += rest[..<r.upperBound]
            rest = rest[r.upperBound...]
            let end = rest.firstIndex { $0 == " " || $0 == "\"" || $0 == "\n" || $0 == "," } ?? rest.endIndex
            if end > rest.startIndex { result += "[redacted]" }
            rest = rest[end...]
        }
        return result + rest
    }

    /// Three base64url segments, the first starting `eyJ`: a JWT.
    static func redactJWTs(in text: String) -> String {
        guard text.contains("eyJ") else { return text }
        var result = ""
        var rest = Substring(text)
        while let r = rest.firstRange(of: "eyJ") {
            result += rest[..<r.lowerBound]
            let tokenChars: (Character) -> Bool = { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") }
            let end = rest[r.lowerBound...].firstIndex { !tokenChars($0) } ?? rest.endIndex
            let candidate = rest[r.lowerBound..<end]
            if candidate.filter({ $0 == "." }).count >= 2 {
                result += "[redacted]"
            } else {
                result += candidate
            }
            rest = rest[end...]
        }
        return result + rest
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty, contains(target) else { return self }
        var result = ""
        var rest = Substring(self)
        while let r = rest.firstRange(of: target) {
            result += rest[..<r.lowerBound]
            result += replacement
            rest = rest[r.upperBound...]
        }
        return result + rest
    }
}

