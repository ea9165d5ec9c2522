import ArgumentParser
import FoundationEssentials
import Glibc
import SteadyConfig
import SteadyControl
import SteadyCore
import SteadyJSON

/// `post`, `jobs`, `show`, `cancel`: routed to the posting worker as `posting.create`,
/// `posting.list`, `posting.show` and `posting.cancel` (INTERFACE.md).
extension SteadypostCLI {
    struct PostCommand: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "post",
            abstract: "Schedule a post (default: now), or a batch from a JSON-lines file; prints the id(s).",
            discussion: "A batch file holds one JSON object a line: {\"text\", \"at\"?, \"reply_to\"?, \"media\"?: [{\"path\", \"alt\"?}]}, or a thread {\"thread\": [{\"text\", \"media\"?}, ...], \"at\"?, \"gap\"?}. It is all or nothing: an error names its line and nothing is scheduled. Media files are opened by this command and copied into the daemon's own store before it returns: the source may be deleted at once.")
        @Option(help: "The account (a name from the config).") var account: String
        @Option(help: "When to post: ISO 8601, e.g. 2026-05-01T09:30:00Z (a time without a zone is UTC).") var at: String?
        @Option(name: .customLong("in"), help: "When to post, from now: e.g. 90s, 15m, 2h.") var after: String?
        @Option(name: .customLong("reply-to"), help: "The platform id of the post to answer.") var replyTo: String?
        @Option(help: "A JSON-lines file of posts for this account.") var file: String?
        @Option(help: ArgumentHelp("An image, GIF or video to attach (repeatable; in this order).", valueName: "path")) var media: [String] = []
        @Option(help: ArgumentHelp("Alt text for the --media before it.", valueName: "text")) var alt: [String] = []
        @Argument(help: "The text.") var text: String?
        @OptionGroup var connection: Connection

        func validate() throws {
            if file != nil {
                guard text == nil, at == nil, after == nil, replyTo == nil else {
                    throw ValidationError("--file takes the text, time and reply target from each line: give no TEXT, --at, --in or --reply-to")
                }
            } else {
                guard let text, !text.isEmpty else { throw ValidationError("give the post's TEXT, or --file FILE.jsonl") }
            }
            if file != nil && !(media.isEmpty && alt.isEmpty) {
                throw ValidationError("--file takes media from each line (\"media\": [{\"path\", \"alt\"?}]): give no --media or --alt")
            }
            if media.isEmpty && !alt.isEmpty { throw ValidationError("--alt describes the --media before it: give --media PATH first") }
            _ = try MediaFiles.pairs(CommandLine.arguments)
            if at != nil && after != nil { throw ValidationError("give --at or --in, not both") }
            if let after { _ = try Self.dueAt(after: after) }
        }

        /// Now plus `--in`, refused when it is not a duration or lands outside the times a
        /// post may be scheduled for (never an overflow).
        static func dueAt(after: String) throws -> Int64 {
            guard let ms = DurationText.parseMillis(after) else {
                throw ValidationError("--in: '\(after)' is not a duration (e.g. 90s, 15m, 2h)")
            }
            let (due, overflow) = SteadyClock.wallMillis().addingReportingOverflow(ms)
            guard !overflow, SchedulingWindow.contains(due) else {
                throw ValidationError("--in: '\(after)' is past the times a post may be scheduled for (\(SchedulingWindow.text))")
            }
            return due
        }

        /// Posts a request carries; a larger file goes in chunks of a staged batch, so no one
        /// request holds the posting worker's loop for long.
        static let chunkPosts = 1_000

        func run() throws {
            let body: [UInt8]
            let client = try connection.client()
            if let file {
                let items = Self.withStoredMedia(Self.readBatch(file), file: file, client: client)
                if items.count > Self.chunkPosts {
                    return try postStaged(items, client: client)
                }
                body = JSON.obj([("account", JSON(account)), ("posts", .array(items))]).bytes
            } else {
                var when: AtValue?
                if let at { when = .text(at) }
                if let after { when = .millis(try Self.dueAt(after: after)) }
                let given = try MediaFiles.pairs(CommandLine.arguments)
                guard given.map(\.path) == media else {
                    throw ValidationError("--media: cannot tell which --alt goes with which file; write each as --media PATH --alt TEXT")
                }
                let stored = given.isEmpty ? [:] : MediaFiles.store(given.map(\.path), client: client)
                let request = JSON.obj([
                    ("account", JSON(account)), ("text", JSON(text ?? "")),
                    ("at", when.map { w in
                        switch w {
                        case .text(let t): JSON(t)
                        case .millis(let ms): JSON(ms)
                        }
                    }),
                    ("reply_to", replyTo.map(JSON.init)),
                    ("media", given.isEmpty ? nil : MediaFiles.reference(given, stored: stored)),
                ])
                body = request.bytes
            }
            let answer = perform { () throws(ControlClientError) in try client.call(method: "posting.create", body: body) }
            if connection.json {
                writeOut(String(decoding: answer, as: UTF8.self) + "\n")
            } else if file != nil {
                let batch = try JSONDecoder().decode(BatchAnswer.self, from: Data(answer))
                writeOut(batch.posts.map { $0.id + "\n" }.joined())
            } else {
                writeOut(try JSONDecoder().decode(JobRow.self, from: Data(answer)).id + "\n")
            }
        }

        /// A batch of more than `chunkPosts` lines: every chunk but the last is validated and
        /// held by the posting worker under one stage id; the last stores them all in one
        /// transaction. Any refusal (a line, a bound, a restarted worker) leaves nothing stored.
        func postStaged(_ items: [JSON], client: ControlClient) throws {
            let stage = "cli-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
            var start = 0
            var answer: [UInt8] = []
            while start < items.count {
                let end = min(start + Self.chunkPosts, items.count)
                let final = end == items.count
                let body = JSON.obj([("account", JSON(account)), ("stage", JSON(stage)), ("final", .bool(final)),
                                     ("posts", .array(Array(items[start..<end])))]).bytes
                answer = perform { () throws(ControlClientError) in try client.call(method: "posting.create", body: body) }
                if !final && !connection.json {
                    let note = Array("steadypost: \(end) of \(items.count) posts checked and staged\n".utf8)
                    _ = note.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
                }
                start = end
            }
            if connection.json {
                writeOut(String(decoding: answer, as: UTF8.self) + "\n")
            } else {
                let batch = try JSONDecoder().decode(BatchAnswer.self, from: Data(answer))
                writeOut(batch.posts.map { $0.id + "\n" }.joined())
            }
        }

        /// Lines naming media: every file opened here (missing or unreadable ones refused,
        /// naming the file, before anything is sent), copied into the daemon's media store, and
        /// named by hash in the line sent on.
        /// A thread line's parts carry their own `"media"`, handled the same way.
        static func withStoredMedia(_ items: [JSON], file: String, client: ControlClient) -> [JSON] {
            func given(_ object: JSON, line: Int) -> [MediaFiles.Given] {
                guard let value = object["media"], value != .null else { return [] }
                return MediaFiles.fromLine(value, file: file, line: line)
            }
            let parts = items.map { $0["thread"]?.array ?? [] }
            let paths = zip(items, parts).flatMap { item, parts in
                let line = item["line"]?.int ?? 0
                return (given(item, line: line) + parts.flatMap { given($0, line: line) }).map(\.path)
            }
            guard !paths.isEmpty else { return items }
            let stored = MediaFiles.store(paths, client: client)
            func replaced(_ object: JSON, line: Int) -> JSON {
                let media = given(object, line: line)
                guard case .object(let members) = object else { return object }
                return .object(members.map { name, value in
                    if name == "media", !media.isEmpty { return ("media", MediaFiles.reference(media, stored: stored)) }
                    if name == "thread", let array = value.array { return ("thread", .array(array.map { replaced($0, line: line) })) }
                    return (name, value)
                })
            }
            return items.map { replaced($0, line: $0["line"]?.int ?? 0) }
        }

        /// One object a line, sent as it is (the posting worker checks every member, strictly,
        /// and names the line); blank lines are skipped; a line that is not valid UTF-8 or not
        /// a JSON object stops everything here, named by its number.
        static func readBatch(_ path: String) -> [JSON] {
            guard let bytes = readFileBytes(path) else { fail("cannot read \(path): \(String(cString: strerror(errno)))", code: 1) }
            var items: [JSON] = []
            for (index, raw) in bytes.split(separator: 0x0A, omittingEmptySubsequences: false).enumerated() {
                let lineNumber = index + 1
                guard String(validating: raw, as: UTF8.self) != nil else {
                    fail("\(path): line \(lineNumber): not valid UTF-8 (the file must be UTF-8 text)", code: 1)
                }
                let trimmed = raw.drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }.reversed().drop { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }.reversed()
                if trimmed.isEmpty { continue }
                let parsed: JSON
                do { parsed = try JSON.parseStrict(Array(trimmed)) } catch {
                    fail("\(path): line \(lineNumber): not a post object {\"text\", \"at\"?, \"reply_to\"?}: \(error)", code: 1)
                }
                guard case .object(let members) = parsed else {
                    fail("\(path): line \(lineNumber): expected a JSON object {\"text\", \"at\"?, \"reply_to\"?}", code: 1)
                }
                if let owned = members.first(where: { $0.0 == "account" || $0.0 == "line" }) {
                    fail("\(path): line \(lineNumber): \"\(owned.0)\" is set by the command (--account, the line number), not by a line", code: 1)
                }
                items.append(.object(members + [("line", JSON(lineNumber))]))
            }
            if items.isEmpty { fail("\(path): no posts in the file", code: 1) }
            return items
        }
    }

    struct Jobs: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List posts, newest due first.")
        @Option(help: "Only posts in this state: scheduled, claimed, attempting, unknown, posted, failed, cancelled, parked.") var state: String?
        @Option(help: "Only this account's posts.") var account: String?
        @OptionGroup var connection: Connection

        func run() throws {
            let client = try connection.client()
            let body = try encode(ListRequest(state: state, account: account))
            let answer = perform { () throws(ControlClientError) in try client.call(method: "posting.list", body: body) }
            if connection.json {
                writeOut(String(decoding: answer, as: UTF8.self) + "\n")
                return
            }
            let rows = try JSONDecoder().decode([JobRow].self, from: Data(answer))
            var lines = [["ID", "STATE", "ACCOUNT", "DUE", "ATTEMPTS", "MEDIA", "PLATFORM_ID", "LAST_ERROR"]]
            for r in rows {
                lines.append([r.id, r.state, r.account, r.due_at, String(r.attempts), MediaRow.summary(r.media), r.platform_id ?? "-",
                              r.last_error.map { String($0.prefix(60)) } ?? "-"]
                    .map(TerminalText.field))
            }
            writeOut(table(lines))
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One post with its attempts, or a thread with its parts.")
        @Argument(help: "The post's id, or a thread's (t_...).") var id: String
        @OptionGroup var connection: Connection

        func run() throws {
            let client = try connection.client()
            let body = try encode(IdRequest(id: id))
            let answer = perform { () throws(ControlClientError) in try client.call(method: "posting.show", body: body) }
            if connection.json {
                writeOut(String(decoding: answer, as: UTF8.self) + "\n")
                return
            }
            if let thread = try? JSONDecoder().decode(ThreadAnswer.self, from: Data(answer)) {
                writeOut(thread.text)
                return
            }
            let p = try JSONDecoder().decode(PostDetail.self, from: Data(answer))
            let f = TerminalText.field
            // The text keeps its lines, each indented under the label, so none can pass for a field.
            let text = TerminalText.safe(p.text.replacing("\r\n", with: "\n")).replacing("\n", with: "\n             ")
            var out = """
            id:          \(f(p.id))
            account:     \(f(p.account)) (\(f(p.platform)))
            state:       \(f(p.state))
            due:         \(f(p.due_at))
            text:        \(text)

            """
            if let t = p.thread_id { out += "thread:      \(f(t)) part \(p.thread_position ?? 0)\n" }
            if let r = p.reply_to { out += "reply to:    \(f(r))\n" }
            for (i, m) in (p.media ?? []).enumerated() {
                out += (i == 0 ? "media:       " : "             ") + "\(i + 1). \(f(m.type)) \(m.bytes) bytes \(f(String(m.sha256.prefix(12))))"
                out += m.alt.map { " alt \"\(f(String($0.prefix(60))))\"" } ?? " (no alt text)"
                out += "\n"
            }
            if let id = p.platform_id { out += "platform id: \(f(id))\n" }
            if let n = p.next_try_at { out += "next try:    \(f(n))\n" }
            if let e = p.last_error { out += "last error:  \(f(e))\n" }
            out += "attempts:    \(p.attempts)\n"
            for a in p.attempt_log {
                out += "  #\(a.number) \(f(a.id)) started \(f(a.started_at)) → \(f(a.outcome ?? "in progress"))"
                if let id = a.platform_id { out += " (\(f(id)))" }
                if let d = a.detail { out += ": \(f(d))" }
                out += "\n"
            }
            writeOut(out)
        }
    }

    struct Cancel: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a post that has not started an attempt, or a thread's parts that have not.")
        @Argument(help: "The post's id, or a thread's (t_...): its parts not yet attempted are cancelled.") var id: String
        @OptionGroup var connection: Connection

        func run() throws {
            let client = try connection.client()
            let body = try encode(IdRequest(id: id))
            let answer = perform { () throws(ControlClientError) in try client.call(method: "posting.cancel", body: body) }
            if connection.json {
                writeOut(String(decoding: answer, as: UTF8.self) + "\n")
            } else if let thread = try? JSONDecoder().decode(ThreadAnswer.self, from: Data(answer)) {
                let parts = thread.posts.filter { $0.state == "cancelled" }.compactMap(\.thread_position).map(String.init)
                writeOut("cancelled \(id): part\(parts.count == 1 ? "" : "s") \(parts.joined(separator: ", "))\n" + thread.text)
            } else {
                writeOut("cancelled \(id)\n")
            }
        }
    }
}

