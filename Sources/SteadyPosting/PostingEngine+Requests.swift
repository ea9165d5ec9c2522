import SteadyCore
import SteadyPlatforms
import SteadyStore
import SteadyWorker

/// The routed methods (`posting.METHOD` on the control socket): `create`, `list`, `show`,
/// `cancel`, `accounts`, answered on the loop thread, each one short store transaction; and
/// `media_put`, whose copies run on a thread of their own (`MediaIntake`).
extension PostingEngine {
    public func handle(request: WorkerRequest) -> WorkerReply? {
        if request.method == "media_put" { return mediaIntake.put(request, logger: logger) }
        guard request.descriptors.isEmpty else {
            return .error(code: "invalid", message: "\(request.method) takes no descriptors; only media_put does")
        }
        return handle(method: request.method, body: request.body)
    }

    /// Removes stored media no post needs any more (`[media] retain_after_final`).
    func sweepMedia(now: Int64) {
        let referenced: Set<String>
        do { referenced = try store.referencedMedia(finalSince: now - mediaIntake.retainAfterFinalMs) } catch {
            logger.warning("media sweep skipped: the store cannot say which media is referenced: \(error)")
            mediaIntake.nextSweepAt = now + MediaIntake.sweepIntervalMs
            return
        }
        mediaIntake.sweep(referenced: referenced, now: now, logger: logger)
    }

    public func handle(method: String, body: [UInt8]) -> WorkerReply? {
        switch method {
        case "create": return create(body)
        case "list": return list(body)
        case "show": return show(body)
        case "cancel": return cancel(body)
        case "accounts": return accountsReport()
        default: return nil
        }
    }

    var accountRules: [String: PostRequest.AccountRules] {
        Dictionary(uniqueKeysWithValues: slots.map { slot in
            (slot.name, PostRequest.AccountRules(platform: slot.platform) { (draft: PostDraft) throws(PlatformError) in
                try slot.validator.validate(draft)
            })
        })
    }

    func create(_ body: [UInt8]) -> WorkerReply {
        let now = SteadyClock.wallMillis()
        let parsed: (posts: [NewPost], batch: Bool, staging: PostRequest.Staging?)
        do { parsed = try PostRequest.parseStaged(body, now: now, accounts: accountRules, media: mediaIntake.lookup) } catch {
            return .error(code: "invalid", message: error.message + dropStage(of: body))
        }
        var posts = parsed.posts
        if let stage = parsed.staging {
            if !stage.final {
                // A chunk: validated, held, nothing stored yet.
                do {
                    let count = try staging.add(posts, to: stage.id, now: now)
                    return .ok(JSON.obj([("stage", JSON(stage.id)), ("staged", JSON(count))]).bytes)
                } catch {
                    return .error(code: "invalid", message: error.message + dropStage(of: body))
                }
            }
            guard let staged = staging.take(stage.id, now: now) else {
                return .error(code: "conflict", message: "no staged batch \(stage.id) (it expired after \(BatchStaging.idleMillis / 60_000) min idle, or the posting worker restarted): nothing was scheduled; send the whole batch again")
            }
            posts = staged + posts
        }
        let inserted: [Post]
        do { inserted = try store.insert(posts, now: now) } catch {
            logger.error("cannot store new posts: \(error)")
            return .error(code: "store", message: "the store refused the posts (nothing was scheduled): \(error)")
        }
        for p in inserted {
            logger.info("scheduled for \(p.dueAt)", metadata: ["POST_ID": "\(p.id)", "ACCOUNT": "\(p.account)"])
        }
        // A new post may be due now: look at once (the new-post notification).
        if !draining { roundNeeded = true }
        let media = Dictionary(zip(inserted.map(\.id), posts.map(\.media)), uniquingKeysWith: { a, _ in a })
        let answer: JSON
        if parsed.batch {
            answer = JSON.obj([("posts", .array(inserted.map { PostJSON.summary($0, media: media[$0.id] ?? []) }))])
        } else if let threadId = inserted[0].threadId {
            answer = PostJSON.thread(threadId, parts: inserted, media: media)
        } else {
            answer = PostJSON.summary(inserted[0], media: posts[0].media)
        }
        return .ok(answer.bytes)
    }

    /// A refused chunk ends its staged batch (all or nothing: nothing staged can be stored
    /// now), so it does not hold one of the few open stages until it idles out. What to add
    /// to the refusal's message.
    func dropStage(of body: [UInt8]) -> String {
        guard let id = (try? JSON.parseStrict(body))?["stage"]?.string, staging.drop(id) else { return "" }
        return " (staged batch \(id) dropped: nothing of it was scheduled)"
    }

