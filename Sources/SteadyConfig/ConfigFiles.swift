import Glibc

// MARK: - Suggestions

/// The candidate within edit distance 2 of `key` (and closer than its length), else the only
/// candidate that `key` abbreviates, if any.
func closestMatch(to key: String, in candidates: [String]) -> String? {
    let a = Array(key.utf8)
    guard a.count <= 64 else { return nil }
    var best: (String, Int)?
    for candidate in candidates {
        let b = Array(candidate.utf8)
        let distance = editDistance(a, b)
        if distance <= 2 && distance < max(a.count, 1) && distance < (best?.1 ?? .max) {
            best = (candidate, distance)
        }
    }
    if let best { return best.0 }
    // An abbreviation of exactly one candidate ("hang" for "hang_timeout").
    guard a.count >= 3 else { return nil }
    let extensions = candidates.filter { $0.hasPrefix(key) }
    return extensions.count == 1 ? extensions[0] : nil
}

func editDistance(_ a: [UInt8], _ b: [UInt8]) -> Int {
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
        current[0] = i
        for j in 1...b.count {
            let cost = a[i - 1] == b[j - 1] ? 0 : 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        }
        swap(&previous, &current)
    }
    return previous[b.count]
}

// MARK: - Files and paths

enum ConfigPaths {
    /// `path` made absolute against `base` and normalised lexically (`.` and `..` removed).
    static func resolve(_ path: String, against base: String) -> String {
        normalize(path.hasPrefix("/") ? path : base + "/" + path)
    }

    /// The absolute directory holding the file at `path`.
    static func directory(of path: String) -> String {
        let absolute = normalize(path.hasPrefix("/") ? path : currentDirectory() + "/" + path)
        guard let slash = absolute.lastIndex(of: "/"), slash != absolute.startIndex else { return "/" }
        return String(absolute[..<slash])
    }

    static func normalize(_ path: String) -> String {
        var parts: [Substring] = []
        for part in path.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default: parts.append(part)
            }
        }
        return "/" + parts.joined(separator: "/")
    }

    static func currentDirectory() -> String {
        guard let buffer = getcwd(nil, 0) else { return "/" }
        defer { free(buffer) }
        return String(cString: buffer)
    }
}

enum ConfigFile {
    struct Problem: Error {
        var message: String
    }

    /// The whole file as UTF-8 text.
    static func read(_ path: String) -> Result<String, Problem> {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { return .failure(Problem(message: "cannot open config file: \(errnoText(errno))")) }
        defer { _ = close(fd) }
        var contents: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                return .failure(Problem(message: "cannot read config file: \(errnoText(errno))"))
            }
            if n == 0 { break }
            contents.append(contentsOf: chunk[0..<n])
            if contents.count > Config.maxFileSize {
                return .failure(Problem(message: "config file is larger than \(ByteSize.format(UInt64(Config.maxFileSize)))"))
            }
        }
        guard let text = String(validating: contents, as: UTF8.self) else {
            return .failure(Problem(message: "config file is not valid UTF-8"))
        }
        return .success(text)
    }

    static func errnoText(_ code: Int32) -> String {
        guard let text = strerror(code) else { return "errno \(code)" }
        return String(cString: text)
    }
}
