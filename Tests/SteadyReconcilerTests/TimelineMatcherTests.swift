import Testing
import SteadyPlatforms
@testable import SteadyStore
@testable import SteadyReconciler

/// The reconciler's matching, without a platform or a store: which timeline post is which
/// post here, what gets fixed, what is foreign, what is a duplicate (F26, F30).
@Suite("timeline matcher", .timeLimit(.minutes(1)))
struct TimelineMatcherTests {
    static func candidate(_ id: String, _ text: String, _ state: PostState, platformId: String? = nil, attemptAt: Int64? = 10_000,
                          attemptPlatformId: String? = nil, idempotencyKey: String = "k") -> ReconcileCandidate {
        let post = Post(id: id, account: "a", platform: "x", kind: "post", text: text, inReplyTo: nil, contentHash: ContentNormalizer.hash(text),
                        dueAt: 0, state: state, createdAt: 0, updatedAt: 0, leaseOwner: nil, leaseExpiresAt: nil, nextTryAt: nil,
                        attempts: attemptAt == nil ? 0 : 1, leaseLosses: 0, platformId: platformId, lastError: nil, lastErrorClass: nil)
        let attempts = attemptAt.map {
            [Attempt(id: "a_" + id, postId: id, number: 1, startedAt: $0, finishedAt: nil, idempotencyKey: idempotencyKey, contentHash: post.contentHash,
                     adapter: "x", account: "a", outcome: nil, detail: nil, platformId: attemptPlatformId)]
        } ?? []
        return ReconcileCandidate(post: post, attempts: attempts)
    }

    static func remote(_ id: String, _ text: String, at: Int64 = 10_500, recordKey: String? = nil) -> RemotePost {
        RemotePost(id: id, text: text, createdAtMs: at, recordKey: recordKey)
    }

    @Test("F26: a failed post live on the platform is adopted by content hash (t.co and whitespace tolerated)")
    func failedButLiveAdopted() {
        let plan = TimelineMatcher.plan(timeline: [Self.remote("111", "hello  https://t.co/abc")],
                                        candidates: [Self.candidate("p1", "hello https://example.com/x", .failed)], knownForeign: [], slackMs: 60_000)
        #expect(plan.fixes == [TimelineMatcher.Fix(postId: "p1", platformId: "111", from: .failed, evidence: .contentHash, adopted: true)])
        #expect(plan.foreignNew.isEmpty && plan.duplicates.isEmpty)
    }

    @Test("F30/F05: the same words with other attachments are neither a duplicate nor a match: a text-only twin does not decide a post with an image")
    func mediaSetsPostsApart() {
        var illustrated = Self.candidate("p1", "launch day", .unknown, attemptAt: 10_000)
        illustrated.mediaKinds = [.image]
        let plain = RemotePost(id: "1", text: "launch day", createdAtMs: 10_100, media: [])
        let withImage = RemotePost(id: "2", text: "launch day", createdAtMs: 10_200, media: [.image])
        let onlyPlain = TimelineMatcher.plan(timeline: [plain], candidates: [illustrated], knownForeign: [], slackMs: 60_000)
        #expect(onlyPlain.fixes.isEmpty, "a text-only post is not the lost post with an image")
        #expect(onlyPlain.unknownNotFound == ["p1"])
        let both = TimelineMatcher.plan(timeline: [plain, withImage], candidates: [illustrated], knownForeign: [], slackMs: 60_000)
        #expect(both.fixes.map(\.platformId) == ["2"])
        #expect(both.duplicates.isEmpty, "two posts with the same words, one illustrated, are two posts")
        let twice = TimelineMatcher.plan(timeline: [withImage, RemotePost(id: "3", text: "launch day", createdAtMs: 10_300, media: [.image])],
                                         candidates: [], knownForeign: [], slackMs: 0)
        #expect(twice.duplicates.map(\.platformIds) == [["2", "3"]])
    }

    @Test("an unknown post whose attempt recorded the id is decided by platform id")
    func unknownByAttemptId() {
        let plan = TimelineMatcher.plan(timeline: [Self.remote("222", "other text entirely")],
                                        candidates: [Self.candidate("p1", "x", .unknown, attemptPlatformId: "222")], knownForeign: [], slackMs: 0)
        #expect(plan.fixes.first?.evidence == .platformId && plan.fixes.first?.from == .unknown)
        #expect(plan.unknownNotFound.isEmpty)
    }

    @Test("a parked Bluesky post is found by its attempt's record key, whatever the text")
    func parkedByRecordKey() {
        let c = Self.candidate("p1", "text", .parked)
        let rkey = AttemptKey(attemptId: c.attempts[0].id, startedAtMicros: c.attempts[0].startedAt * 1000).blueskyRecordKey
        let plan = TimelineMatcher.plan(timeline: [Self.remote("at://did/app.bsky.feed.post/\(rkey)", "edited elsewhere", recordKey: rkey)],
                                        candidates: [c], knownForeign: [], slackMs: 0)
        #expect(plan.fixes.first?.evidence == .recordKey && plan.fixes.first?.from == .parked)
    }

