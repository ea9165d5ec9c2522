/// Why the posting engine cannot start (a directory, a fault spec): the worker exits with it
/// and the supervisor shows it.
public struct PostingStartError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
