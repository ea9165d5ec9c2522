import SteadyCore
import SteadyHTTP
import Testing

@testable import SteadyPlatforms

/// Every status/body pair of PLATFORMS.md, and every kind of transport failure, to its class.
@Suite(.timeLimit(.minutes(1)))
struct ClassificationTests {
    static let now: Int64 = 1_767_225_600_000  // 2026-01-01T00:00:00Z
    static let reset = "1767225900"  // now + 300 s, epoch seconds
    static let resetMs: Int64 = 1_767_225_900_000

    struct Case: Sendable, CustomTestStringConvertible {
        var platform: Platform
        var operation: OperationKind
        var status: Int
        var body: String
        var headers: [(String, String)] = []
        /// The expected class name, and for rateLimited the expected time.
        var expected: String
        var until: Int64? = nil
        var platformError: String? = nil

        var testDescription: String { "\(platform.rawValue) \(operation.rawValue) \(status) \(body.prefix(40)) → \(expected)" }
    }

    static let xDuplicate = #"{"detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank", "title": "Forbidden", "status": 403}"#
    static let xUnauthorized = #"{"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}"#
    static let xTooMany = #"{"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}"#

    static let cases: [Case] = [
        // X
        Case(platform: .x, operation: .create, status: 403, body: xDuplicate, expected: "unknownOutcome", platformError: "DuplicateContent"),
        Case(platform: .x, operation: .create, status: 401, body: xUnauthorized, expected: "auth", platformError: "Unauthorized"),
        Case(platform: .x, operation: .read, status: 401, body: xUnauthorized, expected: "auth"),
        Case(platform: .x, operation: .create, status: 429, body: xTooMany,
             headers: [("x-rate-limit-limit", "100"), ("x-rate-limit-remaining", "0"), ("x-rate-limit-reset", reset)],
             expected: "rateLimited", until: resetMs, platformError: "Too Many Requests"),
        Case(platform: .x, operation: .create, status: 429, body: xTooMany, expected: "rateLimited", until: now + 15 * 60_000),
        Case(platform: .x, operation: .create, status: 429,
             body: #"{"title": "UsageCapExceeded", "type": "https://api.twitter.com/2/problems/usage-capped", "detail": "Usage cap exceeded: Monthly product cap"}"#,
             headers: [("x-rate-limit-reset", reset)], expected: "rateLimited", until: now + 24 * 3_600_000),
        Case(platform: .x, operation: .create, status: 429, body: xTooMany,
             headers: [("x-rate-limit-reset", reset), ("x-user-limit-24hour-limit", "17"), ("x-user-limit-24hour-remaining", "0"),
                       ("x-user-limit-24hour-reset", "1767300000")],
             expected: "rateLimited", until: 1_767_300_000_000),
        Case(platform: .x, operation: .create, status: 400,
             body: #"{"errors": [{"message": "Invalid reply"}], "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.", "type": "https://api.twitter.com/2/problems/invalid-request"}"#,
             expected: "permanent"),
        Case(platform: .x, operation: .create, status: 403,
             body: #"{"title": "Forbidden", "type": "about:blank", "status": 403, "detail": "You are not permitted to perform this action."}"#,
             expected: "permanent"),
        Case(platform: .x, operation: .create, status: 403,
             body: #"{"title": "Unsupported Authentication", "type": "https://api.twitter.com/2/problems/unsupported-authentication", "status": 403}"#,
             expected: "auth"),
        Case(platform: .x, operation: .read, status: 403, body: xDuplicate, expected: "permanent"),
        Case(platform: .x, operation: .create, status: 500, body: #"{"title": "Internal Server Error"}"#, expected: "unknownOutcome"),
        Case(platform: .x, operation: .create, status: 503, body: #"{"title": "Service Unavailable"}"#, expected: "unknownOutcome"),
        Case(platform: .x, operation: .create, status: 502, body: "<html>bad gateway</html>", expected: "unknownOutcome"),
        Case(platform: .x, operation: .create, status: 504, body: "", expected: "unknownOutcome"),
        Case(platform: .x, operation: .read, status: 503, body: #"{"title": "Service Unavailable"}"#, expected: "noEffect"),
        Case(platform: .x, operation: .read, status: 500, body: "not json", expected: "noEffect"),
        Case(platform: .x, operation: .consumingRefresh, status: 400,
             body: #"{"error":"invalid_request","error_description":"Value passed for the token was invalid."}"#, expected: "auth",
             platformError: "invalid_request"),
        Case(platform: .x, operation: .consumingRefresh, status: 401, body: #"{"error":"invalid_client"}"#, expected: "auth"),
        Case(platform: .x, operation: .consumingRefresh, status: 500, body: "", expected: "unknownOutcome"),
        Case(platform: .x, operation: .create, status: 408, body: "", expected: "unknownOutcome"),
        Case(platform: .x, operation: .read, status: 408, body: "", expected: "noEffect"),
        Case(platform: .x, operation: .create, status: 303, body: "", expected: "unknownOutcome"),
        // Mastodon
        Case(platform: .mastodon, operation: .create, status: 401, body: #"{"error": "The access token is invalid"}"#, expected: "auth",
             platformError: "The access token is invalid"),
        Case(platform: .mastodon, operation: .read, status: 401, body: #"{"error": "The access token is invalid"}"#, expected: "auth"),
        Case(platform: .mastodon, operation: .create, status: 403, body: #"{"error": "This action is outside the authorized scopes"}"#, expected: "auth"),
        Case(platform: .mastodon, operation: .create, status: 403, body: #"{"error": "This action is not allowed"}"#, expected: "permanent"),
        Case(platform: .mastodon, operation: .create, status: 404, body: #"{"error": "Record not found"}"#, expected: "permanent"),
        Case(platform: .mastodon, operation: .create, status: 422,
             body: #"{"error": "Validation failed: Text character limit of 500 exceeded"}"#, expected: "permanent",
             platformError: "Validation failed: Text character limit of 500 exceeded"),
        Case(platform: .mastodon, operation: .create, status: 429, body: #"{"error": "Too many requests"}"#,
             headers: [("X-RateLimit-Limit", "300"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "2026-01-01T00:05:00.123456Z")],
             expected: "rateLimited", until: resetMs + 123),
        Case(platform: .mastodon, operation: .create, status: 429, body: #"{"error": "Too many requests"}"#, expected: "rateLimited",
             until: now + 5 * 60_000),
        Case(platform: .mastodon, operation: .create, status: 503, body: #"{"error": "Service Unavailable"}"#, expected: "unknownOutcome"),
        Case(platform: .mastodon, operation: .create, status: 500, body: #"{"error": "We're sorry, but something went wrong"}"#, expected: "unknownOutcome"),
        Case(platform: .mastodon, operation: .read, status: 503, body: #"{"error": "Service Unavailable"}"#, expected: "noEffect"),
        Case(platform: .mastodon, operation: .read, status: 422, body: #"{"error": "Validation failed"}"#, expected: "permanent"),
        // Bluesky
        Case(platform: .bluesky, operation: .create, status: 400, body: #"{"error": "ExpiredToken", "message": "Token has expired"}"#,
             expected: "auth", platformError: "ExpiredToken"),
        Case(platform: .bluesky, operation: .read, status: 400, body: #"{"error": "ExpiredToken", "message": "Token has been revoked"}"#, expected: "auth"),
        Case(platform: .bluesky, operation: .session, status: 400, body: #"{"error": "ExpiredToken", "message": "Token has been revoked"}"#, expected: "auth"),
        Case(platform: .bluesky, operation: .read, status: 400, body: #"{"error": "InvalidToken", "message": "Token could not be verified"}"#, expected: "auth"),
        Case(platform: .bluesky, operation: .create, status: 401, body: #"{"error": "AuthenticationRequired", "message": "Invalid identifier or password"}"#, expected: "auth"),
        Case(platform: .bluesky, operation: .session, status: 401, body: #"{"error": "AuthenticationRequired", "message": "Invalid identifier or password"}"#, expected: "auth"),
        Case(platform: .bluesky, operation: .create, status: 400, body: #"{"error": "InvalidRequest", "message": "Invalid record key"}"#,
             expected: "permanent", platformError: "InvalidRequest"),
        Case(platform: .bluesky, operation: .create, status: 403, body: #"{"error": "Forbidden"}"#, expected: "permanent"),
        Case(platform: .bluesky, operation: .create, status: 429, body: #"{"error": "RateLimitExceeded", "message": "Rate Limit Exceeded"}"#,
             headers: [("RateLimit-Limit", "5000"), ("RateLimit-Remaining", "0"), ("RateLimit-Reset", "1767225700"),
                       ("RateLimit-Policy", "5000;w=3600"), ("Retry-After", "300")],
             expected: "rateLimited", until: resetMs, platformError: "RateLimitExceeded"),
        Case(platform: .bluesky, operation: .create, status: 429, body: #"{"error": "RateLimitExceeded"}"#,
             headers: [("RateLimit-Reset", reset)], expected: "rateLimited", until: resetMs),
        Case(platform: .bluesky, operation: .session, status: 429, body: #"{"error": "RateLimitExceeded"}"#, expected: "rateLimited",
             until: now + 5 * 60_000),
        Case(platform: .bluesky, operation: .create, status: 500, body: #"{"error": "InternalServerError", "message": "Internal Server Error"}"#,
             expected: "unknownOutcome", platformError: "InternalServerError"),
        Case(platform: .bluesky, operation: .create, status: 409, body: #"{"error": "RecordAlreadyExists"}"#, expected: "unknownOutcome"),
        Case(platform: .bluesky, operation: .create, status: 502, body: #"{"error": "UpstreamFailure"}"#, expected: "unknownOutcome"),
        Case(platform: .bluesky, operation: .create, status: 503, body: #"{"error": "NotEnoughResources"}"#, expected: "unknownOutcome"),
        Case(platform: .bluesky, operation: .create, status: 504, body: #"{"error": "UpstreamTimeout"}"#, expected: "unknownOutcome"),
        Case(platform: .bluesky, operation: .read, status: 500, body: #"{"error": "InternalServerError"}"#, expected: "noEffect"),
        Case(platform: .bluesky, operation: .read, status: 502, body: #"{"error": "UpstreamFailure"}"#, expected: "noEffect"),
        Case(platform: .bluesky, operation: .session, status: 500, body: #"{"error": "InternalServerError"}"#, expected: "noEffect"),
        Case(platform: .bluesky, operation: .read, status: 400, body: #"{"error": "InvalidRequest"}"#, expected: "permanent"),
    ] + facebookCases

    /// A Graph error body with `code` (and `subcode`).
    static func graph(_ code: Int, _ subcode: Int? = nil, _ message: String = "m") -> String {
        #"{"error": {"message": "\#(message)", "type": "OAuthException", "code": \#(code),"#
            + (subcode.map { #" "error_subcode": \#($0),"# } ?? "") + #" "fbtrace_id": "AbC"}}"#
    }

    /// Facebook: the code decides, whatever the status (Graph sends most refusals as 400).
    static let facebookCases: [Case] = [
        Case(platform: .facebook, operation: .create, status: 400, body: graph(190, 463), expected: "auth", platformError: "OAuthException #190/463"),
        Case(platform: .facebook, operation: .read, status: 400, body: graph(190, 460), expected: "auth"),
        Case(platform: .facebook, operation: .create, status: 401, body: graph(190), expected: "auth"),
        Case(platform: .facebook, operation: .create, status: 400, body: graph(506, nil, "Duplicate status message"), expected: "unknownOutcome",
             platformError: "DuplicateContent"),
        Case(platform: .facebook, operation: .read, status: 400, body: graph(506), expected: "permanent"),
        Case(platform: .facebook, operation: .create, status: 500, body: graph(2), expected: "unknownOutcome"),
        Case(platform: .facebook, operation: .create, status: 400, body: graph(1), expected: "unknownOutcome"),
        Case(platform: .facebook, operation: .read, status: 500, body: graph(2), expected: "noEffect"),
        Case(platform: .facebook, operation: .read, status: 400, body: graph(1), expected: "noEffect"),
        Case(platform: .facebook, operation: .create, status: 400, body: graph(100), expected: "permanent"),
        Case(platform: .facebook, operation: .create, status: 400, body: graph(368), expected: "permanent"),
        Case(platform: .facebook, operation: .create, status: 500, body: graph(368), expected: "permanent"),
        Case(platform: .facebook, operation: .create, status: 400, body: graph(200), expected: "permanent"),
    ] + [4, 17, 32, 613, 80_001].map { code in
        Case(platform: .facebook, operation: .create, status: 400, body: graph(code),
             headers: [("X-Business-Use-Case-Usage", #"{"123": [{"type": "pages", "call_count": 100, "total_cputime": 20, "total_time": 30, "estimated_time_to_regain_access": 7}]}"#)],
             expected: "rateLimited", until: now + 7 * 60_000)
    } + [Case(platform: .facebook, operation: .create, status: 400, body: graph(4), expected: "rateLimited", until: now + 30 * 60_000)]

    @Test("responses map onto the taxonomy", arguments: cases)
    func response(_ c: Case) {
        let outcome = Classifier.classify(status: c.status, headers: HTTPHeaders(c.headers), body: Array(c.body.utf8),
                                          platform: c.platform, operation: c.operation, nowMs: Self.now)
        #expect(outcome.errorClass.name == c.expected, "\(outcome.message)")
        if let until = c.until {
            #expect(outcome.errorClass == .rateLimited(untilMs: until))
        }
        if let name = c.platformError {
            #expect(outcome.platformError == name)
        }
    }

    struct TransportCase: Sendable, CustomTestStringConvertible {
        var kind: HTTPError.Kind
        var delivery: HTTPError.Delivery
        var operation: OperationKind
        var expected: String
        var testDescription: String { "\(kind.rawValue) \(delivery.rawValue) on \(operation.rawValue) → \(expected)" }
    }

    static let transportCases: [TransportCase] = [
        TransportCase(kind: .connectionRefused, delivery: .notSent, operation: .create, expected: "noEffect"),
        TransportCase(kind: .nameResolution, delivery: .notSent, operation: .create, expected: "noEffect"),
        TransportCase(kind: .connectTimeout, delivery: .notSent, operation: .create, expected: "noEffect"),
        TransportCase(kind: .tlsHandshake, delivery: .notSent, operation: .create, expected: "noEffect"),
        TransportCase(kind: .timeout, delivery: .maybeSent, operation: .create, expected: "unknownOutcome"),
        TransportCase(kind: .connectionLost, delivery: .maybeSent, operation: .create, expected: "unknownOutcome"),
        TransportCase(kind: .emptyReply, delivery: .maybeSent, operation: .create, expected: "unknownOutcome"),
        TransportCase(kind: .responseTooLarge, delivery: .maybeSent, operation: .create, expected: "unknownOutcome"),
        TransportCase(kind: .resendRefused, delivery: .maybeSent, operation: .create, expected: "unknownOutcome"),
        TransportCase(kind: .timeout, delivery: .maybeSent, operation: .read, expected: "noEffect"),
        TransportCase(kind: .emptyReply, delivery: .maybeSent, operation: .read, expected: "noEffect"),
        TransportCase(kind: .connectionRefused, delivery: .notSent, operation: .read, expected: "noEffect"),
        TransportCase(kind: .timeout, delivery: .maybeSent, operation: .consumingRefresh, expected: "unknownOutcome"),
        TransportCase(kind: .connectionRefused, delivery: .notSent, operation: .consumingRefresh, expected: "noEffect"),
        TransportCase(kind: .timeout, delivery: .maybeSent, operation: .session, expected: "noEffect"),
    ]

    @Test("transport failures map onto the taxonomy", arguments: transportCases)
    func transport(_ c: TransportCase) {
        for platform in Platform.allCases {
            let error = HTTPError(kind: c.kind, delivery: c.delivery, curlCode: 0, detail: "test", target: "POST /x")
            #expect(Classifier.classify(transport: error, platform: platform, operation: c.operation).errorClass.name == c.expected)
        }
    }

    @Test("rate-limit pauses are bounded: a reset in the past or a year away is clamped")
    func clamped() {
        let past = Classifier.classify(status: 429, headers: ["x-rate-limit-reset": "1000000000"], body: [], platform: .x,
                                       operation: .create, nowMs: Self.now)
        #expect(past.errorClass == .rateLimited(untilMs: Self.now + 15 * 60_000))
        let far = Classifier.classify(status: 429, headers: ["x-rate-limit-reset": "1800000000"], body: [], platform: .x,
                                      operation: .create, nowMs: Self.now)
        #expect(far.errorClass == .rateLimited(untilMs: Self.now + 25 * 3_600_000))
    }
}