    func list(_ body: [UInt8]) -> WorkerReply {
        let json = body.isEmpty ? JSON.object([]) : ((try? JSON.parse(body)) ?? .null)
        guard json.isObject else { return .error(code: "invalid", message: "the request must be a JSON object") }
        var state: PostState?
        if let s = json["state"]?.string {
            guard let parsed = PostState(rawValue: s) else {
                return .error(code: "invalid", message: "unknown state '\(s)'; states: \(PostState.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            state = parsed
        }
        let account = json["account"]?.string
        let limit = min(max(json["limit"]?.int ?? 1000, 1), 5000)
        do {
            let posts = try store.posts(state: state, account: account, limit: limit)
            let media = try store.attachments(postIds: posts.map(\.id))
            return .ok(JSON.array(posts.map { PostJSON.summary($0, media: media[$0.id] ?? []) }).bytes)
        } catch {
            return .error(code: "store", message: "\(error)")
        }
    }

    func postId(_ body: [UInt8]) -> String? {
        guard let json = try? JSON.parse(body), let id = json["id"]?.string, !id.isEmpty else { return nil }
        return id
    }

    func show(_ body: [UInt8]) -> WorkerReply {
        guard let id = postId(body) else { return .error(code: "invalid", message: "expected {\"id\": \"POST_ID\"}") }
        if ThreadPlacement.isThreadId(id) {
            do {
                let parts = try store.threadParts(threadId: id)
                guard !parts.isEmpty else { return .error(code: "not-found", message: "no thread \(id)") }
                return .ok(PostJSON.thread(id, parts: parts, media: try store.attachments(postIds: parts.map(\.id))).bytes)
            } catch {
                return .error(code: "store", message: "\(error)")
            }
        }
        do {
            let post = try store.post(id: id)
            return .ok(PostJSON.detail(post, media: try store.attachments(postId: id), attempts: try store.attempts(postId: id)).bytes)
        } catch .notFound {
            return .error(code: "not-found", message: "no post \(id)")
        } catch {
            return .error(code: "store", message: "\(error)")
        }
    }

    func cancel(_ body: [UInt8]) -> WorkerReply {
        guard let id = postId(body) else { return .error(code: "invalid", message: "expected {\"id\": \"POST_ID\"}") }
        if ThreadPlacement.isThreadId(id) { return cancelThread(id) }
        do {
            let post = try store.cancel(id: id, now: SteadyClock.wallMillis())
            logger.info("cancelled", metadata: ["POST_ID": "\(id)", "ACCOUNT": "\(post.account)"])
            return .ok(PostJSON.summary(post).bytes)
        } catch .notFound {
            return .error(code: "not-found", message: "no post \(id)")
        } catch .conflict {
            let state = (try? store.post(id: id).state.rawValue) ?? "moved on"
            return .error(code: "conflict", message: "post \(id) is \(state): only a scheduled post with no attempt in progress can be cancelled")
        } catch {
            return .error(code: "store", message: "\(error)")
        }
    }

    /// Cancels a thread's parts not yet attempted; a thread with none left is a conflict.
    func cancelThread(_ id: String) -> WorkerReply {
        let now = SteadyClock.wallMillis()
        do {
            let before = try store.threadParts(threadId: id)
            let after = try store.cancelThread(threadId: id, now: now)
            let cancelled = zip(before, after).filter { $0.state != .cancelled && $1.state == .cancelled }.map(\.1)
            guard !cancelled.isEmpty else {
                let states = after.map { "part \($0.threadPosition ?? 0) \($0.state.rawValue)" }.joined(separator: ", ")
                return .error(code: "conflict", message: "thread \(id) has no part left to cancel (\(states)): only parts with no attempt started can be")
            }
            for p in cancelled {
                logger.info("cancelled (thread \(id) part \(p.threadPosition ?? 0))", metadata: ["POST_ID": "\(p.id)", "ACCOUNT": "\(p.account)"])
            }
            return .ok(PostJSON.thread(id, parts: after).bytes)
        } catch .notFound {
            return .error(code: "not-found", message: "no thread \(id)")
        } catch {
            return .error(code: "store", message: "\(error)")
        }
    }

    /// Per account: credentials, pause, breaker, quota use, whether a job is running.
    func accountsReport() -> WorkerReply {
        let now = SteadyClock.wallMillis()
        var items: [JSON] = []
        for slot in slots {
            let hourly = try? store.attemptsStarted(account: slot.name, since: now - settings.hourMillis + 1)
            let daily = try? store.attemptsStarted(account: slot.name, since: now - settings.dayMillis + 1)
            let active = slot.pause.flatMap { $0.until > now ? $0 : nil }
            items.append(JSON.obj([
                ("name", JSON(slot.name)), ("platform", JSON(slot.platform.rawValue)),
                ("credentials", JSON(slot.credentialsError.map { "unusable: \($0)" } ?? "ok")),
                ("busy", .bool(slot.busy)),
                ("paused_until", PostJSON.time(active?.until)), ("pause_kind", PostJSON.text(active?.kind.rawValue)),
                ("pause_reason", PostJSON.text(active?.reason)),
                ("breaker", JSON(slot.breaker.state.rawValue)), ("breaker_failures", JSON(slot.breaker.consecutiveFailures)),
                ("quota_hourly", JSON(slot.config.quota.hourly)), ("quota_daily", JSON(slot.config.quota.daily)),
                ("attempts_last_hour", hourly.map(JSON.init) ?? .null), ("attempts_last_day", daily.map(JSON.init) ?? .null),
                ("quota_blocked_until", PostJSON.time(slot.quotaBlockedUntil)),
            ]))
        }
        return .ok(JSON.obj([("accounts", .array(items)), ("counters", .object(counters.sorted { $0.key < $1.key }.map { ($0.key, PostJSON.int($0.value)) }))]).bytes)
    }
}
