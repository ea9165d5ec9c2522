import Testing
import CSQLite
import SteadyCore
import SteadyStore

@Suite("mentions in the store", .timeLimit(.minutes(1)))
struct MentionStoreTests {
    static func mention(_ id: String, account: String = "acct", decision: StoredMention.Decision = .answer, seen: Int64 = 1_000) -> StoredMention {
        StoredMention(account: account, mentionId: id, postId: "post-" + id, authorId: "7", authorHandle: "alice", text: "@acct hi",
                      createdAt: seen - 10, seenAt: seen, decision: decision, reason: decision == .ignored ? "a rule" : nil)
    }

    @Test("a mention is recorded once per account and platform id; seen ids are found")
    func seenOnce() throws {
        let tmp = try TempStore()
        #expect(try tmp.store.insertMention(Self.mention("m1")))
        #expect(try tmp.store.insertMention(Self.mention("m1", decision: .ignored)) == false)
        #expect(try tmp.store.insertMention(Self.mention("m1", account: "other")))
        #expect(try tmp.store.mention(account: "acct", mentionId: "m1")?.decision == .answer, "the first record stays")
        #expect(try tmp.store.seenMentionIds(account: "acct", among: ["m1", "m2"]) == ["m1"])
        #expect(try tmp.store.mentionsToAnswer(now: 1_000, limit: 10).count == 2)
    }

    @Test("F18 (store): the hourly reply quota counts reservations once per mention, and an unreadable quota throws")
    func testF18_quotaFailsClosedInTheStore() throws {
        let tmp = try TempStore()
        let hour: Int64 = 3_600_000
        #expect(try tmp.store.reserveReply(account: "acct", mentionId: "m1", limit: 2, windowMillis: hour, now: 1_000) == .reserved)
        #expect(try tmp.store.reserveReply(account: "acct", mentionId: "m1", limit: 2, windowMillis: hour, now: 1_500) == .reserved, "a retry keeps its place")
        #expect(try tmp.store.reserveReply(account: "acct", mentionId: "m2", limit: 2, windowMillis: hour, now: 2_000) == .reserved)
        #expect(try tmp.store.reserveReply(account: "acct", mentionId: "m3", limit: 2, windowMillis: hour, now: 3_000) == .full(until: 1_000 + hour))
        #expect(try tmp.store.reserveReply(account: "other", mentionId: "m3", limit: 2, windowMillis: hour, now: 3_000) == .reserved, "per account")
        #expect(try tmp.store.reserveReply(account: "acct", mentionId: "m3", limit: 2, windowMillis: hour, now: 1_000 + hour) == .reserved, "the window slides")
        #expect(try tmp.store.repliesReserved(account: "acct", since: 0) == 3)
        // The quota's table gone (a damaged or foreign schema): the call throws instead of
        // answering "room left".
        try SQLiteDatabase(path: tmp.path).execute("ALTER TABLE reply_quota RENAME TO reply_quota_gone")
        #expect(throws: StoreError.self) { try tmp.store.reserveReply(account: "acct", mentionId: "m9", limit: 100, windowMillis: hour, now: 5_000) }
    }

    @Test("a reply post is found by its target, so a lost enqueue answer is recorded, not repeated")
    func replyPostByTarget() throws {
        let tmp = try TempStore()
        #expect(try tmp.store.replyPost(account: "acct", inReplyTo: "post-m1") == nil)
        let posts = try tmp.store.insert([NewPost(account: "acct", platform: "mastodon", text: "@alice thanks", dueAt: 1, inReplyTo: "post-m1", contentHash: "h")], now: 1)
        #expect(try tmp.store.replyPost(account: "acct", inReplyTo: "post-m1") == posts[0].id)
        #expect(try tmp.store.replyPost(account: "other", inReplyTo: "post-m1") == nil)
        _ = try tmp.store.insertMention(Self.mention("m1"))
        try tmp.store.markReplyRetry(account: "acct", mentionId: "m1", error: "generator server: HTTP 500", errorClass: "generator-server", retryAt: 9_000, countsAsTry: true, now: 2_000)
        #expect(try tmp.store.mentionsToAnswer(now: 8_999, limit: 10).isEmpty)
        #expect(try tmp.store.mentionCounts()["retrying"] == 1)
        try tmp.store.markReplyEnqueued(account: "acct", mentionId: "m1", postId: posts[0].id, now: 9_000)
        let m = try #require(try tmp.store.mention(account: "acct", mentionId: "m1"))
        #expect(m.decision == .enqueued && m.replyPostId == posts[0].id && m.tries == 1 && m.lastError == nil)
        #expect(try tmp.store.mentionsToAnswer(now: .max, limit: 10).isEmpty)
    }
}
