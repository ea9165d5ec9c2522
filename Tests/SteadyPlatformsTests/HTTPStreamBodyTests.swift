import SteadyCore
import SteadyHTTP
import Testing

/// Request bodies read on demand (libcurl's read callback) against a scripted server: the
/// bytes arrive whole and in order, the source is asked for at most libcurl's buffer at a
/// time (never the whole body), and a source that fails or ends early aborts the transfer.
@Suite("HTTP streamed bodies", .serialized, .timeLimit(.minutes(1)))
struct HTTPStreamBodyTests {
    /// `total` bytes of a pattern, generated as asked; remembers the largest read asked for.
    final class PatternSource: HTTPBodySource {
        let total: Int
        let failAt: Int?
        var produced = 0
        var largestAsk = 0
        var reads = 0

        init(total: Int, failAt: Int? = nil) {
            self.total = total
            self.failAt = failAt
        }

        static func byte(_ i: Int) -> UInt8 { UInt8(truncatingIfNeeded: i &* 7 &+ i >> 9) }

        func read(into buffer: UnsafeMutableRawBufferPointer) throws(HTTPBodySourceError) -> Int {
            reads += 1
            largestAsk = max(largestAsk, buffer.count)
            if let failAt, produced >= failAt { throw HTTPBodySourceError("disk gone at \(produced)") }
            let n = min(buffer.count, total - produced)
            for k in 0..<n { buffer[k] = Self.byte(produced + k) }
            produced += n
            return n
        }
    }

    @Test("a 3 MB multipart body streams from its source: the server gets fields, file and closing boundary intact; no read larger than libcurl's buffer")
    func multipartStreams() throws {
        let server = try ScriptedServer(script: [.respond(status: 200, headers: [], body: Array("{}".utf8))])
        defer { server.stop() }
        let total = 3_000_000
        let source = PatternSource(total: total)
        let body = HTTPStreamBody.multipart(fields: [("command", "APPEND"), ("segment_index", "0")], fileField: "media", fileName: "m.mp4",
                                            fileType: "application/octet-stream", source: source, length: Int64(total), boundary: "BOUNDARY42")
        let response = try HTTPClient().send(HTTPRequest(method: .post, url: server.url + "/upload"), streaming: body)
        #expect(response.status == 200)
        let got = try #require(server.requests.first)
        #expect(got.header("Content-Type") == "multipart/form-data; boundary=BOUNDARY42")
        let head = Array("--BOUNDARY42\r\nContent-Disposition: form-data; name=\"command\"\r\n\r\nAPPEND\r\n--BOUNDARY42\r\nContent-Disposition: form-data; name=\"segment_index\"\r\n\r\n0\r\n--BOUNDARY42\r\nContent-Disposition: form-data; name=\"media\"; filename=\"m.mp4\"\r\nContent-Type: application/octet-stream\r\n\r\n".utf8)
        let tail = Array("\r\n--BOUNDARY42--\r\n".utf8)
        #expect(got.body.count == head.count + total + tail.count)
        #expect(Array(got.body.prefix(head.count)) == head)
        #expect(Array(got.body.suffix(tail.count)) == tail)
        let file = got.body[head.count..<(head.count + total)]
        #expect(file.enumerated().allSatisfy { $0.element == PatternSource.byte($0.offset) }, "the file part's bytes in order")
        #expect(body.sent == body.length)
        #expect(source.largestAsk <= 512 << 10, "asked for \(source.largestAsk) bytes at once")
        #expect(source.reads > 5, "read piece by piece, not at once: \(source.reads) reads")
    }

    @Test("a source that fails aborts the transfer: body-unreadable, and maybe-sent once bytes went out")
    func failingSourceAborts() throws {
        let server = try ScriptedServer(script: [.respond(status: 200, headers: [], body: [])])
        defer { server.stop() }
        let body = HTTPStreamBody(source: PatternSource(total: 2_000_000, failAt: 500_000), length: 2_000_000, contentType: "video/mp4")
        let error = #expect(throws: HTTPError.self) {
            try HTTPClient().send(HTTPRequest(method: .post, url: server.url + "/blob"), streaming: body)
        }
        #expect(error?.kind == .bodyUnreadable)
        #expect(error?.delivery == .maybeSent)
        #expect(error?.detail.contains("disk gone") == true, "\(error?.detail ?? "")")
    }

    @Test("a source that ends before its announced length aborts the transfer")
    func shortSourceAborts() throws {
        let server = try ScriptedServer(script: [.respond(status: 200, headers: [], body: [])])
        defer { server.stop() }
        let body = HTTPStreamBody(source: PatternSource(total: 1_000), length: 5_000, contentType: "image/png")
        let error = #expect(throws: HTTPError.self) {
            try HTTPClient().send(HTTPRequest(method: .post, url: server.url + "/blob"), streaming: body)
        }
        #expect(error?.kind == .bodyUnreadable)
        #expect(error?.detail.contains("before its announced length") == true, "\(error?.detail ?? "")")
    }
}
