import Testing
import SteadyCore
import SteadyPlatforms
import SteadyStore
import SteadyTestSupport

/// Posts with media through the real supervisor, posting worker and simulator: the uploads
/// (streamed from the daemon's media store), their handles kept under the posting contract,
/// the create naming them. The simulator's ground truth decides: each post once, its media
/// by SHA-256 in order, with alt text.
@Suite("media uploads", .serialized, .timeLimit(.minutes(3)))
struct MediaPostingTests {
    @Test("each platform: 4 images (X, Mastodon, Bluesky) and 1 video (X in 3 segments, Mastodon, Bluesky as app.bsky.embed.video) land once, all media in order with alt text")
    func imagesAndVideoOnEachPlatform() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "md-x", nil), (.mastodon, "md-m", nil), (.bluesky, "md-b", nil)])
        defer { d.cleanUp() }
        // 2.5 MB: three segments of the default 1 MiB chunk on X.
        let video = MediaFixture.Item(bytes: MediaFixture.mp4(2_500_000, seed: 7), alt: "a short clip")
        let posts = [
            MediaFixture.Scheduled(account: "md-x", platform: .x, text: "four images on X", media: MediaFixture.images("x", seed: 1)),
            MediaFixture.Scheduled(account: "md-x", platform: .x, text: "a video on X", media: [video]),
            MediaFixture.Scheduled(account: "md-m", platform: .mastodon, text: "four images on Mastodon", media: MediaFixture.images("m", seed: 2)),
            MediaFixture.Scheduled(account: "md-m", platform: .mastodon, text: "a video on Mastodon", media: [video]),
            MediaFixture.Scheduled(account: "md-b", platform: .bluesky, text: "four images on Bluesky", media: MediaFixture.images("b", seed: 3)),
            MediaFixture.Scheduled(account: "md-b", platform: .bluesky, text: "a video on Bluesky", media: [video]),
        ]
        let ids = try d.insertMediaPosts(posts)
        try d.start()
        let posted = try d.waitMediaStates(ids, "posted", timeoutMillis: 60_000)
        for (post, id) in zip(posts, ids) {
            try sim.checkLanded(post, context: "media")
            #expect(posted[id]?["platform_id"]?.string == (try sim.platformId(post.account, text: post.text)))
        }
        // X: one upload per attachment, the video's in three APPENDs (one segment per request).
        let xUploads = try sim.uploads("md-x")
        #expect(xUploads.count == 5, "\(xUploads)")
        let appends = try sim.requests(pathPrefix: "/2/media/upload").filter { $0["method"]?.string == "POST" }
        #expect(appends.count == 4 * 3 + (2 + 3), "X: INIT and FINALIZE per image (and one APPEND), INIT, 3 APPENDs and FINALIZE for the video: \(appends.count)")
        let mastodonVideo = try sim.posts("md-m").first { $0["text"]?.string == "a video on Mastodon" }?["media"]?.array?.first
        #expect(mastodonVideo?["type"]?.string == "video")
        let blueskyVideo = try sim.posts("md-b").first { $0["text"]?.string == "a video on Bluesky" }?["media"]?.array?.first
        #expect(blueskyVideo?["type"]?.string == "video")
    }

    @Test("F02 (uploads): a lost upload answer and a 503 on upload are repeated, not verified; slow processing is polled to the end before the create (never a 422); each post lands once with its media")
    func f02_uploadFaultsRepeated() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "uf-x", nil), (.mastodon, "uf-m", nil), (.bluesky, "uf-b", nil)],
                                  environment: ["STEADYPOST_POSTING_SETTLE_MS=1500"])
        defer { d.cleanUp() }
        try sim.fault("lose-response", account: "uf-x", endpoint: "upload", count: 2)
        try sim.fault("error-before", account: "uf-b", endpoint: "upload", count: 1, extra: [("status", JSON(503))])
        try sim.fault("slow-processing", account: "uf-m", endpoint: "upload", count: 1, extra: [("polls", JSON(3))])
        let posts = [
            MediaFixture.Scheduled(account: "uf-x", platform: .x, text: "X upload answer lost", media: MediaFixture.images("ux", seed: 4)),
            MediaFixture.Scheduled(account: "uf-b", platform: .bluesky, text: "Bluesky upload 503", media: MediaFixture.images("ub", seed: 5)),
            MediaFixture.Scheduled(account: "uf-m", platform: .mastodon, text: "Mastodon slow processing", media: MediaFixture.images("um", seed: 6)),
        ]
        let ids = try d.insertMediaPosts(posts)
        try d.start()
        let posted = try d.waitMediaStates(ids, "posted", timeoutMillis: 90_000)
        for post in posts { try sim.checkLanded(post, context: "upload faults") }
        let faults = try sim.call(.get, "/_sim/faults")["faults"]?.array ?? []
        #expect(faults.allSatisfy { ($0["fired"]?.int ?? 0) >= 1 }, "every fault fired: \(faults)")
        for id in ids {
            // An upload failure is no attempt: one attempt, which published, never verified.
            let detail = try d.show(id)
            let log = detail["attempt_log"]?.array ?? []
            let verified = (log.first?["detail"]?.string ?? "").contains("verified published")
            #expect(log.map { $0["outcome"]?.string ?? "none" } == ["published"] && !verified, "\(id): \(detail.serialized)")
            #expect(posted[id]?["state"]?.string == "posted")
        }
        // Polled until processed: the create was never refused for unfinished processing.
        let creates = try sim.requests(pathPrefix: "/api/v1/statuses").filter { $0["method"]?.string == "POST" }
        #expect(creates.map { $0["status"]?.int ?? 0 } == [200], "\(creates)")
        // Three polls to finish: two answered 206 (processing), the third 200.
        let polls = try sim.requests(pathPrefix: "/api/v1/media/").map { $0["status"]?.int ?? 0 }
        #expect(polls == [206, 206, 200], "\(polls)")
    }

    @Test("a processing failure fails the post with the reason; nothing is posted")
    func processingFailureFailsPost() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "pf-x", nil), (.mastodon, "pf-m", nil)])
        defer { d.cleanUp() }
        try sim.fault("processing-failure", account: "pf-x", endpoint: "upload", count: 1)
        try sim.fault("processing-failure", account: "pf-m", endpoint: "upload", count: 1)
        let video = MediaFixture.Item(bytes: MediaFixture.mp4(300_000, seed: 3), alt: nil)
        let posts = [
            MediaFixture.Scheduled(account: "pf-x", platform: .x, text: "X video that fails processing", media: [video]),
            MediaFixture.Scheduled(account: "pf-m", platform: .mastodon, text: "Mastodon video that fails processing", media: [video]),
        ]
        let ids = try d.insertMediaPosts(posts)
        try d.start()
        let failed = try d.waitMediaStates(ids, "failed", timeoutMillis: 30_000)
        for (post, id) in zip(posts, ids) {
            #expect(try sim.posts(post.account).isEmpty, "nothing posted on \(post.account)")
            let shown = try d.show(id)
            let reason = failed[id]?["last_error"]?.string ?? shown["last_error"]?.string ?? ""
            #expect(reason.contains("processing failed"), "\(id): \(reason)")
        }
        #expect(try sim.requests(pathPrefix: "/2/tweets").filter { $0["method"]?.string == "POST" }.isEmpty, "no X create was sent")
        #expect(try sim.requests(pathPrefix: "/api/v1/statuses").filter { $0["method"]?.string == "POST" }.isEmpty, "no Mastodon create was sent")
    }

    @Test("an expired X upload is uploaded again: one expired by its stored expiry (finished or not), and one the platform no longer knows (the create's refusal is noEffect, the handles dropped)")
    func expiredXUploadReuploaded() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "ex-x", nil)])
        defer { d.cleanUp() }
        let images = MediaFixture.images("ex", seed: 8)
        let stale = MediaFixture.Scheduled(account: "ex-x", platform: .x, text: "X upload expired", media: Array(images.prefix(2)))
        let forgotten = MediaFixture.Scheduled(account: "ex-x", platform: .x, text: "X upload forgotten", media: Array(images.suffix(1)))
        let ids = try d.insertMediaPosts([stale, forgotten])
        let now = SteadyClock.wallMillis()
        // Handles the platform never gave (or forgot): a create naming one is refused.
        try d.insertMediaUploads([
            MediaUpload(postId: ids[0], position: 0, sha256: stale.media[0].sha256, handle: "990001", complete: true, expiresAt: now - 1, updatedAt: now - 10),
            MediaUpload(postId: ids[0], position: 1, sha256: stale.media[1].sha256, handle: "990002", progress: "1", complete: false,
                        expiresAt: now - 1, updatedAt: now - 10),
            MediaUpload(postId: ids[1], position: 0, sha256: forgotten.media[0].sha256, handle: "990003", complete: true,
                        expiresAt: now + 86_400_000, updatedAt: now - 10),
        ])
        try d.start()
        try d.waitMediaStates(ids, "posted", timeoutMillis: 40_000)
        try sim.checkLanded(stale, context: "expired")
        try sim.checkLanded(forgotten, context: "forgotten")
        #expect(try sim.uploads("ex-x").count == 3, "all three uploaded again")
        let log = (try d.show(ids[1]))["attempt_log"]?.array ?? []
        #expect(log.map { $0["outcome"]?.string ?? "none" } == ["noEffect", "published"], "\(log)")
    }

    @Test("F05 (media): verification matches the media too: a text-only post with the same text on the timeline is not taken for the lost post with media")
    func f05_verificationMatchesMedia() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.mastodon, "vm-m", nil)], environment: ["STEADYPOST_POSTING_SETTLE_MS=1500"])
        defer { d.cleanUp() }
        let post = MediaFixture.Scheduled(account: "vm-m", platform: .mastodon, text: "same words, other media", media: Array(MediaFixture.images("vm", seed: 9).prefix(2)))
        // Someone posted the same words without media; our create lands but its answer is lost.
        let other = try sim.inject("vm-m", post.text)
        try sim.fault("lose-response", account: "vm-m")
        let id = try d.insertMediaPosts([post])[0]
        try d.start()
        let done = try d.waitMediaStates([id], "posted", timeoutMillis: 30_000)[id]
        let ours = try sim.posts("vm-m").first { !($0["media"]?.array ?? []).isEmpty }?["id"]?.stringOrNumber
        #expect(ours != nil && ours != other)
        #expect(done?["platform_id"]?.string == ours, "verified as the post with its media, not \(other)")
        let log = (try d.show(id))["attempt_log"]?.array ?? []
        #expect(log.first?["detail"]?.string?.contains("verified published") == true, "\(log)")
        let postingDuplicates = d.log().split(separator: "\n").filter { $0.contains("steadypost-posting") && $0.contains("DUPLICATE") }
        #expect(postingDuplicates.isEmpty, "verification found one match, not two: \(postingDuplicates)")
        #expect(try sim.posts("vm-m").count == 2, "sent once")
    }

    @Test("F21 (uploads): a token that expires at the upload is refreshed once and the uploads go on; each post lands in one attempt, no account paused")
    func f21_tokenExpiresAtUpload() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "ta-x", nil), (.bluesky, "ta-b", nil)])
        defer { d.cleanUp() }
        try sim.fault("token-expired", account: "ta-x", endpoint: "upload", count: 1)
        try sim.fault("token-expired", account: "ta-b", endpoint: "upload", count: 1)
        let posts = [
            MediaFixture.Scheduled(account: "ta-x", platform: .x, text: "X token expires at the upload", media: MediaFixture.images("tx", seed: 12)),
            MediaFixture.Scheduled(account: "ta-b", platform: .bluesky, text: "Bluesky token expires at the upload", media: MediaFixture.images("tb", seed: 13)),
        ]
        let ids = try d.insertMediaPosts(posts)
        try d.start()
        try d.waitMediaStates(ids, "posted", timeoutMillis: 30_000)
        for post in posts { try sim.checkLanded(post, context: "token at upload") }
        for id in ids {
            let log = (try d.show(id))["attempt_log"]?.array ?? []
            #expect(log.map { $0["outcome"]?.string ?? "none" } == ["published"], "\(log)")
        }
        let faults = try sim.call(.get, "/_sim/faults")["faults"]?.array ?? []
        #expect(faults.allSatisfy { $0["fired"]?.int == 1 }, "\(faults)")
        #expect(try d.accounts().allSatisfy { $0["paused_until"] == nil || $0["paused_until"] == .null }, "no account paused")
    }
}