// MARK: - Wire shapes (the posting worker's JSON; see SteadyPosting's PostJSON)

/// `at`: ISO 8601 text as given, or integer milliseconds (from `--in`).
enum AtValue: Codable {
    case text(String)
    case millis(Int64)

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let ms = try? c.decode(Int64.self) {
            self = .millis(ms)
        } else {
            self = .text(try c.decode(String.self))
        }
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .text(let s): try c.encode(s)
        case .millis(let ms): try c.encode(ms)
        }
    }
}

struct BatchAnswer: Decodable {
    var posts: [JobRow]
}

struct ListRequest: Encodable {
    var state: String?
    var account: String?
}

struct IdRequest: Encodable {
    var id: String
}

struct JobRow: Decodable {
    var id: String
    var account: String
    var state: String
    var due_at: String
    var platform_id: String?
    var attempts: Int
    var last_error: String?
    var media: [MediaRow]?
    var thread_id: String?
    var thread_position: Int?
}

/// One attachment in `jobs`/`show` JSON.
struct MediaRow: Decodable {
    var sha256: String
    var type: String
    var bytes: Int64
    var alt: String?

    /// For `jobs`: "4 png", "1 mp4", "2 png+1 gif" (counts by type, in first-seen order).
    static func summary(_ media: [MediaRow]?) -> String {
        guard let media, !media.isEmpty else { return "-" }
        var order: [String] = []
        var counts: [String: Int] = [:]
        for m in media {
            if counts[m.type] == nil { order.append(m.type) }
            counts[m.type, default: 0] += 1
        }
        return order.map { "\(counts[$0]!) \($0)" }.joined(separator: "+")
    }
}

