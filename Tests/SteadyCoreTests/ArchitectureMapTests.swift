import Glibc
import Testing

/// ARCHITECTURE.md's module graph is the code's: each module's direct imports of other
/// project modules, read from its files. And the walls hold: the supervisor's closure has no
/// worker code, and only the posting worker's executable imports `SteadyPosting`.
struct ArchitectureMapTests {
    /// The package root, from this file's path (Tests/SteadyCoreTests/THIS).
    static let root: String = {
        var parts = "\(#filePath)".split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)
        return parts.joined(separator: "/")
    }()

    static func entries(_ dir: String) -> [String] {
        guard let d = opendir(dir) else { return [] }
        defer { closedir(d) }
        var out: [String] = []
        while let e = readdir(d) {
            let name = withUnsafeBytes(of: e.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
            if name != "." && name != ".." { out.append(name) }
        }
        return out.sorted()
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func read(_ path: String) -> String {
        guard let f = fopen(path, "r") else { return "" }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&buf, 1, buf.count, f)
            if n <= 0 { break }
            bytes += buf[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static func swiftFiles(_ dir: String) -> [String] {
        entries(dir).flatMap { name -> [String] in
            let path = dir + "/" + name
            if isDirectory(path) { return swiftFiles(path) }
            return name.hasSuffix(".swift") ? [path] : []
        }
    }

    /// Module → the project modules its files import.
    static func importGraph() -> [String: Set<String>] {
        let sources = root + "/Sources"
        let modules = Set(entries(sources).filter { isDirectory(sources + "/" + $0) })
        var graph: [String: Set<String>] = [:]
        for m in modules where !m.hasPrefix("C") {
            var imports: Set<String> = []
            for file in swiftFiles(sources + "/" + m) {
                for line in read(file).split(separator: "\n") {
                    var words = line.split(separator: " ").map(String.init)
                    if words.first == "@testable" { words.removeFirst() }
                    if words.count >= 2, words[0] == "import", modules.contains(words[1]), words[1] != m { imports.insert(words[1]) }
                }
            }
            graph[m] = imports
        }
        return graph
    }

    /// The graph as ARCHITECTURE.md draws it, in "### Module graph"'s code block.
    static func documentedGraph() -> [String: Set<String>] {
        let doc = Substring(read(root + "/ARCHITECTURE.md"))
        guard let section = find("### Module graph", in: doc) else { return [:] }
        let after = doc[section.upperBound...]
        guard let open = find("```\n", in: after) else { return [:] }
        let body = after[open.upperBound...]
        guard let close = find("```", in: body) else { return [:] }
        var graph: [String: Set<String>] = [:]
        for line in body[..<close.lowerBound].split(separator: "\n") {
            let sides = line.split(separator: "→", maxSplits: 1).map { $0.trimmingCharacters(in: " ") }
            guard sides.count == 2 else { continue }
            graph[sides[0]] = sides[1] == "—" ? [] : Set(sides[1].split(separator: ",").map { $0.trimmingCharacters(in: " ") })
        }
        return graph
    }

    static func find(_ marker: String, in text: Substring) -> Range<Substring.Index>? {
        var i = text.startIndex
        while i < text.endIndex {
            if text[i...].hasPrefix(marker) { return i..<text.index(i, offsetBy: marker.count) }
            i = text.index(after: i)
        }
        return nil
    }

    @Test("ARCHITECTURE.md's module graph is what the files import")
    func graphMatchesImports() {
        let code = Self.importGraph()
        let doc = Self.documentedGraph()
        #expect(!code.isEmpty && !doc.isEmpty)
        for module in Set(code.keys).union(doc.keys).sorted() {
            #expect(doc[module] == code[module], "\(module): ARCHITECTURE.md says \(doc[module]?.sorted() ?? []), the imports say \(code[module]?.sorted() ?? []) (scripts/module-graph.py prints the graph)")
        }
    }

    @Test("the walls: the supervisor reaches no worker module; only steadypost-worker imports SteadyPosting")
    func walls() {
        let graph = Self.importGraph()
        var closure: Set<String> = []
        var todo = ["steadypostd"]
        while let m = todo.popLast() {
            for d in graph[m] ?? [] where closure.insert(d).inserted { todo.append(d) }
        }
        for worker in ["SteadyPosting", "SteadyPlatforms", "SteadyStore", "SteadyHTTP", "SteadyBrowser", "SteadyWorker", "SteadyAPI",
                       "SteadyTokens", "SteadyBackground", "SteadyMedia"] {
            #expect(!closure.contains(worker), "steadypostd reaches \(worker)")
        }
        #expect(graph.filter { $0.value.contains("SteadyPosting") }.keys.sorted() == ["steadypost-worker"])
    }
}

extension Substring {
    func trimmingCharacters(in set: String) -> String {
        String(drop { set.contains($0) }.reversed().drop { set.contains($0) }.reversed())
    }
}
