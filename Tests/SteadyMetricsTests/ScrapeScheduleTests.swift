import Testing
import SteadyBackground
import SteadyCore
import SteadyStore
@testable import SteadyMetrics

@Suite("metrics schedule and store", .timeLimit(.minutes(1)))
struct ScrapeScheduleTests {
    static let hour: Int64 = 3_600_000
    let schedule = ScrapeSchedule(offsetsMs: [hour, 6 * hour, 24 * hour, 72 * hour], maxTries: 3,
                                  backoff: Backoff(baseMillis: 60_000, maxMillis: 200_000))

    @Test("a new item's first step is one hour after posting; a late one takes the latest passed step now")
    func firstStep() {
        let posted: Int64 = 1_000_000
        #expect(schedule.first(postedAt: posted, now: posted + 5) == .step(0, at: posted + Self.hour))
        #expect(schedule.first(postedAt: posted, now: posted + Self.hour) == .step(0, at: posted + Self.hour))
        #expect(schedule.first(postedAt: posted, now: posted + 7 * Self.hour) == .step(1, at: posted + 7 * Self.hour))
        #expect(schedule.first(postedAt: posted, now: posted + 100 * Self.hour) == .step(3, at: posted + 100 * Self.hour))
    }

    @Test("after a sample the next step is at its own offset; after the last, done")
    func nextStep() {
        let posted: Int64 = 0
        #expect(schedule.next(after: 0, postedAt: posted, now: Self.hour + 10) == .step(1, at: 6 * Self.hour))
        #expect(schedule.next(after: 1, postedAt: posted, now: 30 * Self.hour) == .step(2, at: 30 * Self.hour))
        #expect(schedule.next(after: 3, postedAt: posted, now: 80 * Self.hour) == .done)
    }

    @Test("failed tries back off, doubling to the cap; the last try has no retry")
    func retries() {
        #expect(schedule.retryAt(afterTries: 1, now: 0) == 60_000)
        #expect(schedule.retryAt(afterTries: 2, now: 0) == 120_000)
        #expect(schedule.retryAt(afterTries: 3, now: 0) == nil)
        let b = Backoff(baseMillis: 60_000, maxMillis: 200_000)
        #expect([1, 2, 3, 4, 40].map { b.delay(afterTries: $0) } == [60_000, 120_000, 200_000, 200_000, 200_000])
    }

    @Test("F14 (store): a failing item is retried and, after its last try, marked failed with the reason — never dropped")
    func testF14_storeKeepsFailedItemsWithReason() throws {
        let tmp = try TempStore()
        let posted = try tmp.postedPost(text: "hello", platformId: "101", at: 1_000)
        let unscheduled = try tmp.store.unscheduledPostedItems(limit: 10)
        #expect(unscheduled.map(\.postId) == [posted.id])
        #expect(unscheduled.first?.postedAt == 1_000, "posted at the published attempt's end")
        guard case .step(let step, let at) = schedule.first(postedAt: 1_000, now: 2_000) else { Issue.record("no first step"); return }
        #expect(try tmp.store.scheduleMetrics(unscheduled[0], step: step, nextAt: at, now: 2_000))
        #expect(try tmp.store.scheduleMetrics(unscheduled[0], step: step, nextAt: at, now: 2_000) == false, "scheduled once")
        #expect(try tmp.store.unscheduledPostedItems(limit: 10).isEmpty)
        #expect(try tmp.store.dueMetricItems(now: at - 1, limit: 10).isEmpty)
        #expect(try tmp.store.dueMetricItems(now: at, limit: 10).map(\.postId) == [posted.id])

        // A sample moves it on; a repeated sample of the same step keeps the first.
        let sample = MetricSample(postId: posted.id, step: 0, takenAt: at, source: "api", likes: 3, reposts: 1, replies: 0, quotes: 0)
        try tmp.store.recordSample(sample, nextStep: 1, nextAt: at + 100, now: at)
        try tmp.store.recordSample(MetricSample(postId: posted.id, step: 0, takenAt: at + 1, source: "api", likes: 9, reposts: 9, replies: 9, quotes: 9),
                                   nextStep: 1, nextAt: at + 100, now: at + 1)
        #expect(try tmp.store.metricSamples(postId: posted.id).map(\.likes) == [3])

        // Step 1 fails twice, then for good.
        try tmp.store.recordScrapeFailure(postId: posted.id, error: "mastodon metrics: noEffect — HTTP 503", retryAt: at + 200, now: at + 100)
        var item = try #require(try tmp.store.metricItem(postId: posted.id))
        #expect(item.state == .active && item.tries == 1 && item.nextAt == at + 200)
        #expect(try tmp.store.metricItemCounts()["retrying"] == 1)
        try tmp.store.recordScrapeFailure(postId: posted.id, error: "mastodon metrics: noEffect — HTTP 503 again", retryAt: nil, now: at + 200)
        item = try #require(try tmp.store.metricItem(postId: posted.id))
        #expect(item.state == .failed)
        #expect(item.lastError == "mastodon metrics: noEffect — HTTP 503 again")
        #expect(item.failures == 2)
        #expect(try tmp.store.failedMetricItems(limit: 10).map(\.postId) == [posted.id])
        #expect(try tmp.store.metricItemCounts()["failed"] == 1)
        #expect(try tmp.store.dueMetricItems(now: .max, limit: 10).isEmpty, "a failed item is not scraped again")
    }
}
