import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import Synchronization

/// The fake platform's server side, in memory: its posts, by idempotency key too, and the
/// faults a test arms. One world per base URL, so tests do not share one.
final class FakeWorld: Sendable {
    struct Published: Sendable {
        var post: RemotePost
        var key: String
        var token: String
    }

    struct State {
        var posts: [Published] = []
        var creates = 0
        /// Creates whose post is made but whose answer is lost (an unknown outcome).
        var dropResponses = 0
    }

    let state = Mutex(State())

    private static let worlds = Mutex<[String: FakeWorld]>([:])

    static func named(_ name: String) -> FakeWorld {
        worlds.withLock { all in
            if let w = all[name] { return w }
            let w = FakeWorld()
            all[name] = w
            return w
        }
    }

    var posts: [Published] { state.withLock { $0.posts } }
    var creates: Int { state.withLock { $0.creates } }
}

final class FakeAdapter: PlatformAdapter {
    let world: FakeWorld
    let token: String
    var platform: Platform { .fake }
    var session = SessionTokens()
    var lastRateLimit: RateLimitInfo? { nil }

    init(world: FakeWorld, token: String) {
        self.world = world
        self.token = token
    }

    func validate(_ draft: PostDraft) throws(PlatformError) { try FakePlatform().validate(draft) }

    func create(_ draft: PostDraft, attempt: AttemptKey) throws(PlatformError) -> RemotePost {
        try validate(draft)
        let key = FakePlatform().idempotencyKey(for: attempt)
        let (post, dropped) = world.state.withLock { s -> (RemotePost, Bool) in
            s.creates += 1
            if let same = s.posts.first(where: { $0.key == key }) { return (same.post, false) }
            let post = RemotePost(id: "fake-\(s.posts.count + 1)", text: draft.text, createdAtMs: SteadyClock.wallMillis(),
                                  inReplyTo: draft.replyTo)
            s.posts.append(FakeWorld.Published(post: post, key: key, token: token))
            let drop = s.dropResponses > 0
            if drop { s.dropResponses -= 1 }
            return (post, drop)
        }
        if dropped {
            throw PlatformError(platform: .fake, errorClass: .unknownOutcome, evidence: ErrorEvidence(operation: "create"),
                                message: "the fake platform made the post and lost the answer")
        }
        return post
    }

    func lookup(id: String) throws(PlatformError) -> RemotePost? {
        world.state.withLock { s in s.posts.first { $0.post.id == id }?.post }
    }

    func findByIdempotency(_ attempt: AttemptKey, draft: PostDraft) throws(PlatformError) -> IdempotencyFind {
        let key = FakePlatform().idempotencyKey(for: attempt)
        guard let found = world.state.withLock({ s in s.posts.first { $0.key == key } }) else { return .absent }
        return found.post.contentHash == ContentNormalizer.hash(draft.text) ? .found(found.post) : .keyHeldByOtherContent(found.post)
    }

    func ownPosts(since sinceMs: Int64?, cursor: PageCursor?, limit: Int) throws(PlatformError) -> Page<RemotePost> {
        let all = world.state.withLock { s in s.posts.map(\.post).reversed() }
        return Page(items: all.filter { p in sinceMs.map { (p.createdAtMs ?? 0) >= $0 } ?? true }, next: nil)
    }

    func mentions(cursor: PageCursor?, limit: Int) throws(PlatformError) -> Page<Mention> { Page(items: [], next: nil) }
    func metrics(ids: [String]) throws(PlatformError) -> [String: PostMetrics] { [:] }
    func identity() throws(PlatformError) -> Identity { Identity(userId: "fake-user", handle: "fake") }
    func refreshAuth() throws(PlatformError) -> RefreshOutcome { .notRefreshable("the fake platform's tokens do not expire") }
    func adopt(_ tokens: SessionTokens) {}
}
