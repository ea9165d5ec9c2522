import Glibc
import Logging

/// Where log lines go: a journald stream (`<N>` priority prefixes, journald adds the
/// identifier) or plain stderr with the role as prefix. One line per event, metadata as
/// dotted `key=value` pairs. Secrets are never passed to a logger in the first place.
public struct LineLogHandler: LogHandler {
    public enum Style: Sendable {
        case journal
        case prefixed(String)
    }

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let style: Style
    private let fd: Int32

    public init(style: Style, fd: Int32 = 2) {
        self.style = style
        self.fd = fd
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var line: String
        switch style {
        case .journal:
            line = "<\(LineLogHandler.syslogPriority(event.level))>"
        case .prefixed(let prefix):
            line = "\(prefix)[\(getpid())]: \(event.level.rawValue.uppercased()) "
        }
        line += event.message.description
        var all = metadata
        if let extra = event.metadata { all.merge(extra) { _, new in new } }
        for key in all.keys.sorted() {
            line += " \(key)=\(LineLogHandler.quoted("\(all[key]!)"))"
        }
        line = line.flattenedToOneLine() + "\n"
        let bytes = Array(line.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, $0.count - offset) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { return }
            offset += n
        }
    }

    static func syslogPriority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    static func quoted(_ value: String) -> String {
        value.contains(" ") || value.isEmpty ? "\"\(value)\"" : value
    }
}

extension String {
    /// One log line out of any text: every line break (CR, LF, NEL U+0085, LS U+2028, PS
    /// U+2029) and every other C0 control but tab, and DEL, become a space, scalar by
    /// scalar. By `Character` it was wrong: `"\r\n"` is one Character that equals neither
    /// `"\r"` nor `"\n"`, so a value holding it forged a second journal line.
    func flattenedToOneLine() -> String {
        var out = String.UnicodeScalarView()
        for u in unicodeScalars {
            switch u.value {
            case 0x09: out.append(u)
            case 0x00..<0x20, 0x7F, 0x85, 0x2028, 0x2029: out.append(" ")
            default: out.append(u)
            }
        }
        return String(out)
    }
}

/// Builds the logger of a process: journal style when stderr is a journald stream.
public func makeProcessLogger(label: String, identifier: String, environment: [String: String]) -> Logger {
    let journal = Journal.isConnected(environment: environment) || environment["STEADYPOST_LOG"] == "journal"
    var logger = Logger(label: label) { _ in
        LineLogHandler(style: journal ? .journal : .prefixed(identifier))
    }
    if let level = environment["STEADYPOST_LOG_LEVEL"].flatMap(Logger.Level.init(rawValue:)) {
        logger.logLevel = level
    }
    return logger
}
