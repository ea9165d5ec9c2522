import CSQLite

/// A failed SQLite call: the result code (extended), SQLite's message and what we were doing;
/// never seen outside the SQLite backend: the store throws it as a
/// `StoreError.database(DatabaseFailure)` (`failure`), which says whether retrying can help.
public struct SQLiteError: Error, Equatable, Sendable, CustomStringConvertible {
    public var code: Int32
    public var message: String
    public var context: String

    public init(code: Int32, message: String, context: String) {
        self.code = code
        self.message = message
        self.context = context
    }

    /// The primary result code (the low byte of the extended code).
    public var primary: Int32 { code & 0xff }

    /// The failure in backend-neutral terms (what `StoreError` carries). BUSY, LOCKED and
    /// PROTOCOL are transient (`busy`); I/O errors are retried a bounded number of times
    /// (`io`): a full or failing disk keeps failing and surfaces, a momentary one passes.
    var failure: DatabaseFailure {
        let kind: DatabaseFailure.Kind
        switch primary {
        case SQLITE_BUSY, SQLITE_LOCKED, SQLITE_PROTOCOL: kind = .busy
        case SQLITE_IOERR: kind = .io
        case SQLITE_CONSTRAINT: kind = .constraint
        case SQLITE_CORRUPT, SQLITE_NOTADB: kind = .corrupt
        case SQLITE_FULL: kind = .full
        default: kind = .other
        }
        return DatabaseFailure(kind: kind, message: "\(message) (sqlite code \(code))", context: context)
    }

    public var description: String {
        "\(context): \(message) (sqlite code \(code))"
    }
}

extension StoreError {
    /// The SQLite backend's failures, as every caller sees them.
    static func database(_ e: SQLiteError) -> StoreError { .database(e.failure) }
}
