import Glibc
import Testing
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import SteadySystem
import SteadyTestSupport

/// `POST /api/media` through the real api worker, then a post naming the stored hash; and the
/// posting worker's sweep of unreferenced media.
@Suite("media over the API, and the sweep", .serialized, .timeLimit(.minutes(2)))
struct MediaAPITests {
    func upload(_ api: APIDaemon, token: String, _ bytes: [UInt8]) throws -> HTTPResponse {
        try api.http.send(HTTPRequest(method: .post, url: api.base + "/api/media",
                                      headers: ["Authorization": "Bearer \(token)", "Content-Type": "application/octet-stream"], body: bytes))
    }

    @Test("POST /api/media stores a raw body by its hash (415 for text, 400 for nothing, 401 without a token); a post names it")
    func uploadThenPost() throws {
        let api = try APIDaemon()
        defer { api.cleanUp() }
        let token = try api.createToken("media")
        let png = MediaSchedulingTests.png(300_000, seed: 3)
        let sha = MediaSchedulingTests.sha(png)

        let stored = try upload(api, token: token, png)
        #expect(stored.status == 201, "\(stored.text.prefix(300))")
        let item = try JSON.parse(stored.body)
        #expect(item["sha256"]?.string == sha && item["type"]?.string == "png" && item["bytes"]?.int == png.count)
        #expect(Files.exists("\(api.daemon.dir.path)/state/media/\(sha.prefix(2))/\(sha)"))

        let text = try upload(api, token: token, Array("a text file\n".utf8))
        #expect(text.status == 415 && text.text.contains("not an image or video"), "\(text.text)")
        let empty = try upload(api, token: token, [])
        #expect(empty.status == 400, "\(empty.text)")
        let anonymous = try api.http.send(HTTPRequest(method: .post, url: api.base + "/api/media", headers: [:], body: png))
        #expect(anonymous.status == 401)

        let post = JSON.obj([("account", JSON("news-x")), ("text", JSON("with a picture")), ("at", JSON("2099-01-01T00:00:00Z")),
                             ("media", .array([.obj([("sha256", JSON(sha)), ("alt", JSON("a test pattern"))])]))])
        let created = try api.json(.post, "/api/posts", token: token, body: post, expect: 201)
        #expect(created["media"]?[0]?["sha256"]?.string == sha)
        #expect(created["media"]?[0]?["alt"]?.string == "a test pattern")
        let id = try #require(created["id"]?.string)
        let read = try api.json(.get, "/api/posts/\(id)", token: token, expect: 200)
        #expect(read["media"]?.array?.count == 1)

        // A hash the store does not hold, and five images on X: 400 naming the rule; nothing stored.
        let unknown = String(repeating: "ab", count: 32)
        let missing = try api.send(.post, "/api/posts", token: token, body: .obj([("account", JSON("news-x")), ("text", JSON("x")),
                                                                              ("media", .array([.obj([("sha256", JSON(unknown))])]))]))
        #expect(missing.status == 400 && missing.text.contains("no media"), "\(missing.text)")
        let five = try api.send(.post, "/api/posts", token: token, body: .obj([("account", JSON("news-x")), ("text", JSON("x")),
                                                                           ("media", .array(Array(repeating: .obj([("sha256", JSON(sha))]), count: 5)))]))
        #expect(five.status == 400 && five.text.contains("X takes at most 4"), "\(five.text)")
        #expect(try api.daemon.jobs().count == 1)
    }

    /// Sets a file's modification time `seconds` into the past.
    static func age(_ path: String, seconds: Int) {
        var times = [timespec(tv_sec: time(nil) - seconds, tv_nsec: 0), timespec(tv_sec: time(nil) - seconds, tv_nsec: 0)]
        _ = utimensat(AT_FDCWD, path, &times, 0)
    }

    @Test("the posting worker's sweep removes old unreferenced media and keeps media a post names, however old")
    func sweepKeepsReferenced() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "sweep-x", nil)])
        defer { d.cleanUp() }
        try d.start()
        let files = TempDir("steadypost-media-sweep")
        try MediaSchedulingTests.write("\(files.path)/kept.png", MediaSchedulingTests.png(4_000, seed: 1))
        try MediaSchedulingTests.write("\(files.path)/dropped.png", MediaSchedulingTests.png(4_000, seed: 2))
        try MediaSchedulingTests.write("\(files.path)/young.png", MediaSchedulingTests.png(4_000, seed: 4))
        let kept = MediaSchedulingTests.sha(MediaSchedulingTests.png(4_000, seed: 1))
        let dropped = MediaSchedulingTests.sha(MediaSchedulingTests.png(4_000, seed: 2))
        let young = MediaSchedulingTests.sha(MediaSchedulingTests.png(4_000, seed: 4))
        let posted = d.cli(["post", "--account", "sweep-x", "--at", "2099-01-01T00:00:00Z", "--media", "\(files.path)/kept.png", "kept"])
        #expect(posted.code == 0, "\(posted.stderr)")
        // A put no post names: once with the post refused (so nothing references it), once plainly.
        let refused = d.cli(["post", "--account", "sweep-x", "--media", "\(files.path)/dropped.png", "--alt",
                             String(repeating: "a", count: 1_001), "alt text too long for X"])
        #expect(refused.code == 1, "\(refused.stderr)")
        #expect(d.cli(["post", "--account", "sweep-x", "--media", "\(files.path)/young.png", "--alt",
                       String(repeating: "a", count: 1_001), "young"]).code == 1)
        let path = { (sha: String) in "\(d.dir.path)/state/media/\(sha.prefix(2))/\(sha)" }
        for sha in [kept, dropped, young] { #expect(Files.exists(path(sha)), "stored: \(sha)") }
        // Both old enough to sweep but one (young) stays inside the grace.
        Self.age(path(kept), seconds: 30 * 86_400)
        Self.age(path(dropped), seconds: 30 * 86_400)

        // A new posting worker sweeps at its start.
        let restarted = d.cli(["restart", "posting"])
        #expect(restarted.code == 0, "\(restarted.stderr)")
        _ = try waitFor("the sweep to remove the unreferenced file", timeoutMillis: 20_000) { Files.exists(path(dropped)) ? nil : true }
        #expect(Files.exists(path(kept)), "a file a scheduled post names is kept, however old")
        #expect(Files.exists(path(young)), "a file younger than the grace is kept")
    }
}