    @Test("posted, scheduled and attempting posts are never touched; unmatched timeline posts are foreign")
    func notTouched() {
        let plan = TimelineMatcher.plan(
            timeline: [Self.remote("1", "posted one"), Self.remote("2", "scheduled one"), Self.remote("3", "in flight"), Self.remote("4", "known foreign")],
            candidates: [Self.candidate("p1", "posted one", .posted, platformId: "1"), Self.candidate("p2", "scheduled one", .scheduled),
                         Self.candidate("p3", "in flight", .attempting)],
            knownForeign: ["4"], slackMs: 60_000)
        #expect(plan.fixes.isEmpty)
        #expect(plan.known == 1)
        #expect(plan.foreignNew.map(\.id) == ["2", "3"])
        #expect(plan.foreignKnown == 1)
    }

    @Test("a timeline post older than the post's first attempt (less the slack) is not that post")
    func tooEarly() {
        let plan = TimelineMatcher.plan(timeline: [Self.remote("9", "same", at: 1_000)], candidates: [Self.candidate("p1", "same", .failed, attemptAt: 100_000)],
                                        knownForeign: [], slackMs: 60_000)
        #expect(plan.fixes.isEmpty && plan.foreignNew.map(\.id) == ["9"])
    }

    @Test("F30: two identical posts are one duplicate finding with both ids, ours named; one adopted, the other foreign")
    func duplicates() {
        let plan = TimelineMatcher.plan(timeline: [Self.remote("31", "dup text", at: 10_100), Self.remote("30", "dup  text", at: 10_050)],
                                        candidates: [Self.candidate("p1", "dup text", .failed)], knownForeign: [], slackMs: 60_000)
        #expect(plan.duplicates == [TimelineMatcher.Duplicate(contentHash: ContentNormalizer.hash("dup text"), platformIds: ["30", "31"], postId: "p1")])
        #expect(plan.fixes.count == 1 && plan.foreignNew.count == 1)
    }

    @Test("F26: after the fixes are applied, the same timeline plans nothing (idempotent)")
    func secondRunChangesNothing() {
        let timeline = [Self.remote("1", "a post"), Self.remote("2", "orphan")]
        var candidates = [Self.candidate("p1", "a post", .failed)]
        let first = TimelineMatcher.plan(timeline: timeline, candidates: candidates, knownForeign: [], slackMs: 60_000)
        #expect(first.fixes.count == 1 && first.foreignNew.map(\.id) == ["2"])
        candidates[0].post.state = .posted
        candidates[0].post.platformId = first.fixes[0].platformId
        let second = TimelineMatcher.plan(timeline: timeline, candidates: candidates, knownForeign: Set(first.foreignNew.map(\.id)), slackMs: 60_000)
        #expect(second.fixes.isEmpty && second.foreignNew.isEmpty)
        #expect(second.known == 1 && second.foreignKnown == 1)
    }

    @Test("an unknown post found live but attempted within the grace is left to the posting worker, neither fixed nor foreign")
    func unknownWithinGrace() {
        let timeline = [Self.remote("5", "fresh unknown")]
        let candidates = [Self.candidate("p1", "fresh unknown", .unknown, attemptAt: 10_000)]
        let early = TimelineMatcher.plan(timeline: timeline, candidates: candidates, knownForeign: [], slackMs: 60_000, unknownSettledBefore: 9_999)
        #expect(early.fixes.isEmpty && early.foreignNew.isEmpty && early.unknownDeferred == ["p1"] && early.unknownNotFound.isEmpty)
        let late = TimelineMatcher.plan(timeline: timeline, candidates: candidates, knownForeign: [], slackMs: 60_000, unknownSettledBefore: 10_000)
        #expect(late.fixes.map(\.postId) == ["p1"] && late.unknownDeferred.isEmpty)
    }

    @Test("an unknown post the timeline does not show is left to the posting worker's verification")
    func unknownNotFound() {
        let plan = TimelineMatcher.plan(timeline: [], candidates: [Self.candidate("p1", "never landed", .unknown)], knownForeign: [], slackMs: 0)
        #expect(plan.unknownNotFound == ["p1"] && plan.fixes.isEmpty)
    }

    @Test("with two failed posts of one text, each timeline copy goes to the nearest attempt")
    func nearestAttempt() {
        let plan = TimelineMatcher.plan(timeline: [Self.remote("late", "t", at: 50_000), Self.remote("early", "t", at: 10_100)],
                                        candidates: [Self.candidate("p1", "t", .failed, attemptAt: 10_000), Self.candidate("p2", "t", .failed, attemptAt: 49_900)],
                                        knownForeign: [], slackMs: 1_000)
        #expect(Set(plan.fixes.map { "\($0.postId)=\($0.platformId)" }) == ["p1=early", "p2=late"])
    }
}