struct AttemptRow: Decodable {
    var id: String
    var number: Int
    var started_at: String
    var outcome: String?
    var detail: String?
    var platform_id: String?
}

struct PostDetail: Decodable {
    var id: String
    var account: String
    var platform: String
    var state: String
    var due_at: String
    var text: String
    var reply_to: String?
    var platform_id: String?
    var next_try_at: String?
    var last_error: String?
    var attempts: Int
    var attempt_log: [AttemptRow]
    var media: [MediaRow]?
    var thread_id: String?
    var thread_position: Int?
}

func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return Array(try encoder.encode(value))
}

/// A decoding error in a few words (which key, what was wrong), without the input.
func describe(_ error: any Error) -> String {
    guard let e = error as? DecodingError else { return "\(error)" }
    func path(_ c: DecodingError.Context) -> String {
        let p = c.codingPath.map(\.stringValue).joined(separator: ".")
        return p.isEmpty ? "" : "\(p): "
    }
    switch e {
    case .keyNotFound(let key, _): return "\(key.stringValue): missing"
    case .typeMismatch(_, let c): return "\(path(c))\(c.debugDescription)"
    case .valueNotFound(_, let c): return "\(path(c))missing value"
    case .dataCorrupted(let c): return "\(path(c))not valid JSON"
    @unknown default: return "\(error)"
    }
}

func readFileBytes(_ path: String) -> [UInt8]? {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        if n < 0 { return nil }
        if n == 0 { break }
        out += chunk[0..<n]
    }
    return out
}

/// Left-aligned columns, two spaces apart.
func table(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    var widths = first.map(\.count)
    for r in rows { for (i, c) in r.enumerated() where i < widths.count { widths[i] = max(widths[i], c.count) } }
    return rows.map { r in
        r.enumerated().map { i, c in i == r.count - 1 ? c : c + String(repeating: " ", count: widths[i] - c.count) }.joined(separator: "  ")
    }.joined(separator: "\n") + "\n"
}
