/// A mention as the replies worker keeps it (migration 3): seen once (unique per account and
/// platform mention id), with the decision taken and, once its reply is enqueued as a post,
/// that post's id. A mention to `answer` whose reply failed carries the error, its class and
/// when it is tried again.
public struct StoredMention: Equatable, Sendable {
    public enum Decision: String, Sendable, CaseIterable {
        /// To be answered (again, at `nextTryAt`, after a failure or a full quota).
        case answer
        /// Not to be answered; `reason` says which rule.
        case ignored
        /// Its reply is a post in the store (`replyPostId`).
        case enqueued
        /// Its reply was refused for good (e.g. the platform's rules refuse the text); `reason`.
        case failed
    }

    public var account: String
    public var mentionId: String
    /// The mentioning post's platform id (what the reply answers).
    public var postId: String
    public var authorId: String?
    public var authorHandle: String?
    public var text: String
    public var createdAt: Int64?
    public var seenAt: Int64
    public var decision: Decision
    public var reason: String?
    public var tries: Int
    public var nextTryAt: Int64?
    /// The generated reply, kept once made so a retried enqueue sends the same text.
    public var replyText: String?
    public var replyPostId: String?
    public var lastError: String?
    public var lastErrorClass: String?

    public init(account: String, mentionId: String, postId: String, authorId: String?, authorHandle: String?, text: String,
                createdAt: Int64?, seenAt: Int64, decision: Decision, reason: String?, tries: Int = 0, nextTryAt: Int64? = nil,
                replyText: String? = nil, replyPostId: String? = nil, lastError: String? = nil, lastErrorClass: String? = nil) {
        self.account = account
        self.mentionId = mentionId
        self.postId = postId
        self.authorId = authorId
        self.authorHandle = authorHandle
        self.text = text
        self.createdAt = createdAt
        self.seenAt = seenAt
        self.decision = decision
        self.reason = reason
        self.tries = tries
        self.nextTryAt = nextTryAt
        self.replyText = replyText
        self.replyPostId = replyPostId
        self.lastError = lastError
        self.lastErrorClass = lastErrorClass
    }
}

/// The answer of a quota reservation.
public enum ReplyReservation: Equatable, Sendable {
    /// The mention holds a place in the window (now, or from an earlier try).
    case reserved
    /// The window is full until then.
    case full(until: Int64)
}

/// The replies worker's store calls, each one short transaction.
extension SQLitePostStore {
    static let mentionColumns = "account, mention_id, post_id, author_id, author_handle, text, created_at, seen_at, decision, reason, tries, next_try_at, reply_text, reply_post_id, last_error, last_error_class"

    static func mention(_ r: Row) -> StoredMention {
        StoredMention(account: r.text(0)!, mentionId: r.text(1)!, postId: r.text(2)!, authorId: r.text(3), authorHandle: r.text(4),
                      text: r.text(5)!, createdAt: r.int(6), seenAt: r.int(7)!,
                      decision: StoredMention.Decision(rawValue: r.text(8)!) ?? .failed, reason: r.text(9), tries: Int(r.int(10)!),
                      nextTryAt: r.int(11), replyText: r.text(12), replyPostId: r.text(13), lastError: r.text(14),
                      lastErrorClass: r.text(15))
    }

    /// Which of `ids` the account has already seen.
    public func seenMentionIds(account: String, among ids: [String]) throws(StoreError) -> Set<String> {
        guard !ids.isEmpty else { return [] }
        let marks = Array(repeating: "?", count: ids.count).joined(separator: ", ")
        return Set(try query("SELECT mention_id FROM mentions WHERE account = ? AND mention_id IN (\(marks))",
                             [.text(account)] + ids.map { .text($0) }).compactMap { $0.text(0) })
    }

