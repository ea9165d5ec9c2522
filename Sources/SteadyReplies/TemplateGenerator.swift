import SteadyConfig

/// The built-in generator: a template with `{author}`, `{account}`, `{handle}`,
/// `{platform}` and `{text}` filled in from the mention. Unknown `{names}` are refused when
/// the config is read, so rendering cannot fail on them.
public struct TemplateGenerator: ReplyGenerator {
    public let template: String
    public var name: String { "template" }

    public init(template: String) {
        self.template = template
    }

    public func reply(to context: ReplyContext) throws(GeneratorError) -> String {
        let values: [String: String] = [
            "author": context.authorHandle ?? "there",
            "account": context.account,
            "handle": context.handle ?? context.account,
            "platform": context.platform.rawValue,
            "text": context.text,
        ]
        var out = ""
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            out += rest[..<open]
            let name = String(rest[rest.index(after: open)..<close])
            out += values[name] ?? "{\(name)}"
            rest = rest[rest.index(after: close)...]
        }
        out += rest
        let trimmed = out.trimmedWhitespace
        guard !trimmed.isEmpty else { throw GeneratorError(.empty, "the template rendered an empty reply") }
        return trimmed
    }
}
