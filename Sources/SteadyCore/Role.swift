/// A worker process role. Every worker is `steadypostd worker ROLE`; the order of `allCases`
/// is the start order, and shutdown runs in reverse.
public enum Role: String, CaseIterable, Sendable, Codable, Hashable, Comparable {
    case posting
    case metrics
    case replies
    case browser
    case reconciler
    case api

    /// Position in the start order.
    public var startIndex: Int { Role.allCases.firstIndex(of: self)! }

    public static func < (lhs: Role, rhs: Role) -> Bool { lhs.startIndex < rhs.startIndex }

    /// The journald identifier and log prefix of this role's process.
    public var logIdentifier: String { "steadypost-\(rawValue)" }
}
