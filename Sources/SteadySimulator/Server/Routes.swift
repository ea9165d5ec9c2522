import Hummingbird

extension Simulator {
    /// The XRPC methods served, by NSID: (route, HTTP method).
    static let xrpcMethods: [String: (Route, String)] = [
        "com.atproto.server.createSession": (.blueskyCreateSession, "POST"),
        "com.atproto.server.refreshSession": (.blueskyRefreshSession, "POST"),
        "com.atproto.server.getSession": (.blueskyGetSession, "GET"),
        "com.atproto.repo.createRecord": (.blueskyCreateRecord, "POST"),
        "com.atproto.repo.getRecord": (.blueskyGetRecord, "GET"),
        "com.atproto.repo.listRecords": (.blueskyListRecords, "GET"),
        "app.bsky.feed.getPosts": (.blueskyGetPosts, "GET"),
        "app.bsky.notification.listNotifications": (.blueskyNotifications, "GET"),
        "com.atproto.repo.uploadBlob": (.blueskyUploadBlob, "POST"),
    ]

    /// The router of the platforms, the web pages and the admin API.
    func makeRouter() -> Router<SimRequestContext> {
        let router = Router(context: SimRequestContext.self)

        func route(_ method: HTTPRequest.Method, _ path: RouterPath, _ route: Route) {
            router.on(path, method: method) { request, context in
                try await self.serve(route, request, context)
            }
        }

        // X API v2
        route(.post, "/2/tweets", .xCreate)
        route(.get, "/2/tweets", .xLookup)
        route(.get, "/2/tweets/:id", .xRead)
        route(.get, "/2/users/me", .xMe)
        route(.get, "/2/users/:id/tweets", .xTimeline)
        route(.get, "/2/users/:id/mentions", .xMentions)
        route(.post, "/2/oauth2/token", .xToken)
        route(.post, "/2/media/upload", .xMediaUpload)
        route(.get, "/2/media/upload", .xMediaStatus)
        route(.post, "/2/media/metadata", .xMediaMetadata)

        // Mastodon
        route(.get, "/api/v1/accounts/verify_credentials", .mastodonCredentials)
        route(.post, "/api/v1/statuses", .mastodonCreate)
        route(.get, "/api/v1/statuses", .mastodonLookup)
        route(.get, "/api/v1/statuses/:id", .mastodonRead)
        route(.get, "/api/v1/accounts/:id/statuses", .mastodonTimeline)
        route(.get, "/api/v1/notifications", .mastodonNotifications)
        route(.get, "/api/v2/instance", .mastodonInstance)
        route(.post, "/api/v2/media", .mastodonMediaUpload)
        route(.get, "/api/v1/media/:id", .mastodonMediaStatus)

        // Facebook Pages (Graph API)
        let graph = Store.facebookVersion
        route(.post, "/\(graph)/:node/feed", .facebookFeed)
        route(.post, "/\(graph)/:node/photos", .facebookPhotos)
        route(.get, "/\(graph)/:node/published_posts", .facebookPublished)
        route(.get, "/\(graph)/:node", .facebookNode)

        // Bluesky (XRPC)
        for method in [HTTPRequest.Method.get, .post] {
            router.on("/xrpc/:nsid", method: method) { request, context in
                let nsid = context.parameters.get("nsid") ?? ""
                guard let (route, expected) = Simulator.xrpcMethods[nsid] else {
                    return SimResponse.json(
                        501, ["error": "MethodNotImplemented", "message": "Method Not Implemented"]
                    ).hummingbird
                }
                guard expected == request.method.rawValue else {
                    return SimResponse.json(
                        400,
                        [
                            "error": "InvalidRequest",
                            "message": .string("Incorrect HTTP method (\(request.method.rawValue)) expected \(expected)"),
                        ]
                    ).hummingbird
                }
                return try await self.serve(route, request, context)
            }
        }

        // Browser pages
        route(.get, "/web/login", .webLoginPage)
        route(.post, "/web/login", .webLogin)
        route(.get, "/web/compose", .webComposePage)
        route(.post, "/web/compose", .webCompose)
        route(.get, "/web/posts/:id", .webPost)

        // Admin API
        func admin(
            _ method: HTTPRequest.Method, _ path: RouterPath,
            _ body: @escaping @Sendable (inout Store, SimRequest) -> SimResponse
        ) {
            router.on(path, method: method) { request, context in
                try await self.admin(request, context, body)
            }
        }
        admin(.get, "/_sim/health") { _, _ in .json(200, ["ok": true]) }
        admin(.post, "/_sim/accounts") { store, request in store.adminCreateAccount(request) }
        admin(.get, "/_sim/accounts") { store, _ in store.adminAccounts() }
        admin(.get, "/_sim/accounts/:name/credentials") { store, request in
            store.adminCredentials(request.parameters["name"] ?? "")
        }
        admin(.get, "/_sim/posts") { store, request in store.adminPosts(request) }
        admin(.post, "/_sim/posts") { store, request in store.adminInjectPost(request) }
        admin(.post, "/_sim/mentions") { store, request in store.adminMention(request) }
        admin(.post, "/_sim/metrics") { store, request in store.adminMetrics(request) }
        admin(.post, "/_sim/tokens/expire") { store, request in store.adminExpire(request) }
        admin(.post, "/_sim/tokens/lifetime") { store, request in store.adminTokenLifetime(request) }
        admin(.post, "/_sim/tokens/revoke") { store, request in store.adminRevoke(request) }
        admin(.get, "/_sim/clock") { store, request in store.adminClock(request) }
        admin(.post, "/_sim/clock") { store, request in store.adminClock(request) }
        admin(.post, "/_sim/faults") { store, request in store.adminAddFault(request) }
        admin(.get, "/_sim/faults") { store, _ in store.adminFaults() }
        admin(.get, "/_sim/media") { store, request in store.adminMedia(request) }
        admin(.delete, "/_sim/faults") { store, _ in store.adminDeleteFaults(nil) }
        admin(.delete, "/_sim/faults/:id") { store, request in store.adminDeleteFaults(request.parameters["id"] ?? "") }
        admin(.get, "/_sim/requests") { store, request in store.adminRequests(request) }

        return router
    }
}
