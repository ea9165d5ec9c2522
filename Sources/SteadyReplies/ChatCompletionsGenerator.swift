import SteadyConfig
import SteadyHTTP
import SteadyPlatforms
import SteadySystem

/// An OpenAI-compatible chat-completions client (`POST BASE/chat/completions`) over libcurl
/// (SteadyHTTP). The API key is read from its credentials file on every call, so a replaced
/// key takes effect without a restart and a missing file is a classified error, not a crash.
/// The key never appears in an error, a log line or status.
public final class ChatCompletionsGenerator: ReplyGenerator, @unchecked Sendable {
    public let settings: OpenAIConfig
    /// The key file's path (inside the credentials directory).
    public let keyPath: String
    /// Used from one thread at a time (the replies worker's background thread).
    private let client: HTTPClient

    public var name: String { "openai" }

    /// systemd's credentials directory: it sets the key file's mode (see `SecretFile`).
    let trustMode: Bool

    public init(settings: OpenAIConfig, keyPath: String, trustMode: Bool = false) {
        self.settings = settings
        self.keyPath = keyPath
        self.trustMode = trustMode
        client = HTTPClient(options: HTTPClientOptions(connectTimeoutMillis: Int(min(settings.timeoutMs, 5_000)),
                                                       totalTimeoutMillis: Int(settings.timeoutMs), maxResponseBytes: 1 << 20))
    }

    public func reply(to context: ReplyContext) throws(GeneratorError) -> String {
        let raw: String
        switch SecretFile.read(keyPath, trustMode: trustMode) {
        case .read(let text): raw = text
        case .missing: throw GeneratorError(.configuration, "cannot read the API key file \(keyPath): it does not exist")
        case .refused(let why): throw GeneratorError(.configuration, "the API key file is refused: \(why)")
        }
        let key = String(raw.filter { !$0.isWhitespace })
        guard !key.isEmpty else { throw GeneratorError(.configuration, "the API key file \(keyPath) is empty") }
        let author = context.authorHandle.map { "@\($0)" } ?? "someone"
        let body = JSON.obj([
            ("model", JSON(settings.model)),
            ("max_tokens", JSON(settings.maxTokens)),
            ("messages", .array([
                JSON.obj([("role", JSON("system")), ("content", JSON(settings.systemPrompt))]),
                JSON.obj([("role", JSON("user")), ("content", JSON("\(author) mentioned \(context.handle.map { "@\($0)" } ?? context.account) on \(context.platform.rawValue): \(context.text)"))]),
            ])),
        ])
        let request = HTTPRequest(method: .post, url: settings.baseURL + "/chat/completions",
                                  headers: ["Authorization": "Bearer " + key, "Content-Type": "application/json", "Accept": "application/json"],
                                  body: body.bytes, allowsTransparentResend: true, timeoutMillis: Int(settings.timeoutMs))
        let response: HTTPResponse
        do {
            response = try client.send(request)
        } catch {
            throw Self.classify(error)
        }
        return try Self.completion(response, redacting: key)
    }

    /// Maps a transfer failure onto the generator's classes.
    static func classify(_ error: HTTPError) -> GeneratorError {
        let text = "\(error.target): \(error.kind.rawValue): \(error.detail)"
        switch error.kind {
        case .nameResolution, .connectionRefused, .connectTimeout, .tlsHandshake, .invalidRequest:
            return GeneratorError(.unreachable, text)
        case .timeout:
            return GeneratorError(.timeout, text)
        case .connectionLost, .emptyReply, .responseTooLarge, .resendRefused, .bodyUnreadable, .other:
            return GeneratorError(.server, text)
        }
    }

    /// The reply text of a chat-completions response, or its classified failure.
    static func completion(_ response: HTTPResponse, redacting key: String) throws(GeneratorError) -> String {
        let json = try? JSON.parse(response.body)
        guard response.isSuccess else {
            var detail = json?["error"]?["message"]?.string ?? json?["error"]?.string ?? String(response.text.prefix(200))
            if !key.isEmpty { detail = detail.replacing(key, with: "[redacted]") }
            let message = "HTTP \(response.status): \(detail)"
            switch response.status {
            case 429: throw GeneratorError(.rateLimited, message)
            case 401, 403: throw GeneratorError(.auth, message)
            case 500...599: throw GeneratorError(.server, message)
            default: throw GeneratorError(.refused, message)
            }
        }
        guard let json else { throw GeneratorError(.malformed, "the answer is not JSON (\(response.body.count) bytes)") }
        guard let choice = json["choices"]?[0], let content = choice["message"]?["content"] else {
            throw GeneratorError(.malformed, "the answer has no choices[0].message.content")
        }
        guard let text = content.string else { throw GeneratorError(.malformed, "choices[0].message.content is not a string") }
        let trimmed = text.trimmedWhitespace
        guard !trimmed.isEmpty else { throw GeneratorError(.empty, "the completion is empty (finish_reason \(choice["finish_reason"]?.string ?? "none"))") }
        return trimmed
    }
}
