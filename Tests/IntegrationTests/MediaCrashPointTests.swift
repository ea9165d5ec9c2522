import Testing
import SteadyCore
import SteadyPlatforms
import SteadyTestSupport

/// The crash-point matrix extended to media (`STEADYPOST_FAULTS`): the posting worker
/// SIGKILLs itself between X segments, after the uploads before the create, and after the
/// create was sent, on each platform; the restarted worker resumes, reuses or verifies.
@Suite("media crash points", .serialized, .timeLimit(.minutes(4)))
struct MediaCrashPointTests {
    @Test("F04 (media): SIGKILL between X segments, after the uploads before the create, after the create (x, mastodon, bluesky) → each post once with all its media; stored uploads resumed and reused, never repeated")
    func f04_mediaCrashMatrix() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let entries = ["crash:between_segments@mc-x", "crash:after_uploads@mc-x", "crash:after_send@mc-x",
                       "crash:after_uploads@mc-m", "crash:after_send@mc-m", "crash:after_uploads@mc-b", "crash:after_send@mc-b"]
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "mc-x", nil), (.mastodon, "mc-m", nil), (.bluesky, "mc-b", nil)],
                                  concurrency: 1, leaseMillis: 3_000,
                                  environment: ["STEADYPOST_FAULTS=\(entries.joined(separator: ","))", "STEADYPOST_POSTING_SETTLE_MS=1500"],
                                  postingWorker: CrashPointTests.restartFreely)
        defer { d.cleanUp() }
        let video = MediaFixture.Item(bytes: MediaFixture.mp4(2_500_000, seed: 11), alt: "crash clip")
        // Per account in due order: the X video meets between_segments first.
        let posts = [
            MediaFixture.Scheduled(account: "mc-x", platform: .x, text: "crash X video", media: [video]),
            MediaFixture.Scheduled(account: "mc-x", platform: .x, text: "crash X images one", media: MediaFixture.images("cx1", seed: 21)),
            MediaFixture.Scheduled(account: "mc-x", platform: .x, text: "crash X images two", media: MediaFixture.images("cx2", seed: 22)),
            MediaFixture.Scheduled(account: "mc-m", platform: .mastodon, text: "crash Mastodon video", media: [video]),
            MediaFixture.Scheduled(account: "mc-m", platform: .mastodon, text: "crash Mastodon images", media: MediaFixture.images("cm", seed: 23)),
            MediaFixture.Scheduled(account: "mc-b", platform: .bluesky, text: "crash Bluesky images one", media: MediaFixture.images("cb1", seed: 24)),
            MediaFixture.Scheduled(account: "mc-b", platform: .bluesky, text: "crash Bluesky images two", media: MediaFixture.images("cb2", seed: 25)),
        ]
        let ids = try d.insertMediaPosts(posts)
        try d.start()
        let firstPid = try d.postingPid()
        let posted = try d.waitMediaStates(ids, "posted", timeoutMillis: 150_000)
        let fired = d.firedFaults()
        for entry in entries { #expect(fired[entry] != nil, "\(entry) never fired: \(fired)") }
        #expect(try d.postingPid() != firstPid, "the worker was restarted")
        for (post, id) in zip(posts, ids) {
            try sim.checkLanded(post, context: "media matrix")
            #expect(posted[id]?["platform_id"]?.string == (try sim.platformId(post.account, text: post.text)), "\(id) records its post")
        }
        // The video's X upload was resumed at its next segment, and no finished upload was
        // made again: one upload per attachment.
        #expect(fired["crash:between_segments@mc-x"] == ids[0], "the video met the segment crash")
        let xUploads = try sim.uploads("mc-x").count, mastodonUploads = try sim.uploads("mc-m").count
        #expect(xUploads == 1 + 4 + 4, "X uploads: \(xUploads)")
        #expect(mastodonUploads == 1 + 4, "Mastodon uploads: \(mastodonUploads)")
        // After the create was sent, the lost answer was verified (with its media), not re-sent.
        for entry in entries where entry.contains("after_send") {
            guard let victim = fired[entry] else { continue }
            let detail = try d.show(victim)
            let log = detail["attempt_log"]?.array ?? []
            let verified = (log.first?["detail"]?.string ?? "").contains("verified published")
            #expect(log.map { $0["outcome"]?.string ?? "none" } == ["published"] && verified, "\(entry): verified, \(detail.serialized)")
        }
        #expect(try d.jobs(state: "parked").isEmpty)
    }
}
