import Glibc
import Logging
import SteadyBackground
import SteadyConfig
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadyStore
import SteadyWorker

/// The replies worker (DESIGN.md section 2): one periodic job, `mentions`, whose passes
/// (`RepliesPass`) run on a background thread while the loop keeps the schedule, the
/// heartbeat counters and the routed methods. Single-flight: a pass never starts while one
/// runs; a trigger during a pass asks for one more pass after it (`PeriodicJob.trigger`).
public final class RepliesEngine: PeriodicRole<RepliesReport> {
    let config: Config
    public let settings: RepliesConfig
    let store: any MentionsStore & AccountStore
    let accounts: [ReadingAccount]
    let generator: any ReplyGenerator
    let rules: ReplyRules
    var totals = Totals()

    struct Totals {
        var passes: Int64 = 0
        var mentionsSeen: Int64 = 0
        var ignored: Int64 = 0
        var enqueued: Int64 = 0
        var recovered: Int64 = 0
        var heldByQuota: Int64 = 0
        var quotaUnreadable: Int64 = 0
        var refused: Int64 = 0
        var enqueueErrors: Int64 = 0
        var generatorErrors: [GeneratorError.Kind: Int64] = [:]
    }

    /// Opens the store in `daemon.state_dir` (the posting worker's database) and loads each
    /// answering account's credentials. Throws when the store cannot be opened.
    public init(config: Config, logger: Logger) throws {
        self.config = config
        settings = config.replies
        store = try SharedStore.open(config)
        let names = settings.accounts.isEmpty ? config.accounts.map(\.name) : settings.accounts
        let http = HTTPClientOptions(connectTimeoutMillis: 5_000, totalTimeoutMillis: 20_000)
        accounts = config.accounts.filter { names.contains($0.name) }.map { ReadingAccount(config: $0, daemon: config, httpOptions: http, logger: logger) }
        switch settings.generator {
        case .template: generator = TemplateGenerator(template: settings.template)
        case .openai: generator = ChatCompletionsGenerator(settings: settings.openAI, keyPath: SharedStore.credentialsFile(settings.openAI.keyFile, config: config),
                                                        trustMode: config.daemon.credentialsFromSystemd)
        }
        rules = ReplyRules(config: settings)
        try super.init(job: PeriodicJob(name: "mentions", intervalMs: settings.pollIntervalMs, createdAt: SteadyClock.wallMillis()), logger: logger)
        for account in accounts where account.credentialsError != nil {
            logger.error("mentions cannot be read: \(account.credentialsError!)", metadata: ["ACCOUNT": "\(account.name)"])
        }
    }

    public override var description: String {
        let names = accounts.map { "\($0.platform.rawValue):\($0.name)" }.joined(separator: ", ")
        return "answering mentions for \(accounts.count) account(s) [\(names)] every \(settings.pollIntervalMs) ms; generator \(generator.name); quota \(settings.hourlyQuota)/h"
    }

    public override var figures: [String: Int64] {
        var out: [String: Int64] = [
            "passes": totals.passes, "mentions_seen": totals.mentionsSeen, "mentions_ignored": totals.ignored,
            "replies_enqueued": totals.enqueued, "replies_recovered": totals.recovered, "replies_held_by_quota": totals.heldByQuota,
            "quota_unreadable": totals.quotaUnreadable, "replies_refused": totals.refused, "enqueue_errors": totals.enqueueErrors,
            "generator_errors": totals.generatorErrors.values.reduce(0, +),
        ]
        for (kind, n) in totals.generatorErrors { out["generator_errors.\(kind.rawValue)"] = n }
        if let counts = try? store.mentionCounts() {
            out["mentions_to_answer"] = Int64(counts["answer"] ?? 0)
            out["mentions_retrying"] = Int64(counts["retrying"] ?? 0)
            out["mentions_failed"] = Int64(counts["failed"] ?? 0)
        }
        return out
    }

    public override func beginRun(now: Int64, outbox: WorkerOutbox) {
        let pass = RepliesPass(store: store, accounts: accounts, generator: generator, rules: rules, settings: settings,
                               outbox: outbox, logger: logger)
        queue.submit { pass.run(now: now) }
    }

    /// `replies.run`: a pass now (coalesced with one running); `replies.mentions
    /// {"account"?, "limit"?}`: the mentions seen, with their decisions and reply posts.
    public override func handle(method: String, body: [UInt8]) -> WorkerReply? {
        switch method {
        case "run":
            let wasRunning = job.running
            job.trigger(now: SteadyClock.wallMillis())
            return .ok(JSON.obj([("run", JSON(wasRunning ? "after the running pass" : "now"))]).bytes)
        case "mentions":
            let json = (try? JSON.parse(body)) ?? .null
            let limit = min(max(json["limit"]?.int ?? 100, 1), 1000)
            do {
                let items = try store.mentions(account: json["account"]?.string, limit: limit).map(Self.json)
                return .ok(JSON.obj([("mentions", .array(items))]).bytes)
            } catch {
                return .error(code: "store", message: "\(error)")
            }
        default:
            return nil
        }
    }

    static func json(_ m: StoredMention) -> JSON {
        func text(_ s: String?) -> JSON { s.map(JSON.init) ?? .null }
        return JSON.obj([
            ("account", JSON(m.account)), ("mention_id", JSON(m.mentionId)), ("post_id", JSON(m.postId)),
            ("author", text(m.authorHandle)), ("text", JSON(m.text)), ("decision", JSON(m.decision.rawValue)),
            ("reason", text(m.reason)), ("tries", JSON(m.tries)), ("next_try_at", m.nextTryAt.map { JSON(Int($0)) } ?? .null),
            ("reply_post_id", text(m.replyPostId)), ("last_error", text(m.lastError)), ("last_error_class", text(m.lastErrorClass)),
        ])
    }

    public override func finished(_ r: RepliesReport) {
        totals.passes += 1
        totals.mentionsSeen += Int64(r.newMentions)
        totals.ignored += Int64(r.ignored)
        totals.enqueued += Int64(r.enqueued)
        totals.recovered += Int64(r.recovered)
        totals.heldByQuota += Int64(r.heldByQuota)
        totals.quotaUnreadable += Int64(r.quotaUnreadable)
        totals.refused += Int64(r.refused)
        totals.enqueueErrors += Int64(r.enqueueErrors)
        for (kind, n) in r.generatorErrors { totals.generatorErrors[kind, default: 0] += Int64(n) }
        endRun(errors: r.errors)
    }
}