    /// Records a mention seen for the first time; a mention already there is left as it is.
    /// Returns whether it was new.
    @discardableResult
    public func insertMention(_ m: StoredMention) throws(StoreError) -> Bool {
        try write("""
            INSERT OR IGNORE INTO mentions (account, mention_id, post_id, author_id, author_handle, text, created_at, seen_at, decision, reason, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, [.text(m.account), .text(m.mentionId), .text(m.postId), m.authorId.sql, m.authorHandle.sql, .text(m.text), m.createdAt.sql,
                  .integer(m.seenAt), .text(m.decision.rawValue), m.reason.sql, .integer(m.seenAt)]) == 1
    }

    public func mention(account: String, mentionId: String) throws(StoreError) -> StoredMention? {
        try query("SELECT \(Self.mentionColumns) FROM mentions WHERE account = ? AND mention_id = ?",
                  [.text(account), .text(mentionId)]).first.map(Self.mention)
    }

    /// Mentions to answer whose (re)try time has come, oldest seen first.
    public func mentionsToAnswer(now: Int64, limit: Int) throws(StoreError) -> [StoredMention] {
        try query("SELECT \(Self.mentionColumns) FROM mentions WHERE decision = 'answer' AND COALESCE(next_try_at, 0) <= ? ORDER BY seen_at, mention_id LIMIT ?",
                  [.integer(now), .integer(Int64(limit))]).map(Self.mention)
    }

    /// The earliest retry time of a mention to answer.
    public func nextMentionTry() throws(StoreError) -> Int64? {
        try query("SELECT MIN(COALESCE(next_try_at, 0)) FROM mentions WHERE decision = 'answer'", []).first?.int(0)
    }

    /// Takes a place in the account's hourly reply window for this mention, in one
    /// transaction (count, then insert): a mention that already holds one keeps it, so a
    /// retried enqueue is not counted twice. A store that cannot be read throws: the caller
    /// must then enqueue nothing (the quota fails closed, F18).
    public func reserveReply(account: String, mentionId: String, limit: Int, windowMillis: Int64, now: Int64) throws(StoreError) -> ReplyReservation {
        try transaction { db throws(StoreError) in
            do throws(SQLiteError) {
                if try db.prepare("SELECT 1 FROM reply_quota WHERE account = ? AND mention_id = ?").run([.text(account), .text(mentionId)]).first != nil {
                    return .reserved
                }
                let since = now - windowMillis + 1
                let row = try db.prepare("SELECT COUNT(*), MIN(reserved_at) FROM reply_quota WHERE account = ? AND reserved_at >= ?")
                    .run([.text(account), .integer(since)]).first
                let used = Int(row?.int(0) ?? 0)
                if used >= limit {
                    return .full(until: max((row?.int(1) ?? now) + windowMillis, now + 1))
                }
                try db.prepare("INSERT INTO reply_quota (account, mention_id, reserved_at) VALUES (?, ?, ?)")
                    .run([.text(account), .text(mentionId), .integer(now)])
                return .reserved
            } catch { throw .database(error) }
        }
    }

    /// Replies reserved for `account` since `since` (what the hourly quota counts).
    public func repliesReserved(account: String, since: Int64) throws(StoreError) -> Int {
        Int(try query("SELECT COUNT(*) FROM reply_quota WHERE account = ? AND reserved_at >= ?", [.text(account), .integer(since)]).first?.int(0) ?? 0)
    }

    /// The post already scheduled by `account` in reply to `target`, if any: how a retried
    /// enqueue whose first answer was lost finds the post it made (the reply is enqueued once).
    public func replyPost(account: String, inReplyTo target: String) throws(StoreError) -> String? {
        try query("SELECT id FROM posts WHERE account = ? AND in_reply_to = ? AND kind = 'reply' ORDER BY created_at LIMIT 1",
                  [.text(account), .text(target)]).first?.text(0)
    }

    /// Keeps the generated text of a mention's reply.
    public func setReplyText(account: String, mentionId: String, text: String, now: Int64) throws(StoreError) {
        try write("UPDATE mentions SET reply_text = ?, updated_at = ? WHERE account = ? AND mention_id = ?",
                  [.text(text), .integer(now), .text(account), .text(mentionId)])
    }

    /// The mention's reply is the post `postId`.
    public func markReplyEnqueued(account: String, mentionId: String, postId: String, now: Int64) throws(StoreError) {
        try write("UPDATE mentions SET decision = 'enqueued', reply_post_id = ?, next_try_at = NULL, last_error = NULL, last_error_class = NULL, updated_at = ? WHERE account = ? AND mention_id = ?",
                  [.text(postId), .integer(now), .text(account), .text(mentionId)])
    }

    /// A try failed (`countsAsTry`: the generator or the enqueue failed, not merely a full
    /// quota); the mention is tried again at `retryAt`.
    public func markReplyRetry(account: String, mentionId: String, error: String, errorClass: String, retryAt: Int64, countsAsTry: Bool, now: Int64) throws(StoreError) {
        try write("UPDATE mentions SET tries = tries + ?, last_error = ?, last_error_class = ?, next_try_at = ?, updated_at = ? WHERE account = ? AND mention_id = ? AND decision = 'answer'",
                  [.integer(countsAsTry ? 1 : 0), .text(error), .text(errorClass), .integer(retryAt), .integer(now), .text(account), .text(mentionId)])
    }

    /// The reply was refused for good; `reason` stays with the mention.
    public func markReplyFailed(account: String, mentionId: String, reason: String, errorClass: String, now: Int64) throws(StoreError) {
        try write("UPDATE mentions SET decision = 'failed', reason = ?, last_error = ?, last_error_class = ?, tries = tries + 1, next_try_at = NULL, updated_at = ? WHERE account = ? AND mention_id = ?",
                  [.text(reason), .text(reason), .text(errorClass), .integer(now), .text(account), .text(mentionId)])
    }

    /// Mentions by decision, plus `retrying`: mentions to answer that have failed at least once.
    public func mentionCounts() throws(StoreError) -> [String: Int] {
        var out: [String: Int] = [:]
        for r in try query("SELECT decision, COUNT(*), SUM(tries > 0) FROM mentions GROUP BY decision", []) {
            out[r.text(0)!] = Int(r.int(1)!)
            if r.text(0) == "answer" { out["retrying"] = Int(r.int(2) ?? 0) }
        }
        return out
    }

    /// The account's mentions, most recently seen first.
    public func mentions(account: String?, limit: Int) throws(StoreError) -> [StoredMention] {
        try query("SELECT \(Self.mentionColumns) FROM mentions WHERE (?1 IS NULL OR account = ?1) ORDER BY seen_at DESC, mention_id LIMIT ?2",
                  [account.sql, .integer(Int64(limit))]).map(Self.mention)
    }
}
