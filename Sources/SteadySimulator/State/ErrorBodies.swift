import SteadyCore

/// Each platform's error bodies.
enum ErrorBodies {
    static func reason(_ status: Int) -> String {
        switch status {
        case 400: return "Bad Request"
        case 401: return "Unauthorized"
        case 403: return "Forbidden"
        case 404: return "Not Found"
        case 408: return "Request Timeout"
        case 409: return "Conflict"
        case 413: return "Payload Too Large"
        case 422: return "Unprocessable Entity"
        case 429: return "Too Many Requests"
        case 500: return "Internal Server Error"
        case 502: return "Bad Gateway"
        case 503: return "Service Unavailable"
        case 504: return "Gateway Timeout"
        default: return status >= 500 ? "Server Error" : "Client Error"
        }
    }

    /// The XRPC error name of a status.
    static func blueskyName(_ status: Int) -> String {
        switch status {
        case 400: return "InvalidRequest"
        case 401: return "AuthenticationRequired"
        case 403: return "Forbidden"
        case 404: return "NotFound"
        case 413: return "PayloadTooLarge"
        case 429: return "RateLimitExceeded"
        case 501: return "MethodNotImplemented"
        case 502: return "UpstreamFailure"
        case 503: return "NotEnoughResources"
        case 504: return "UpstreamTimeout"
        default: return "InternalServerError"
        }
    }

    /// A generic error of `status` the way `platform` (nil: the web pages) sends it.
    static func generic(status: Int, platform: Platform?, headers: [(String, String)]) -> SimResponse {
        let reason = reason(status)
        switch platform {
        case .x?:
            return .json(
                status,
                ["title": .string(reason), "detail": .string(reason), "type": "about:blank", "status": .int(status)],
                headers: headers)
        case .mastodon?:
            return .json(status, ["error": .string(reason)], headers: headers)
        case .bluesky?:
            return .json(
                status, ["error": .string(blueskyName(status)), "message": .string(reason)], headers: headers)
        case .facebook?:
            // 5xx: code 2, "temporarily unavailable", which Meta has sent with the post live.
            return status >= 500
                ? facebook(status, code: 2, "An unexpected error has occurred. Please retry your request later.", headers: headers, transient: true)
                : facebook(status, code: 100, "(#100) \(reason)", headers: headers)
        case nil:
            return .html(status, WebPages.errorPage(status: status, message: reason))
        }
    }

    // MARK: X

    static func xProblem(_ status: Int, title: String, detail: String, headers: [(String, String)]) -> SimResponse {
        .json(
            status,
            ["detail": .string(detail), "type": "about:blank", "title": .string(title), "status": .int(status)],
            headers: headers)
    }

    static func xUnauthorized(_ headers: [(String, String)]) -> SimResponse {
        xProblem(401, title: "Unauthorized", detail: "Unauthorized", headers: headers)
    }

    static func xDuplicate(_ headers: [(String, String)]) -> SimResponse {
        xProblem(
            403, title: "Forbidden", detail: "You are not allowed to create a Tweet with duplicate content.",
            headers: headers)
    }

    static func xInvalidRequest(_ message: String, parameter: String? = nil, value: String? = nil, headers: [(String, String)])
        -> SimResponse
    {
        var error: JSON = ["message": .string(message)]
        if let parameter {
            error = error.setting("parameters", .object([JSON.Member(parameter, [.string(value ?? "")])]))
        }
        return .json(
            400,
            [
                "errors": [error],
                "title": "Invalid Request",
                "detail": "One or more parameters to your request was invalid.",
                "type": "https://api.twitter.com/2/problems/invalid-request",
            ], headers: headers)
    }

    static func xNotFoundError(id: String, resource: String, parameter: String) -> JSON {
        let noun = resource == "user" ? "user" : "tweet"
        return [
            "value": .string(id),
            "detail": .string("Could not find \(noun) with \(parameter): [\(id)]."),
            "title": "Not Found Error",
            "resource_type": .string(resource),
            "parameter": .string(parameter),
            "resource_id": .string(id),
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        ]
    }

    static func xOAuthInvalid(_ description: String, headers: [(String, String)]) -> SimResponse {
        .json(400, ["error": "invalid_request", "error_description": .string(description)], headers: headers)
    }

    // MARK: Mastodon

    static func mastodon(_ status: Int, _ message: String, headers: [(String, String)]) -> SimResponse {
        .json(status, ["error": .string(message)], headers: headers)
    }

    static func mastodonUnauthorized(_ headers: [(String, String)]) -> SimResponse {
        mastodon(401, "The access token is invalid", headers: headers)
    }

    // MARK: Facebook

    /// `{"error": {"message", "type": "OAuthException", "code", "error_subcode"?, "fbtrace_id"}}`.
    static func facebook(
        _ status: Int, code: Int, subcode: Int? = nil, type: String = "OAuthException", _ message: String,
        headers: [(String, String)], transient: Bool = false
    ) -> SimResponse {
        var error: JSON = [
            "message": .string(message), "type": .string(type), "code": .int(Int64(code)),
            // Opaque like Meta's, and the same for the same error (runs stay repeatable).
            "fbtrace_id": .string("A" + String(SHA256.hex(Array("\(code) \(message)".utf8)).prefix(10))),
        ]
        if let subcode { error = error.setting("error_subcode", .int(Int64(subcode))) }
        if transient { error = error.setting("is_transient", true) }
        return .json(status, ["error": error], headers: headers)
    }

    static func facebookDuplicate(_ headers: [(String, String)]) -> SimResponse {
        facebook(400, code: 506, "Duplicate status message", headers: headers)
    }

    // MARK: Bluesky

    static func bluesky(_ status: Int, _ name: String, _ message: String?, headers: [(String, String)]) -> SimResponse {
        var body: JSON = ["error": .string(name)]
        if let message { body = body.setting("message", .string(message)) }
        return .json(status, body, headers: headers)
    }

    static func blueskyInvalid(_ message: String, headers: [(String, String)]) -> SimResponse {
        bluesky(400, "InvalidRequest", message, headers: headers)
    }
}
