import ArgumentParser
import Glibc
import SteadyControl
import SteadyCore
import SteadyJSON
import SteadySystem

/// `--media PATH [--alt TEXT]` and batch lines' `"media": [{"path", "alt"?}]`: the files are
/// opened here, by the operator's own user, and handed to the posting worker as open
/// descriptors (`posting.media_put`), which copies them into the daemon's media store; the
/// posts then name them by SHA-256. The daemon never opens the operator's paths.
enum MediaFiles {
    /// One attachment as given: the path (also its name in messages) and its alt text.
    struct Given: Equatable {
        var path: String
        var alt: String?
    }

    /// What the media store answered for one path.
    struct Stored {
        var sha256: String
        var type: String
        var bytes: Int64
    }

    /// Options that take a value, so a value such as `--alt --media` is not read as an option.
    static let valued: Set<String> = ["--account", "--at", "--in", "--reply-to", "--file", "--socket", "--config", "--timeout", "--media", "--alt"]

    /// The `--media`/`--alt` pairs in command-line order: each `--alt` describes the
    /// `--media` before it. ArgumentParser keeps each option's values but not how they
    /// interleave, so the order is read from the arguments themselves.
    static func pairs(_ arguments: [String]) throws -> [Given] {
        var out: [Given] = []
        var altSet = false
        var i = 0
        while i < arguments.count {
            let a = arguments[i]
            if a == "--" { break }
            var name = a
            var value: String?
            if let eq = a.firstIndex(of: "="), a.hasPrefix("--") {
                name = String(a[..<eq])
                value = String(a[a.index(after: eq)...])
            }
            guard valued.contains(name) else { i += 1; continue }
            if value == nil {
                value = i + 1 < arguments.count ? arguments[i + 1] : nil
                i += 2
            } else {
                i += 1
            }
            guard let value else { break }
            switch name {
            case "--media":
                out.append(Given(path: value, alt: nil))
                altSet = false
            case "--alt":
                guard !out.isEmpty else { throw ValidationError("--alt describes the --media before it: give --media PATH first") }
                guard !altSet else { throw ValidationError("--alt given twice for --media \(out[out.count - 1].path)") }
                out[out.count - 1].alt = value
                altSet = true
            default:
                break
            }
        }
        return out
    }

    /// Refuses, naming the file, any path this user cannot open for reading or that is not a
    /// regular file (a directory, a FIFO, a device): before anything is sent.
    static func checkReadable(_ paths: [String]) {
        for path in paths {
            let d = openRegular(path)
            d.close()
        }
    }

    static func openRegular(_ path: String) -> Descriptor {
        let d: Descriptor
        do throws(SystemError) {
            // O_NONBLOCK: a FIFO must not hang the open; a regular file ignores it.
            d = try Descriptor.open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY)
        } catch {
            fail("\(path): cannot open it: \(String(cString: strerror(error.errno)))", code: 1)
        }
        let status: FileStatus
        do throws(SystemError) { status = try d.status(what: path) } catch {
            fail("\(path): cannot read it: \(String(cString: strerror(error.errno)))", code: 1)
        }
        guard status.isRegular else {
            fail("\(path): not a regular file\(status.isDirectory ? " (a directory)" : ""): give an image or video file", code: 1)
        }
        do throws(SystemError) { try d.setNonBlocking(false) } catch {
            fail("\(path): \(error)", code: 1)
        }
        return d
    }

    /// Copies every distinct path into the daemon's media store, up to
    /// `DescriptorPassing.maxPerFrame` open files a request; returns what each was stored as.
    /// A refusal (not an image or video, too large, unreadable) names the file: exit 1.
    static func store(_ paths: [String], client: ControlClient) -> [String: Stored] {
        var unique: [String] = []
        for p in paths where !unique.contains(p) { unique.append(p) }
        checkReadable(unique)
        // A copy of a large video takes longer than a short request: at least ten minutes.
        let copier = ControlClient(socketPath: client.socketPath, timeoutMillis: max(client.timeoutMillis, 600_000))
        var out: [String: Stored] = [:]
        var start = 0
        while start < unique.count {
            let group = Array(unique[start..<min(start + DescriptorPassing.maxPerFrame, unique.count)])
            let descriptors = group.map(openRegular)
            defer { for d in descriptors { d.close() } }
            let body = JSON.obj([("names", .array(group.map(JSON.init)))]).bytes
            let answer = perform { () throws(ControlClientError) in try copier.call(method: "posting.media_put", body: body, descriptors: descriptors) }
            guard let items = (try? JSON.parse(answer))?["media"]?.array, items.count == group.count else {
                fail("the posting worker answered media_put with something unexpected", code: 1)
            }
            for (path, item) in zip(group, items) {
                guard let sha = item["sha256"]?.string, let type = item["type"]?.string, let bytes = item["bytes"]?.int else {
                    fail("the posting worker answered media_put without sha256, type or bytes for \(path)", code: 1)
                }
                out[path] = Stored(sha256: sha, type: type, bytes: Int64(bytes))
            }
            start += group.count
        }
        return out
    }

    /// A post's `media` member: `[{"sha256", "alt"?, "name"}]`.
    static func reference(_ given: [Given], stored: [String: Stored]) -> JSON {
        .array(given.map { g in
            JSON.obj([("sha256", JSON(stored[g.path]!.sha256)), ("alt", g.alt.map(JSON.init)), ("name", JSON(g.path))])
        })
    }

    /// A batch line's `"media": [{"path", "alt"?}]`, checked strictly; errors name the line.
    static func fromLine(_ value: JSON, file: String, line: Int) -> [Given] {
        func bad(_ why: String) -> Never { fail("\(file): line \(line): media: \(why)", code: 1) }
        guard let array = value.array else { bad("expected an array of {\"path\", \"alt\"?}") }
        return array.enumerated().map { i, entry in
            guard let members = entry.members else { bad("[\(i)]: expected an object {\"path\", \"alt\"?}") }
            if let unknown = members.first(where: { $0.0 != "path" && $0.0 != "alt" }) {
                bad("[\(i)]: unknown member \"\(unknown.0)\"; known: alt, path")
            }
            guard let path = entry["path"]?.string, !path.isEmpty else { bad("[\(i)].path: missing (the file's path)") }
            var alt: String?
            switch entry["alt"] {
            case nil, .null?: alt = nil
            case .string(let s)?: alt = s
            default: bad("[\(i)].alt: expected a string")
            }
            return Given(path: path, alt: alt)
        }
    }
}
