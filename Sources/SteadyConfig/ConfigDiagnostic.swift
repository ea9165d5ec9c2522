/// One problem found in a config file, printed by `steadypostd check-config` as
/// `PATH:LINE: KEY: message`.
///
/// `key` is the dotted path of the offending key (`workers.posting.hang_timeout`,
/// `accounts[0].platform`, with 0-based account indices); `line` is its 1-based line. A problem
/// not tied to a line or key (the file cannot be read) has line 0 and key "-"; a TOML syntax
/// error has its line and key "-".
public struct ConfigDiagnostic: Error, Equatable, Sendable, CustomStringConvertible {
    public var path: String
    public var line: Int
    public var key: String
    public var message: String

    public init(path: String, line: Int, key: String, message: String) {
        self.path = path
        self.line = line
        self.key = key
        self.message = message
    }

    public var description: String { "\(path):\(line): \(key): \(message)" }
}

/// Every problem found in a config file, sorted by line (problems on the same line keep the
/// order in which they were found). Never empty when thrown.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var diagnostics: [ConfigDiagnostic]

    public init(diagnostics: [ConfigDiagnostic]) {
        self.diagnostics = diagnostics
    }

    /// One diagnostic per line, no trailing newline.
    public var description: String { diagnostics.map(\.description).joined(separator: "\n") }
}
