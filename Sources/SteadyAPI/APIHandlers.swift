import SteadyWorker
import Hummingbird
import SteadyCore
import SteadyPlatforms
import SteadyStore

/// The handlers. Creating and cancelling posts, and reading them, go to the posting worker
/// (`posting.create`, `.cancel`, `.show`, `.list`): one place validates, wakes the engine,
/// and shapes a post's JSON (the CLI's `show` and `jobs --json` answer the same). Quotas,
/// health, metrics and the dashboard read the store here, so they answer while the posting
/// worker is down.
extension APIService {
    static let maxBody = 4 << 20

    func serve(_ route: APIRoute, _ request: Request, _ context: APIRequestContext) async -> APIAnswer {
        switch route.access {
        case .token:
            if let refusal = authenticate(request) { return refusal }
        case .signed:
            break  // the link's own MAC and expiry, checked by its handler
        case .local:
            if !localAllowed(peer: context.peerAddress) {
                count("http_refused_remote")
                return .error(403, "forbidden", field: nil, "\(route.path) answers loopback clients only (set api.health_public = true to open it)")
            }
        }
        let now = SteadyClock.wallMillis()
        switch route.name {
        case .createPost, .createBatch, .createThread:
            let body: [UInt8]
            do {
                body = Array(try await request.body.collect(upTo: Self.maxBody).readableBytesView)
            } catch {
                return .error(413, "too-large", field: "body", "the request body is over \(Self.maxBody) bytes")
            }
            return await create(body, kind: route.name)
        case .uploadMedia:
            return await uploadMedia(request)
        case .mediaLink:
            return mediaLink(context)
        case .listPosts:
            return await list(request.uri.queryParameters)
        case .getPost, .cancelPost, .getThread, .cancelThread:
            let thread = route.name == .getThread || route.name == .cancelThread
            guard let id = context.parameters.get("id"), !id.isEmpty, id.utf8.count <= 128 else {
                return .error(400, "invalid", field: "id", "the \(thread ? "thread" : "post") id is missing or longer than 128 bytes")
            }
            if thread && !ThreadPlacement.isThreadId(id) {
                return .error(404, "not-found", field: "id", "no thread \(id): thread ids start with t_")
            }
            let body = JSON.obj([("id", JSON(id))]).bytes
            let answer = await call(route.name == .getPost || route.name == .getThread ? "posting.show" : "posting.cancel", body)
            return Self.answer(answer, success: 200)
        case .quotas:
            do { return .json(200, try quotas(now: now).bytes) } catch {
                return .error(500, "store", field: nil, "cannot read the quotas: \(error)")
            }
        case .workers:
            let (status, error) = await supervisorStatus()
            guard let status else { return .error(503, "unavailable", field: nil, error ?? "the supervisor did not answer") }
            return .json(200, status.bytes)
        case .health:
            let (status, error) = await supervisorStatus()
            let report = healthReport(status: status, statusError: error, now: now)
            // Unhealthy answers 503 so a plain HTTP check sees it; the body says why.
            return .json(report.status == .unhealthy ? 503 : 200, report.json.bytes)
        case .metrics:
            let (status, error) = await supervisorStatus()
            return APIAnswer(status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8", body: Array(metrics(status: status, statusError: error, now: now).utf8))
        case .dashboard:
            let (status, error) = await supervisorStatus()
            return APIAnswer(status: 200, contentType: "text/html; charset=utf-8", body: Array(dashboard(status: status, statusError: error, now: now).utf8))
        }
    }

    /// `/health`, `/metrics` and the dashboard: loopback peers, or anyone with `api.health_public`.
    func localAllowed(peer: String?) -> Bool {
        config.api.healthPublic || APIRequestContext.isLoopback(peer)
    }

    /// nil when the request carries an active token; else the 401 (the token is never echoed).
    func authenticate(_ request: Request) -> APIAnswer? {
        func refuse(_ message: String) -> APIAnswer {
            count("http_unauthorized")
            var a = APIAnswer.error(401, "unauthorized", field: "Authorization", message)
            a.headers = [("WWW-Authenticate", "Bearer realm=\"steadypost\"")]
            return a
        }
        guard let header = request.headers[.authorization] else {
            return refuse("missing the Authorization header: send `Authorization: Bearer TOKEN` (tokens come from `steadypost token create NAME`)")
        }
        guard header.hasPrefix("Bearer "), case let token = String(header.dropFirst(7)), !token.isEmpty else {
            return refuse("the Authorization header must be `Bearer TOKEN`")
        }
        let hash = APITokens.hash(token)
        do {
            guard let found = try store.activeToken(hash: hash) else { return refuse("the token is unknown or revoked") }
            if (found.lastUsedAt ?? 0) < SteadyClock.wallMillis() - 60_000 {
                try? store.touchToken(hash: hash, now: SteadyClock.wallMillis())
            }
            return nil
        } catch {
            return .error(503, "store", field: nil, "cannot check the token: \(error)")
        }
    }

    /// `kind`: `createPost` (one post), `createBatch` (`{"posts": [...]}`, threads among them),
    /// or `createThread` (`{"account", "thread": [...], "at"?, "gap"?}`).
    func create(_ body: [UInt8], kind: APIRoute.Name) async -> APIAnswer {
        let json: JSON
        do { json = try JSON.parse(body) } catch {
            return .error(400, "invalid", field: "body", "the body is not JSON: \(error)")
        }
        guard json.isObject else { return .error(400, "invalid", field: "body", "the body must be a JSON object") }
        let batch = kind == .createBatch
        switch kind {
        case .createBatch:
            guard json["posts"]?.array != nil else {
                return .error(400, "invalid", field: "posts", "a batch is {\"posts\": [{\"account\", \"text\", \"at\"?, \"reply_to\"?}, ...]}")
            }
        case .createThread:
            guard json["thread"]?.array != nil else {
                return .error(400, "invalid", field: "thread", "a thread is {\"account\", \"thread\": [{\"text\", \"media\"?}, ...], \"at\"?, \"gap\"?}")
            }
        default:
            if json["posts"] != nil {
                return .error(400, "invalid", field: "posts", "one post per POST /api/posts; send batches to POST /api/posts/batch")
            }
            if json["thread"] != nil {
                return .error(400, "invalid", field: "thread", "threads go to POST /api/threads (or as items of POST /api/posts/batch)")
            }
        }
        if batch, let posts = json["posts"]?.array, posts.count > Self.chunkPosts,
           json.members?.allSatisfy({ $0.0 == "account" || $0.0 == "posts" }) == true {
            return await createStaged(account: json["account"], posts: posts)
        }
        return Self.answer(await call("posting.create", body), success: 201)
    }

    /// Posts one routed request carries. A larger batch goes to the posting worker as chunks
    /// of a staged batch (as the CLI's `--file` does), so no single request holds its loop
    /// for long: its heartbeats go on (a 7,000-post body in one request once took the loop
    /// past the hang timeout on a loaded machine). Still all or nothing: the last chunk stores
    /// every post in one transaction, and a refused chunk leaves nothing stored.
    static let chunkPosts = 1_000

    func createStaged(account: JSON?, posts: [JSON]) async -> APIAnswer {
        let stage = "api-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        var start = 0
        while true {
            let end = min(start + Self.chunkPosts, posts.count)
            let final = end == posts.count
            let body = JSON.obj([("account", account), ("stage", JSON(stage)), ("final", .bool(final)), ("first", JSON(start)),
                                 ("posts", .array(Array(posts[start..<end])))])
            let result = await call("posting.create", body.bytes)
            if final { return Self.answer(result, success: 201) }
            if case .error = result { return Self.answer(result, success: 201) }
            start = end
        }
    }

    func list(_ query: Parameters) async -> APIAnswer {
        var members: [(String, JSON?)] = []
        for parameter in query where !["state", "account", "limit"].contains(String(parameter.key)) {
            return .error(400, "invalid", field: String(parameter.key), "unknown query parameter \(parameter.key); use state, account, limit")
        }
        if let state = query.get("state") { members.append(("state", JSON(state))) }
        if let account = query.get("account") { members.append(("account", JSON(account))) }
        if let limitText = query.get("limit") {
            guard let limit = Int(limitText), (1...5000).contains(limit) else {
                return .error(400, "invalid", field: "limit", "limit must be an integer from 1 to 5000, got \(limitText)")
            }
            members.append(("limit", JSON(limit)))
        }
        return Self.answer(await call("posting.list", JSON.obj(members).bytes), success: 200)
    }

    /// A routed answer as HTTP: the posting worker's codes to statuses, its message kept,
    /// the field it names pulled out.
    static func answer(_ answer: WorkerCallResult, success: Int) -> APIAnswer {
        switch answer {
        case .ok(let body):
            return .json(success, body)
        case .error(let code, let message):
            switch code {
            case "invalid": return .error(400, code, field: field(of: message), message)
            case "not-found": return .error(404, code, field: "id", message)
            case "conflict": return .error(409, code, field: "id", message)
            case "unavailable", "worker-exited", "timeout":
                return .error(503, code, field: nil, "the posting worker cannot answer now (\(code)): \(message)")
            default: return .error(500, code, field: nil, message)
            }
        }
    }

    /// The field a posting validation message names: `posts[2]: text: missing` →
    /// `posts[2].text`; `line 3: at: ...` → `line 3.at`.
    static func field(of message: String) -> String? {
        if message.hasPrefix("unknown state") { return "state" }
        if message.hasPrefix("the request") { return "body" }
        var parts: [String] = []
        let segments = message.split(separator: ": ").map(String.init)
        for (i, segment) in segments.enumerated() {
            // A thread's `part N` is its `thread[N-1]`.
            if i < segments.count - 1, segment.hasPrefix("part "), let n = Int(segment.dropFirst(5)), n >= 1 {
                parts.append("thread[\(n - 1)]")
                continue
            }
            // The last segment is the complaint itself, never a field.
            if i < segments.count - 1, isFieldName(segment) {
                parts.append(segment)
            } else {
                if segment.hasPrefix("unknown account") { parts.append("account") }
                if segment.hasSuffix("would refuse it") { parts.append("text") }
                break
            }
        }
        return parts.isEmpty ? nil : parts.joined(separator: ".")
    }

    static func isFieldName(_ s: String) -> Bool {
        if s.hasPrefix("line "), Int(s.dropFirst(5)) != nil { return true }
        var rest = Substring(s)
        if let open = rest.firstIndex(of: "["), rest.hasSuffix("]") {
            guard Int(rest[rest.index(after: open)..<rest.index(before: rest.endIndex)]) != nil else { return false }
            rest = rest[..<open]
        }
        return !rest.isEmpty && rest.allSatisfy { ($0 >= "a" && $0 <= "z") || $0 == "_" }
    }
}
