import ArgumentParser
import FoundationEssentials
import SteadyControl
import SteadyCore
import SteadyJSON

/// `thread`: a chain of posts, sent to the posting worker as one `posting.create` with a
/// `thread` member (INTERFACE.md). Part 1 is due at `--at`/`--in` (default now); each later
/// part answers the one before it once that one is posted, `--gap` after it.
extension SteadypostCLI {
    struct ThreadCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "thread",
            abstract: "Schedule a thread: each TEXT a part, each part answering the one before, in order; prints the thread id.",
            discussion: "Every part is checked by the platform's rules before anything is stored; an error names the part. Part N+1 goes out only once part N is posted; a part that fails for good stops the rest. A batch file (post --file) takes threads as lines {\"thread\": [{\"text\", \"media\"?}, ...], \"at\"?, \"gap\"?}. `cancel THREAD_ID` cancels the parts not yet attempted.")
        @Option(help: "The account (a name from the config).") var account: String
        @Option(help: "When to post part 1: ISO 8601, e.g. 2026-05-01T09:30:00Z (a time without a zone is UTC).") var at: String?
        @Option(name: .customLong("in"), help: "When to post part 1, from now: e.g. 90s, 15m, 2h.") var after: String?
        @Option(help: "How long after a part is posted the next one goes out: e.g. 30s, 5m (default 0).") var gap: String?
        @Argument(help: "The parts' texts, in order.") var texts: [String] = []
        @OptionGroup var connection: Connection

        func validate() throws {
            // The parts and the gap are checked by the posting worker, the one place that
            // checks threads from every entry (CLI, batch lines, API), naming the part.
            guard !texts.isEmpty else { throw ValidationError("give the thread's parts: TEXT TEXT...") }
            if at != nil && after != nil { throw ValidationError("give --at or --in, not both") }
            if let after { _ = try PostCommand.dueAt(after: after) }
        }

        func run() throws {
            let client = try connection.client()
            var when: JSON?
            if let at { when = JSON(at) }
            if let after { when = JSON(try PostCommand.dueAt(after: after)) }
            let body = JSON.obj([
                ("account", JSON(account)), ("thread", .array(texts.map { JSON.obj([("text", JSON($0))]) })),
                ("at", when), ("gap", gap.map(JSON.init)),
            ]).bytes
            let answer = perform { () throws(ControlClientError) in try client.call(method: "posting.create", body: body) }
            if connection.json {
                writeOut(String(decoding: answer, as: UTF8.self) + "\n")
            } else {
                writeOut(try JSONDecoder().decode(ThreadAnswer.self, from: Data(answer)).thread_id + "\n")
            }
        }
    }
}

/// `{"thread_id", "state", "posts": [rows of its parts, in order]}`.
struct ThreadAnswer: Decodable {
    var thread_id: String
    var state: String?
    var posts: [JobRow]

    /// For `show THREAD_ID` and `cancel THREAD_ID`: one line per part.
    var text: String {
        let f = TerminalText.field
        var out = "thread:      \(f(thread_id))\nstate:       \(f(state ?? "-"))\n"
        for p in posts {
            out += "  part \(p.thread_position ?? 0): \(f(p.id)) \(f(p.state))"
            if let id = p.platform_id { out += " as \(f(id))" }
            if let e = p.last_error { out += ": \(f(String(e.prefix(100))))" }
            out += "\n"
        }
        return out
    }
}
