import SteadyCore
import SteadyHTTP

/// What kind of request failed: the same status means different things for a create (which
/// may have published) and for a read (which cannot have).
public enum OperationKind: String, Sendable, Equatable {
    /// A request that can publish: create.
    case create
    /// A request without effect: lookups, listings, metrics, identity.
    case read
    /// A token refresh whose success consumes the old token (X: single-use refresh tokens).
    case consumingRefresh = "consuming-refresh"
    /// A session request with no effect worth verifying (Bluesky refreshSession:
    /// the old refresh token keeps working for 2 hours; createSession).
    case session
    /// A media upload: it publishes nothing until a create names it, so a lost answer is
    /// repeated, never verified.
    case upload
}

/// The platform-independent decision table from a response or a transport failure to an
/// `ErrorClass` (PLATFORMS.md, DESIGN.md section 3). Pure: tests drive it through tables.
public enum Classifier {
    public struct Outcome: Sendable, Equatable {
        public var errorClass: ErrorClass
        public var platformError: String?
        public var message: String
    }

    /// How long to pause when a 429 carries no usable reset: the platform's window.
    public static func defaultRateLimitPauseMs(_ platform: Platform) -> Int64 {
        PlatformRegistry.rules(for: platform).defaultRateLimitPauseMs
    }

    /// A transfer without a complete response.
    public static func classify(transport error: HTTPError, platform: Platform, operation: OperationKind) -> Outcome {
        switch error.delivery {
        case .notSent:
            return Outcome(errorClass: .noEffect, platformError: nil,
                           message: "the request never reached \(platform.rawValue) (\(error.kind.rawValue)): nothing was published")
        case .maybeSent:
            switch operation {
            case .create:
                return Outcome(errorClass: .unknownOutcome, platformError: nil,
                               message: "the request was sent but no complete answer came back (\(error.kind.rawValue)): the post may be live; verify before any retry")
            case .consumingRefresh:
                return Outcome(errorClass: .unknownOutcome, platformError: nil,
                               message: "the refresh was sent but no answer came back (\(error.kind.rawValue)): no new tokens; try again with the same refresh token (only a refusal then says it was consumed)")
            case .read, .session:
                return Outcome(errorClass: .noEffect, platformError: nil,
                               message: "no complete answer (\(error.kind.rawValue)); the request had no effect")
            case .upload:
                return Outcome(errorClass: .noEffect, platformError: nil,
                               message: "no complete answer to an upload (\(error.kind.rawValue)); an upload publishes nothing: it is repeated")
            }
        }
    }

    /// A complete response whose status is not the success the operation expects.
    public static func classify(status: Int, headers: HTTPHeaders, body: [UInt8], platform: Platform, operation: OperationKind,
                                nowMs: Int64) -> Outcome {
        let json = try? JSON.parse(body)
        let rules = PlatformRegistry.rules(for: platform)
        let name = rules.errorName(json)
        let detail = errorDetail(json)
        let said = [name, detail].compactMap { $0 }.joined(separator: ": ")
        let saidSuffix = said.isEmpty ? "" : " (\(said))"

        // Rate limits and usage caps, whatever the body.
        let usageCapped = rules.isUsageCapped(json)
        let refusal = rules.refusalKind(status: status, json: json)
        if status == 429 || usageCapped || refusal == .rateLimited {
            var info = RateLimitInfo.parse(headers, nowMs: nowMs) ?? RateLimitInfo()
            var fallback = rules.defaultRateLimitPauseMs
            if usageCapped {
                // A 24-hour (or monthly) cap: the 15-minute window's reset means nothing.
                info.resetAtMs = nil
                info.dailyRemaining = 0
                fallback = 24 * 3_600_000
            }
            let until = info.resumeAtMs(nowMs: nowMs, fallbackMs: fallback)
            return Outcome(errorClass: .rateLimited(untilMs: until), platformError: name ?? "RateLimited",
                           message: "rate limited by \(platform.rawValue)\(saidSuffix); resume at \(HTTPTime.formatISO8601(millis: until))")
        }

        if status == 401 || rules.isAuthFailure(status: status, name: name, json: json, operation: operation) {
            return Outcome(errorClass: .auth, platformError: name,
                           message: "\(platform.rawValue) refused the credentials (HTTP \(status))\(saidSuffix)")
        }

        // A duplicate-content refusal (X's 403): the same text may already be live (perhaps ours).
        if operation == .create, rules.isDuplicateContentRefusal(status: status, detail: detail, json: json) {
            return Outcome(errorClass: .unknownOutcome, platformError: "DuplicateContent",
                           message: "\(rules.displayName) refused the text as a duplicate: the post may already be live; verify, don't fail")
        }

        switch refusal {
        case .transient?: return serverTrouble(status: status, name: name, saidSuffix: saidSuffix, operation: operation)
        case .permanent?:
            let reason = "HTTP \(status)" + saidSuffix
            return Outcome(errorClass: .permanent(reason: reason), platformError: name, message: "\(platform.rawValue) refused the request: \(reason)")
        case .rateLimited?, nil: break
        }

        switch status {
        case 500...599:
            return serverTrouble(status: status, name: name, saidSuffix: saidSuffix, operation: operation)
        case 408:
            return operation == .create
                ? Outcome(errorClass: .unknownOutcome, platformError: name, message: "HTTP 408 on create: verify before any retry")
                : Outcome(errorClass: .noEffect, platformError: name, message: "HTTP 408: retry later")
        case 409 where operation == .create:
            // Bluesky's proposed RecordAlreadyExists: the record key is taken, perhaps by our
            // own earlier send.
            return Outcome(errorClass: .unknownOutcome, platformError: name,
                           message: "HTTP 409 on create\(saidSuffix): the record may already exist; verify")
        case 100...399:
            return operation == .create
                ? Outcome(errorClass: .unknownOutcome, platformError: name, message: "unexpected HTTP \(status) on create: verify before any retry")
                : Outcome(errorClass: .permanent(reason: "unexpected HTTP \(status)"), platformError: name, message: "unexpected HTTP \(status)")
        default:
            let reason = "HTTP \(status)" + saidSuffix
            return Outcome(errorClass: .permanent(reason: reason), platformError: name, message: "\(platform.rawValue) refused the request: \(reason)")
        }
    }

    /// A 5xx (or an error code that means passing trouble): a create's outcome is unknown,
    /// a read had no effect.
    static func serverTrouble(status: Int, name: String?, saidSuffix: String, operation: OperationKind) -> Outcome {
        switch operation {
        case .create:
            return Outcome(errorClass: .unknownOutcome, platformError: name,
                           message: "HTTP \(status) on create\(saidSuffix): the post may or may not be live; verify before any retry")
        case .consumingRefresh:
            return Outcome(errorClass: .unknownOutcome, platformError: name,
                           message: "HTTP \(status) on token refresh\(saidSuffix): no new tokens; try again with the same refresh token (only a refusal then says it was consumed)")
        case .read, .session, .upload:
            return Outcome(errorClass: .noEffect, platformError: name, message: "HTTP \(status)\(saidSuffix): retry later")
        }
    }

    /// The error's text: top-level (`detail`, `message`, …) or Graph's `error.message`.
    static func errorDetail(_ json: JSON?) -> String? {
        guard let json else { return nil }
        return json["detail"]?.string ?? json["message"]?.string ?? json["error_description"]?.string
            ?? json["errors"]?[0]?["detail"]?.string ?? json["error"]?["message"]?.string
    }
}
