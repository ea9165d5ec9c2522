import Glibc
import Testing
import SteadyConfig
import SteadyCore
import SteadyHTTP
import SteadyPlatforms
import class SteadyTestSupport.TempDir
@testable import SteadyReplies

/// The chat-completions client against a loopback endpoint the test runs (`ScriptedServer`):
/// what it sends, and how each kind of failure is classified.
@Suite("chat-completions generator", .serialized, .timeLimit(.minutes(2)))
struct ChatCompletionsTests {
    static let key = "sk-test-SECRET-0123456789"
    static let context = ReplyContext(account: "news-m", platform: .mastodon, handle: "news", authorHandle: "alice", text: "@news what time is it?")

    final class KeyFile {
        let directory = TempDir("steadypost-key")
        var path: String { directory.path + "/openai.key" }
        init(_ content: String?) {
            if let content {
                let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
                _ = Array(content.utf8).withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                close(fd)
            }
        }
    }

    static func generator(_ url: String, key: KeyFile, timeoutMs: Int64 = 5_000) -> ChatCompletionsGenerator {
        var settings = OpenAIConfig()
        settings.baseURL = url + "/v1"
        settings.model = "tiny-model"
        settings.maxTokens = 64
        settings.timeoutMs = timeoutMs
        return ChatCompletionsGenerator(settings: settings, keyPath: key.path)
    }

    static func json(_ status: Int, _ body: String) -> ScriptedServer.Action {
        .respond(status: status, headers: ["Content-Type: application/json"], body: Array(body.utf8))
    }

    /// The class of the failure `body` throws; nil when it succeeds.
    static func failureKind(_ body: () throws(GeneratorError) -> String) -> GeneratorError.Kind? {
        do {
            _ = try body()
            return nil
        } catch {
            return error.kind
        }
    }

    func expectFailure(_ kind: GeneratorError.Kind, _ script: [ScriptedServer.Action], timeoutMs: Int64 = 5_000) throws -> GeneratorError? {
        let server = try ScriptedServer(script: script)
        defer { server.stop() }
        let key = KeyFile(Self.key + "\n")
        do {
            let text = try Self.generator(server.url, key: key, timeoutMs: timeoutMs).reply(to: Self.context)
            Issue.record("expected \(kind), got a reply: \(text)")
            return nil
        } catch {
            #expect(error.kind == kind, "\(error)")
            #expect(!error.description.contains(Self.key), "the key leaked: \(error)")
            return error
        }
    }

    @Test("a completion: the request carries the model, the budget, the mention and the key; the answer is the trimmed content")
    func success() throws {
        let server = try ScriptedServer(script: [Self.json(200, #"{"id":"c1","choices":[{"index":0,"message":{"role":"assistant","content":"  @alice it is noon.\n"},"finish_reason":"stop"}]}"#)])
        defer { server.stop() }
        let key = KeyFile(Self.key + "\n")
        let text = try Self.generator(server.url, key: key).reply(to: Self.context)
        #expect(text == "@alice it is noon.")
        let request = try #require(server.requests.first)
        #expect(request.method == "POST")
        #expect(request.path == "/v1/chat/completions")
        #expect(request.header("Authorization") == "Bearer " + Self.key)
        let body = try JSON.parse(request.body)
        #expect(body["model"]?.string == "tiny-model")
        #expect(body["max_tokens"]?.int == 64)
        #expect(body["messages"]?[0]?["role"]?.string == "system")
        #expect(body["messages"]?[1]?["content"]?.string?.contains("what time is it?") == true)
        #expect(body["messages"]?[1]?["content"]?.string?.contains("@alice") == true)
    }

    @Test("a 5xx is a server error")
    func serverError() throws {
        let e = try expectFailure(.server, [Self.json(503, #"{"error":{"message":"overloaded","type":"server_error"}}"#)])
        #expect(e?.message.contains("503") == true)
        #expect(e?.message.contains("overloaded") == true)
    }

    @Test("no answer within the timeout is a timeout")
    func timeout() throws {
        _ = try expectFailure(.timeout, [.hold], timeoutMs: 500)
    }

    @Test("a body that is not a chat completion is malformed", arguments: [
        "<html>gateway</html>", #"{"choices":[]}"#, #"{"choices":[{"message":{"content":7}}]}"#,
    ])
    func malformed(_ body: String) throws {
        _ = try expectFailure(.malformed, [Self.json(200, body)])
    }

    @Test("an empty completion, a refused key, a rate limit, a refused request, a closed port: each its own class")
    func otherClasses() throws {
        _ = try expectFailure(.empty, [Self.json(200, #"{"choices":[{"message":{"content":"   "},"finish_reason":"length"}]}"#)])
        let auth = try expectFailure(.auth, [Self.json(401, #"{"error":{"message":"Incorrect API key provided: sk-test-SECRET-0123456789"}}"#)])
        #expect(auth?.message.contains("[redacted]") == true, "\(String(describing: auth))")
        _ = try expectFailure(.rateLimited, [Self.json(429, #"{"error":{"message":"slow down"}}"#)])
        _ = try expectFailure(.refused, [Self.json(400, #"{"error":{"message":"max_tokens is too large"}}"#)])
        // A port nobody listens on: the server is stopped before the call.
        let server = try ScriptedServer(script: [])
        let url = server.url
        server.stop()
        let key = KeyFile(Self.key)
        #expect(Self.failureKind { () throws(GeneratorError) in try Self.generator(url, key: key).reply(to: Self.context) } == .unreachable)
    }

    @Test("a missing or empty key file is a configuration error, and nothing is sent")
    func missingKey() throws {
        let server = try ScriptedServer(script: [Self.json(200, "{}")])
        defer { server.stop() }
        for key in [KeyFile(nil), KeyFile("  \n")] {
            #expect(Self.failureKind { () throws(GeneratorError) in try Self.generator(server.url, key: key).reply(to: Self.context) } == .configuration)
        }
        #expect(server.requests.isEmpty)
    }
}
