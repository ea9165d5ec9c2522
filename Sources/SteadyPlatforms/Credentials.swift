import SteadyCore

/// A credentials file as INTERFACE.md defines it: the members its platform's definition lists
/// (`PlatformDefinition.credentialFields`), each a non-empty string. Descriptions never show a
/// secret.
public struct Credentials: Sendable, Equatable, CustomStringConvertible {
    public let platform: Platform
    public let fields: [CredentialField]
    private let values: [String: String]

    /// Credentials from values already read; members that are not among `fields`, or empty, are
    /// dropped.
    public init(platform: Platform, fields: [CredentialField], values: [String: String]) {
        self.platform = platform
        self.fields = fields
        var kept: [String: String] = [:]
        for f in fields { if let v = values[f.name], !v.isEmpty { kept[f.name] = v } }
        self.values = kept
    }

    /// The value of member `name`, if the file had it.
    public subscript(name: String) -> String? { values[name] }

    /// Parses a credentials file for `platform`. Unknown members are ignored (the simulator
    /// adds `web_password` for the browser path).
    public static func parse(_ text: String, platform: Platform) throws(CredentialsError) -> Credentials {
        guard let definition = PlatformRegistry.definition(for: platform) else {
            throw CredentialsError(platform: platform, problem: "steadypost has no adapter for this platform")
        }
        let json: JSON
        do {
            json = try JSON.parse(text)
        } catch {
            // The parse error's offset is safe; its input is not echoed.
            throw CredentialsError(platform: platform, problem: "not valid JSON (\(error.description))")
        }
        guard json.isObject else { throw CredentialsError(platform: platform, problem: "not a JSON object") }
        var values: [String: String] = [:]
        for field in definition.credentialFields {
            if let v = json[field.name]?.string, !v.isEmpty {
                values[field.name] = v
            } else if field.required {
                throw CredentialsError(platform: platform, problem: "missing or empty string member \"\(field.name)\"")
            }
        }
        return Credentials(platform: platform, fields: definition.credentialFields, values: values)
    }

    /// Every secret in these credentials (for redaction).
    public var secrets: [String] { fields.filter(\.secret).compactMap { values[$0.name] } }

    public var description: String {
        let shown = fields.map { f -> String in
            guard let v = values[f.name] else { return "\(f.name): none" }
            return "\(f.name): \(f.secret ? "[redacted]" : v)"
        }
        return "\(platform.rawValue) credentials(\(shown.joined(separator: ", ")))"
    }
}

public struct CredentialsError: Error, Sendable, Equatable, CustomStringConvertible {
    public var platform: Platform
    public var problem: String
    public var description: String { "\(platform.rawValue) credentials: \(problem)" }
}
