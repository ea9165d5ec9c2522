import CSQLite

/// A failed SQLite call: the result code (extended), SQLite's message and what we were doing.
/// `isTransient` says whether retrying can help (a lock held by another process, a
/// momentary I/O hiccup), which is what the store's retry layer keys on.
public struct SQLiteError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: Int32
    public var message: String
    public var context: String

    public init(code: Int32, message: String, context: String) {
        self.code = code
        self.message = message
        self.context = context
    }

    /// A disk I/O error (SQLITE_IOERR_WRITE) that did not come from SQLite: what the test
    /// fault points (STEADYPOST_FAULTS) fail a store write with.
    public static func injectedIOError(_ why: String) -> SQLiteError {
        SQLiteError(code: SQLITE_IOERR | (3 << 8), message: "disk I/O error (\(why))", context: "write")
    }

    /// The primary result code (the low byte of the extended code).
    public var primary: Int32 { code & 0xff }

    public var isTransient: Bool {
        switch primary {
        case SQLITE_BUSY, SQLITE_LOCKED, SQLITE_PROTOCOL: return true
        // Disk I/O errors are retried a bounded number of times: a full or failing disk
        // keeps failing and surfaces, a momentary one passes.
        case SQLITE_IOERR: return true
        default: return false
        }
    }

    public var description: String {
        "\(context): \(message) (sqlite code \(code))"
    }
}
