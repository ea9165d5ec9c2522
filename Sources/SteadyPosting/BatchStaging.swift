import SteadyCore
import SteadyStore

/// Batches larger than one request: the CLI sends a big `--file` in chunks under one stage
/// id (`{"stage": ID, "final": false, "posts": [...]}`), each chunk validated as it comes and
/// held here; the chunk with `"final": true` stores every staged post and its own in ONE
/// transaction, so the batch is still all or nothing. Staging lives in the posting worker's
/// memory on purpose: if the worker restarts mid-way, the final chunk finds no stage and is
/// refused, and nothing was stored. Bounded: posts, bytes and stages; a stage one of whose
/// chunks is refused is dropped at once, and one untouched for `idleMillis` is dropped.
struct BatchStaging {
    struct Stage {
        var posts: [NewPost] = []
        var bytes = 0
        var touched: Int64
    }

    static let maxPosts = 100_000
    static let maxBytes = 64 << 20
    static let maxStages = 8
    static let idleMillis: Int64 = 10 * 60_000

    private(set) var stages: [String: Stage] = [:]

    struct Refusal: Error { var message: String }

    /// Whether `id` can name a stage: 8-64 of A-Z a-z 0-9 and '-'.
    static func isValidId(_ id: String) -> Bool {
        (8...64).contains(id.utf8.count) && id.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D
        }
    }

    /// Adds validated posts to stage `id` (made on first use); the stage's post count.
    mutating func add(_ posts: [NewPost], to id: String, now: Int64) throws(Refusal) -> Int {
        expire(now: now)
        var stage = stages[id] ?? Stage(touched: now)
        if stages[id] == nil, stages.count >= Self.maxStages {
            throw Refusal(message: "\(Self.maxStages) staged batches are open already; finish or abandon one (an idle one is dropped after \(Self.idleMillis / 60_000) min)")
        }
        let bytes = posts.reduce(0) { $0 + $1.text.utf8.count + ($1.inReplyTo?.utf8.count ?? 0) + 64 }
        guard stage.posts.count + posts.count <= Self.maxPosts else {
            throw Refusal(message: "a staged batch holds at most \(Self.maxPosts) posts; this one would hold \(stage.posts.count + posts.count)")
        }
        guard stage.bytes + bytes <= Self.maxBytes else {
            throw Refusal(message: "a staged batch holds at most \(Self.maxBytes >> 20) MiB of posts")
        }
        stage.posts += posts
        stage.bytes += bytes
        stage.touched = now
        stages[id] = stage
        return stage.posts.count
    }

    /// Takes stage `id`'s posts out (nil when there is no such stage: expired, or this
    /// worker restarted since the first chunk).
    mutating func take(_ id: String, now: Int64) -> [NewPost]? {
        expire(now: now)
        return stages.removeValue(forKey: id)?.posts
    }

    /// Drops stage `id` (a chunk of it was refused: the batch is all or nothing, so nothing
    /// staged can be stored any more); whether there was one.
    mutating func drop(_ id: String) -> Bool {
        stages.removeValue(forKey: id) != nil
    }

    mutating func expire(now: Int64) {
        stages = stages.filter { now - $0.value.touched < Self.idleMillis }
    }
}
