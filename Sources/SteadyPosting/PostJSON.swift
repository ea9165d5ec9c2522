import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyStore

/// The JSON shapes of the routed posting methods (INTERFACE.md): `jobs --json` items,
/// `show`, and the account figures.
enum PostJSON {
    static func int(_ v: Int64) -> JSON { .number(Double(v), raw: String(v)) }
    static func time(_ v: Int64?) -> JSON { v.map { JSON(HTTPTime.formatISO8601(millis: $0)) } ?? .null }
    static func text(_ v: String?) -> JSON { v.map(JSON.init) ?? .null }

    /// `{"id","account","state","due_at","platform_id","attempts","last_error"}`; a thread's
    /// part adds `"thread_id"` and `"thread_position"` (1-based), and a post with attachments
    /// `"media": [{"sha256","type","bytes","alt"}]` (in order).
    static func summary(_ p: Post, media: [MediaAttachment] = []) -> JSON {
        var members: [(String, JSON)] = [
            ("id", JSON(p.id)), ("account", JSON(p.account)), ("state", JSON(p.state.rawValue)), ("due_at", time(p.dueAt)),
            ("platform_id", text(p.platformId)), ("attempts", JSON(p.attempts)), ("last_error", text(p.lastError)),
        ]
        if let threadId = p.threadId, let position = p.threadPosition {
            members += [("thread_id", JSON(threadId)), ("thread_position", JSON(position))]
        }
        if !media.isEmpty { members.append(("media", .array(media.map(attachment)))) }
        return .object(members)
    }

    /// A thread: `{"thread_id", "state", "posts": [summaries of its parts, in order]}`. `state`
    /// is `posted` when every part is, else the state of the first part that is not (parts go
    /// out in order, so that one says where the thread stands).
    static func thread(_ id: String, parts: [Post], media: [String: [MediaAttachment]] = [:]) -> JSON {
        .object([("thread_id", JSON(id)), ("state", JSON(threadState(parts))),
                 ("posts", .array(parts.map { summary($0, media: media[$0.id] ?? []) }))])
    }

    static func threadState(_ parts: [Post]) -> String {
        guard let open = parts.first(where: { $0.state != .posted }) else { return PostState.posted.rawValue }
        return open.state.rawValue
    }

    static func attachment(_ m: MediaAttachment) -> JSON {
        .object([("sha256", JSON(m.sha256)), ("type", JSON(m.type.rawValue)), ("bytes", int(m.bytes)), ("alt", text(m.alt))])
    }

    /// The summary's members, then everything else about the post, and its attempts.
    static func detail(_ p: Post, media: [MediaAttachment] = [], attempts: [Attempt]) -> JSON {
        guard case .object(var members) = summary(p, media: media) else { return .null }
        members += [
            ("platform", JSON(p.platform)), ("kind", JSON(p.kind)), ("text", JSON(p.text)), ("reply_to", text(p.inReplyTo)),
            ("platform_cid", text(p.platformCid)),
            ("next_try_at", time(p.nextTryAt)), ("last_error_class", text(p.lastErrorClass)), ("created_at", time(p.createdAt)),
            ("updated_at", time(p.updatedAt)), ("lease_owner", text(p.leaseOwner)), ("lease_expires_at", time(p.leaseExpiresAt)),
            ("lease_losses", JSON(p.leaseLosses)), ("content_hash", JSON(p.contentHash)),
            ("attempt_log", .array(attempts.map(attempt))),
        ]
        return .object(members)
    }

    static func attempt(_ a: Attempt) -> JSON {
        .object([
            ("id", JSON(a.id)), ("number", JSON(a.number)), ("started_at", time(a.startedAt)), ("started_at_ms", int(a.startedAt)),
            ("finished_at", time(a.finishedAt)), ("outcome", text(a.outcome)), ("detail", text(a.detail)),
            ("platform_id", text(a.platformId)), ("idempotency_key", JSON(a.idempotencyKey)), ("adapter", JSON(a.adapter)),
        ])
    }
}
