import SteadyPlatforms

/// Every route the api worker serves: the server registers exactly these, and the OpenAPI
/// document (openapi/steadypost.json) must list exactly these (`APIRoutesTests`).
public struct APIRoute: Sendable, Hashable, CustomStringConvertible {
    /// Who may call it.
    public enum Access: Sendable, Hashable {
        /// A bearer token made by `steadypost token create`.
        case token
        /// Loopback peers only, unless `api.health_public`.
        case local
        /// Anyone holding a link the daemon signed (`MediaLinks`): the platforms that fetch
        /// media by URL, through the operator's reverse proxy.
        case signed
    }

    public enum Name: String, Sendable, Hashable, CaseIterable {
        case createPost, createBatch, createThread, uploadMedia, listPosts, getPost, cancelPost, getThread, cancelThread, quotas, workers, health, metrics, dashboard, mediaLink
    }

    public var name: Name
    public var method: String
    /// OpenAPI style: `/api/posts/{id}`.
    public var path: String
    public var access: Access

    public var description: String { "\(method) \(path)" }

    /// The path as Hummingbird's router writes captures (`:id`).
    var routerPath: String {
        path.split(separator: "/", omittingEmptySubsequences: false).map { part in
            part.hasPrefix("{") && part.hasSuffix("}") ? ":" + part.dropFirst().dropLast() : String(part)
        }.joined(separator: "/")
    }

    public static let all: [APIRoute] = [
        APIRoute(name: .createPost, method: "POST", path: "/api/posts", access: .token),
        APIRoute(name: .createBatch, method: "POST", path: "/api/posts/batch", access: .token),
        APIRoute(name: .createThread, method: "POST", path: "/api/threads", access: .token),
        APIRoute(name: .uploadMedia, method: "POST", path: "/api/media", access: .token),
        APIRoute(name: .listPosts, method: "GET", path: "/api/posts", access: .token),
        APIRoute(name: .getPost, method: "GET", path: "/api/posts/{id}", access: .token),
        APIRoute(name: .cancelPost, method: "DELETE", path: "/api/posts/{id}", access: .token),
        APIRoute(name: .getThread, method: "GET", path: "/api/threads/{id}", access: .token),
        APIRoute(name: .cancelThread, method: "DELETE", path: "/api/threads/{id}", access: .token),
        APIRoute(name: .quotas, method: "GET", path: "/api/quotas", access: .token),
        APIRoute(name: .workers, method: "GET", path: "/api/workers", access: .token),
        APIRoute(name: .health, method: "GET", path: "/health", access: .local),
        APIRoute(name: .metrics, method: "GET", path: "/metrics", access: .local),
        APIRoute(name: .dashboard, method: "GET", path: "/", access: .local),
        APIRoute(name: .mediaLink, method: "GET", path: "/media/{expires}/{tag}/{mac}/{file}", access: .signed),
    ]
}

/// What a handler answers, before it becomes an HTTP response.
struct APIAnswer: Sendable {
    var status: Int
    var contentType: String
    var body: [UInt8]
    var headers: [(String, String)] = []
    /// A stored media item streamed as the body (in place of `body`).
    var media: MediaBody? = nil

    static func json(_ status: Int, _ bytes: [UInt8]) -> APIAnswer {
        APIAnswer(status: status, contentType: "application/json", body: bytes)
    }

    /// `{"error": {"code", "field"?, "message"}}`: every 4xx and 5xx names what is wrong.
    static func error(_ status: Int, _ code: String, field: String?, _ message: String) -> APIAnswer {
        .json(status, JSON.obj([("error", .obj([("code", JSON(code)), ("field", field.map(JSON.init)), ("message", JSON(message))]))]).bytes)
    }
}
