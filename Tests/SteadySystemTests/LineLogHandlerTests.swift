import Glibc
import Logging
import Testing

@testable import SteadySystem

/// What a log line may hold: whatever a message or a metadata value carries, one event is
/// one line, so no value can forge a journal line of its own.
@Suite("LineLogHandler", .timeLimit(.minutes(1)))
struct LineLogHandlerTests {
    /// Logs one event through a real handler into a pipe and returns what was written.
    func written(_ message: String, metadata: Logger.Metadata = [:], style: LineLogHandler.Style) throws -> String {
        var fds: [Int32] = [0, 0]
        try #require(pipe(&fds) == 0)
        defer { close(fds[0]) }
        var handler = LineLogHandler(style: style, fd: fds[1])
        handler.logLevel = .debug
        handler.log(event: LogEvent(level: .warning, message: "\(message)", metadata: metadata, source: "t", file: #fileID, function: #function, line: #line))
        close(fds[1])
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(fds[0], &buffer, buffer.count)
            if n <= 0 { break }
            bytes += buffer[0..<n]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    static let breakers: [(String, String)] = [
        ("CR LF (one Character)", "\r\n"), ("LF", "\n"), ("CR", "\r"), ("NEL", "\u{85}"), ("LS", "\u{2028}"), ("PS", "\u{2029}"),
        ("NUL", "\u{0}"), ("VT", "\u{0B}"), ("FF", "\u{0C}"), ("ESC", "\u{1B}"), ("DEL", "\u{7F}"),
        ("combining mark after CR LF", "\r\n\u{0301}"),
    ]

    @Test("a line break or control character in a message or metadata value never starts a second line", arguments: breakers)
    func logLineStaysOneLine(_ name: String, _ breaker: String) throws {
        let forged = "<3>steadypost-api: forged"
        for style in [LineLogHandler.Style.journal, .prefixed("steadypost-api")] {
            let line = try written("before\(breaker)\(forged)", metadata: ["post.error": "x\(breaker)<2>forged too"], style: style)
            #expect(line.hasSuffix("\n"), "\(name)")
            let scalars = Array(line.unicodeScalars.dropLast())
            for bad in scalars where bad.value < 0x20 && bad != "\t" || [0x7F, 0x85, 0x2028, 0x2029].contains(bad.value) {
                Issue.record("\(name): U+\(String(bad.value, radix: 16)) left in \(line.debugDescription)")
            }
            // The text itself is kept, on the one line.
            #expect(line.utf8.filter { $0 == 10 }.count == 1 && line.contains(forged) && line.contains("<2>forged too"), "\(name): \(line.debugDescription)")
        }
    }

    @Test("tabs and ordinary text, combining marks included, are kept as they are")
    func ordinaryTextKept() throws {
        let line = try written("tab\there é\u{0301} 日本 ✓", style: .journal)
        #expect(line == "<4>tab\there é\u{0301} 日本 ✓\n")
    }
}
