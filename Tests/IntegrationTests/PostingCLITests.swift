import Glibc
import Testing
import SteadyCore
import SteadyPlatforms
import SteadySystem

/// `steadypost post | jobs | show | cancel` against a running daemon and the simulator
/// (INTERFACE.md shapes and exit codes: 0 ok, 1 refused, 2 usage).
@Suite("posting CLI", .serialized, .timeLimit(.minutes(2)))
struct PostingCLITests {
    @Test("the CLI round trip: post, jobs --json, show, cancel; cancel after an attempt is refused; batches are all or nothing")
    func cliRoundTrip() throws {
        let sim = try SimulatorProcess()
        defer { sim.stop() }
        let d = try DaemonProcess(sim: sim, accounts: [(.x, "cli-x", nil), (.mastodon, "cli-m", nil)])
        defer { d.cleanUp() }
        try d.start()

        // post (now) → its id; it posts.
        let now = d.cli(["post", "--account", "cli-x", "CLI posts now"])
        #expect(now.code == 0, "\(now.stderr)")
        let nowId = now.stdout.trimmed
        #expect(nowId.hasPrefix("p_"))
        try d.waitStates([nowId], "posted")

        // post --at (ISO 8601) and --in: scheduled.
        let later = d.cli(["post", "--account", "cli-m", "--at", "2099-01-02T03:04:05Z", "CLI posts in 2099"])
        #expect(later.code == 0, "\(later.stderr)")
        let laterId = later.stdout.trimmed
        let soon = d.cli(["post", "--account", "cli-m", "--in", "2h", "CLI posts in two hours"])
        #expect(soon.code == 0, "\(soon.stderr)")
        let soonId = soon.stdout.trimmed

        // status shows the posting figures from the worker's heartbeats: two posts waiting.
        _ = try? d.waitFor("queue depth 2", timeoutMillis: 15_000) { $0.queue_depth == 2 ? true : nil }
        let st = try JSON.parse(d.cli(["status", "--json"]).stdout)
        let depth = st["queue_depth"]?.int
        let unknownPosts = st["unknown_posts"]?.int
        #expect(depth == 2, "status queue_depth")
        #expect(unknownPosts == 0)
        #expect(d.cli(["status"]).stdout.contains("queue depth: 2"))

        // jobs --json: INTERFACE.md's shape.
        let jobs = d.cli(["jobs", "--json"])
        #expect(jobs.code == 0, "\(jobs.stderr)")
        let rows = try JSON.parse(jobs.stdout).array ?? []
        #expect(rows.count == 3)
        for row in rows {
            for key in ["id", "account", "state", "due_at", "platform_id", "attempts", "last_error"] {
                #expect(row[key] != nil, "jobs --json row lacks \(key): \(row.serialized)")
            }
        }
        let byId = Dictionary(uniqueKeysWithValues: rows.map { ($0["id"]!.string!, $0) })
        #expect(byId[laterId]?["due_at"]?.string == "2099-01-02T03:04:05.000Z")
        #expect(byId[laterId]?["state"]?.string == "scheduled")
        #expect(byId[nowId]?["state"]?.string == "posted")
        let truth = try sim.posts("cli-x")
        #expect(truth.count == 1)
        #expect(byId[nowId]?["platform_id"]?.string == truth.first?["id"]?.stringOrNumber)
        let filtered = try JSON.parse(d.cli(["jobs", "--state", "scheduled", "--account", "cli-m", "--json"]).stdout).array ?? []
        #expect(Set(filtered.compactMap { $0["id"]?.string }) == [laterId, soonId])
        let table = d.cli(["jobs"])
        #expect(table.code == 0 && table.stdout.contains(laterId) && table.stdout.contains("STATE"))
        #expect(d.cli(["jobs", "--state", "nonsense"]).code == 1)

        // show: the post with its attempts.
        let shown = d.cli(["show", nowId, "--json"])
        #expect(shown.code == 0, "\(shown.stderr)")
        let detail = try JSON.parse(shown.stdout)
        #expect(detail["text"]?.string == "CLI posts now")
        #expect(detail["attempt_log"]?.array?.count == 1)
        #expect(detail["attempt_log"]?[0]?["outcome"]?.string == "published")
        let human = d.cli(["show", nowId])
        #expect(human.code == 0 && human.stdout.contains("posted") && human.stdout.contains("#1"))
        #expect(d.cli(["show", "p_nosuchpost"]).code == 1)

        // cancel: before an attempt it works; after one it is refused.
        let cancelled = d.cli(["cancel", laterId])
        #expect(cancelled.code == 0, "\(cancelled.stderr)")
        #expect(try d.show(laterId)["state"]?.string == "cancelled")
        let refused = d.cli(["cancel", nowId])
        #expect(refused.code == 1)
        #expect(refused.stderr.contains("posted"), "\(refused.stderr)")
        #expect(try d.show(nowId)["state"]?.string == "posted")
        #expect(d.cli(["cancel", "p_nosuchpost"]).code == 1)

        // Refusals: unknown account, text over the platform's limit, bad time; usage errors.
        let unknown = d.cli(["post", "--account", "nobody", "hello"])
        #expect(unknown.code == 1 && unknown.stderr.contains("unknown account"), "\(unknown.stderr)")
        let long = d.cli(["post", "--account", "cli-x", String(repeating: "x", count: 281)])
        #expect(long.code == 1 && long.stderr.contains("too long"), "\(long.stderr)")
        let badTime = d.cli(["post", "--account", "cli-x", "--at", "tomorrow", "hello"])
        #expect(badTime.code == 1 && badTime.stderr.contains("ISO 8601"), "\(badTime.stderr)")
        #expect(d.cli(["post", "--account", "cli-x", "--at", "2099-01-01T00:00:00Z", "--in", "5m", "hello"]).code == 2)
        #expect(d.cli(["post", "--account", "cli-x"]).code == 2)

        // --file: all or nothing, errors name the line.
        let bad = d.dir.path + "/bad.jsonl"
        try Files.writeAtomically(bad, """
        {"text": "batch one", "at": "2099-05-01T00:00:00Z"}

        {"text": "batch two"}
        {"text": "\(String(repeating: "y", count: 300))"}
        """)
        let refusedBatch = d.cli(["post", "--account", "cli-x", "--file", bad])
        #expect(refusedBatch.code == 1)
        #expect(refusedBatch.stderr.contains("line 4"), "\(refusedBatch.stderr)")
        let malformed = d.dir.path + "/malformed.jsonl"
        try Files.writeAtomically(malformed, "{\"text\": \"fine\"}\n{\"txt\": \"oops\"}\n")
        let malformedOut = d.cli(["post", "--account", "cli-x", "--file", malformed])
        #expect(malformedOut.code == 1 && malformedOut.stderr.contains("line 2"), "\(malformedOut.stderr)")
        #expect(try d.jobs().count == 3, "nothing of a refused batch was scheduled")
        let good = d.dir.path + "/good.jsonl"
        try Files.writeAtomically(good, """
        {"text": "batch A", "at": "2099-05-01T00:00:00Z"}
        {"text": "batch B", "at": "2099-05-01T00:01:00+02:00"}
        {"text": "batch C now"}
        """)
        let batch = d.cli(["post", "--account", "cli-x", "--file", good])
        #expect(batch.code == 0, "\(batch.stderr)")
        let batchIds = batch.stdout.split(separator: "\n").map(String.init)
        #expect(batchIds.count == 3)
        #expect(try d.show(batchIds[1])["due_at"]?.string == "2099-04-30T22:01:00.000Z")
        try d.waitStates([batchIds[2]], "posted")
        // The platform saw exactly what was due: two posts, never a cancelled or future one.
        #expect(try sim.posts("cli-x").compactMap { $0["text"]?.string } == ["CLI posts now", "batch C now"])
        #expect(try sim.posts("cli-m").isEmpty)
    }
}

extension String {
    var trimmed: String { String(drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed()) }
}
