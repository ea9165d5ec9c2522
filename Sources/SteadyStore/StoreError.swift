/// Why a store call did not do what was asked, whatever the backend.
public enum StoreError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The backend failed (after the retries, for transient failures).
    case database(DatabaseFailure)
    case notFound(String)
    /// The post is not in a state that allows this (e.g. cancel after an attempt began).
    case conflict(String)

    public var description: String {
        switch self {
        case .database(let e): return "store: \(e)"
        case .notFound(let id): return "no post \(id)"
        case .conflict(let why): return why
        }
    }
}

/// A backend's failure in the terms its callers act on: whether retrying can help
/// (`isTransient`: the retry layer keys on it) and what kind of trouble it is, with the
/// backend's own words (and code) in `message` for the log.
public struct DatabaseFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Equatable, Sendable, CaseIterable {
        /// Another connection holds the lock (or the backend says "try again"): transient.
        case busy
        /// A disk or network I/O error: retried a bounded number of times (a momentary one
        /// passes, a failing disk keeps failing and surfaces).
        case io
        /// A constraint refused the write.
        case constraint
        /// The database is damaged, or is not one.
        case corrupt
        /// The disk or the database is full.
        case full
        /// Anything else (a bug, a schema the code does not expect, a read-only file, ...).
        case other
    }

    public var kind: Kind
    public var message: String
    /// What the store was doing.
    public var context: String

    public init(kind: Kind, message: String, context: String) {
        self.kind = kind
        self.message = message
        self.context = context
    }

    public var isTransient: Bool { kind == .busy || kind == .io }

    /// A write error that did not come from the backend: what the test fault points
    /// (STEADYPOST_FAULTS, `FaultInjectingStore`) fail a store write with.
    public static func injectedIOError(_ why: String) -> DatabaseFailure {
        DatabaseFailure(kind: .io, message: "disk I/O error (\(why))", context: "write")
    }

    public var description: String { "\(context): \(message)" }
}
