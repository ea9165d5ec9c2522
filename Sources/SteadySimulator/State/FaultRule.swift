import SteadyCore

/// What a fault rule does to the requests it matches.
enum FaultKind: String, Sendable, CaseIterable {
    case loseResponse = "lose-response"
    case holdResponse = "hold-response"
    case delay
    case errorBefore = "error-before"
    case errorAfter = "error-after"
    case rateLimit = "rate-limit"
    case tokenExpired = "token-expired"
    case tokenRevoked = "token-revoked"
    case duplicateContent = "duplicate-content"
    case slowTimeline = "slow-timeline"
    case rewriteURLs = "rewrite-urls"
    case hangResultPage = "hang-result-page"
    case slowProcessing = "slow-processing"
    case processingFailure = "processing-failure"
    /// Facebook: the answer goes through, its usage header at 96 % (regain after `retry_after_s`).
    case highUsage = "high-usage"

    /// Whether a rule of this kind can apply to a request of `category` on `platform`;
    /// `startsProcessing`: the request ends an upload (X FINALIZE, Mastodon's upload).
    func applies(to category: EndpointCategory, platform: Platform?, method: String, startsProcessing: Bool = false) -> Bool {
        switch self {
        case .loseResponse, .holdResponse, .delay, .errorBefore, .errorAfter, .rateLimit:
            return true
        case .tokenExpired, .tokenRevoked:
            return !category.rawValue.hasPrefix("web-")
        case .duplicateContent:
            return (platform == .x || platform == .facebook) && (category == .create || (category == .webCompose && method == "POST"))
        case .slowTimeline:
            return category == .timeline || category == .mentions
        case .rewriteURLs:
            return category == .create || (category == .webCompose && method == "POST")
        case .hangResultPage:
            return category == .webCompose && method == "POST"
        case .slowProcessing, .processingFailure:
            return category == .upload && startsProcessing
        case .highUsage:
            return platform == .facebook
        }
    }

    /// The delay used when the rule gives none.
    var defaultDelayMs: Int64 {
        switch self {
        case .holdResponse: return 60_000
        case .delay, .slowTimeline: return 1_000
        default: return 0
        }
    }
}

/// A fault rule as added through `POST /_sim/faults`.
struct FaultRule: Sendable {
    let id: Int
    let kind: FaultKind
    /// nil: any endpoint.
    let endpoint: EndpointCategory?
    let platform: Platform?
    let account: String?
    let probability: Double
    /// The number of firings left; nil: unlimited.
    var remaining: Int?
    let count: Int?
    let delayMs: Int64
    let status: Int?
    let retryAfterS: Int64
    /// `slow-processing`: the status polls processing takes.
    var polls = 5
    var fired = 0
    var matched = 0

    var active: Bool { remaining.map { $0 > 0 } ?? true }

    /// Parses a rule; the error text names the offending field.
    static func parse(_ json: JSON, id: Int) -> Result<FaultRule, RuleError> {
        guard json.isObject else { return .failure(RuleError("a fault rule is a JSON object")) }
        guard let kindText = json["kind"]?.stringValue else { return .failure(RuleError("kind is required")) }
        guard let kind = FaultKind(rawValue: kindText) else {
            let kinds = FaultKind.allCases.map(\.rawValue).joined(separator: ", ")
            return .failure(RuleError("kind must be one of: \(kinds)"))
        }
        var endpoint: EndpointCategory?
        if let value = json["endpoint"], value != .null {
            guard let text = value.stringValue else { return .failure(RuleError("endpoint must be a string")) }
            if text != "any" {
                guard let category = EndpointCategory(rawValue: text) else {
                    let names = (EndpointCategory.allCases.map(\.rawValue) + ["any"]).joined(separator: ", ")
                    return .failure(RuleError("endpoint must be one of: \(names)"))
                }
                endpoint = category
            }
        }
        var platform: Platform?
        if let value = json["platform"], value != .null {
            guard let text = value.stringValue, let p = Platform(rawValue: text) else {
                return .failure(RuleError("platform must be x, mastodon, bluesky or facebook"))
            }
            platform = p
        }
        var account: String?
        if let value = json["account"], value != .null {
            guard let text = value.stringValue else { return .failure(RuleError("account must be a string")) }
            account = text
        }
        var probability = 1.0
        if let value = json["probability"], value != .null {
            guard let p = value.doubleValue, p >= 0, p <= 1 else {
                return .failure(RuleError("probability must be a number from 0 to 1"))
            }
            probability = p
        }
        var count: Int?
        if let value = json["count"], value != .null {
            guard let c = value.intValue, c >= 1, c <= 1_000_000_000 else {
                return .failure(RuleError("count must be a positive integer"))
            }
            count = Int(c)
        }
        var delayMs = kind.defaultDelayMs
        if let value = json["delay_ms"], value != .null {
            guard let d = value.intValue, d >= 0, d <= 86_400_000 else {
                return .failure(RuleError("delay_ms must be an integer from 0 to 86400000"))
            }
            delayMs = d
        }
        var status: Int?
        if let value = json["status"], value != .null {
            guard let s = value.intValue, (400...599).contains(s) else {
                return .failure(RuleError("status must be an HTTP error status (400-599)"))
            }
            status = Int(s)
        }
        var retryAfter: Int64 = 60
        if let value = json["retry_after_s"], value != .null {
            guard let r = value.intValue, r >= 0 else {
                return .failure(RuleError("retry_after_s must be a non-negative integer"))
            }
            retryAfter = r
        }
        var rule = FaultRule(
            id: id, kind: kind, endpoint: endpoint, platform: platform, account: account,
            probability: probability, remaining: count, count: count, delayMs: delayMs,
            status: status, retryAfterS: retryAfter)
        if let value = json["polls"], value != .null {
            guard let p = value.intValue, p >= 1, p <= 1_000_000 else {
                return .failure(RuleError("polls must be a positive integer"))
            }
            rule.polls = Int(p)
        }
        return .success(rule)
    }

    var json: JSON {
        [
            "id": .int(id),
            "kind": .string(kind.rawValue),
            "endpoint": .string(endpoint?.rawValue ?? "any"),
            "platform": .optional(platform?.rawValue),
            "account": .optional(account),
            "probability": .double(probability),
            "count": count.map { .int($0) } ?? .null,
            "remaining": remaining.map { .int($0) } ?? .null,
            "delay_ms": .int(delayMs),
            "status": status.map { .int($0) } ?? .null,
            "retry_after_s": .int(retryAfterS),
            "polls": .int(Int64(polls)),
            "matched": .int(matched),
            "fired": .int(fired),
            "active": .bool(active),
        ]
    }
}

struct RuleError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// A fault chosen for one request.
struct FiredFault: Sendable {
    let ruleID: Int
    let kind: FaultKind
    let delayMs: Int64
    let status: Int?
    let retryAfterS: Int64
    var polls = 5
}
