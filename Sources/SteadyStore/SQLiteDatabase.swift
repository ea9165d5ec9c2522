import CSQLite
import Glibc

/// One SQLite connection. steadypost opens exactly one per process (F12: no pools that
/// leak); the store serialises its use. WAL mode, `synchronous=FULL`, a busy timeout and
/// foreign keys on. Not thread-safe by itself: `SQLitePostStore` holds the lock.
public final class SQLiteDatabase {
    let handle: OpaquePointer
    public let path: String

    public init(path: String, busyTimeoutMillis: Int32 = 5000) throws(SQLiteError) {
        var db: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        let rc = sqlite3_open_v2(path, &db, flags, nil)
        guard rc == SQLITE_OK, let db else {
            let message = db.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            if let db { sqlite3_close_v2(db) }
            throw SQLiteError(code: rc, message: message, context: "open \(path)")
        }
        handle = db
        self.path = path
        sqlite3_extended_result_codes(db, 1)
        sqlite3_busy_timeout(db, busyTimeoutMillis)
        try execute("PRAGMA journal_mode=WAL")
        try execute("PRAGMA synchronous=FULL")
        try execute("PRAGMA foreign_keys=ON")
    }

    deinit {
        statements.removeAll()  // finalised before the connection closes
        sqlite3_close_v2(handle)
    }

    func error(_ rc: Int32, _ context: String) -> SQLiteError {
        let extended = sqlite3_extended_errcode(handle)
        return SQLiteError(code: extended != 0 ? extended : rc,
                    message: String(cString: sqlite3_errmsg(handle)), context: context)
    }

    /// Runs one or more statements that return no rows.
    public func execute(_ sql: String) throws(SQLiteError) {
        var errmsg: UnsafeMutablePointer<CChar>?
        let rc = sqlite3_exec(handle, sql, nil, nil, &errmsg)
        if rc != SQLITE_OK {
            let message: String = errmsg.map { String(cString: $0) } ?? String(cString: sqlite3_errstr(rc))
            sqlite3_free(errmsg)
            throw SQLiteError(code: sqlite3_extended_errcode(handle), message: message, context: String(sql.prefix(60)))
        }
    }

    /// The statement for `sql`, compiled once per connection and kept (P3: compiling costs
    /// about as much as running the short statements of a claim round). Each `run` resets and
    /// rebinds it and returns every row, so one statement is never in two runs at once.
    public func prepare(_ sql: String) throws(SQLiteError) -> Statement {
        if let cached = statements[sql] { return cached }
        var stmt: OpaquePointer?
        let rc = sqlite3_prepare_v2(handle, sql, -1, &stmt, nil)
        guard rc == SQLITE_OK, let stmt else { throw error(rc, "prepare \(sql.prefix(60))") }
        let statement = Statement(stmt, db: self, sql: sql)
        if statements.count >= Self.statementCacheLimit { statements.removeAll() }
        statements[sql] = statement
        return statement
    }

    /// Compiled statements by SQL text; the store's SQL is a fixed set, the limit a guard.
    private var statements: [String: Statement] = [:]
    static let statementCacheLimit = 128

    /// Rows changed by the last statement.
    public var changes: Int { Int(sqlite3_changes(handle)) }
}

/// A SQLite value as bound or read.
public enum SQLValue: Equatable, Sendable {
    case null
    case integer(Int64)
    case text(String)
    case real(Double)
}

extension SQLValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .text(value) }
    public init(integerLiteral value: Int64) { self = .integer(value) }
    public init(nilLiteral: ()) { self = .null }
}

public extension Optional where Wrapped == String {
    var sql: SQLValue { map { .text($0) } ?? .null }
}

public extension Optional where Wrapped == Int64 {
    var sql: SQLValue { map { .integer($0) } ?? .null }
}

/// A prepared statement; finalised when released.
public final class Statement {
    let stmt: OpaquePointer
    unowned let db: SQLiteDatabase
    let sql: String

    init(_ stmt: OpaquePointer, db: SQLiteDatabase, sql: String) {
        self.stmt = stmt
        self.db = db
        self.sql = sql
    }

    deinit { sqlite3_finalize(stmt) }

    func bind(_ values: [SQLValue]) throws(SQLiteError) {
        sqlite3_reset(stmt)
        sqlite3_clear_bindings(stmt)
        for (i, value) in values.enumerated() {
            let index = Int32(i + 1)
            let rc: Int32
            switch value {
            case .null: rc = sqlite3_bind_null(stmt, index)
            case .integer(let v): rc = sqlite3_bind_int64(stmt, index, v)
            case .real(let v): rc = sqlite3_bind_double(stmt, index, v)
            case .text(let v):
                rc = v.withCString { steady_sqlite_bind_text(stmt, index, $0, Int32(v.utf8.count)) }
            }
            if rc != SQLITE_OK { throw db.error(rc, "bind \(index) of \(sql.prefix(60))") }
        }
    }

    /// Runs the statement with `values`; returns every row.
    @discardableResult
    public func run(_ values: [SQLValue] = []) throws(SQLiteError) -> [Row] {
        try bind(values)
        var rows: [Row] = []
        while true {
            let rc = sqlite3_step(stmt)
            if rc == SQLITE_DONE { break }
            guard rc == SQLITE_ROW else {
                let err = db.error(rc, "step \(sql.prefix(60))")
                sqlite3_reset(stmt)
                throw err
            }
            var columns: [SQLValue] = []
            let n = sqlite3_column_count(stmt)
            for c in 0..<n {
                switch sqlite3_column_type(stmt, c) {
                case SQLITE_INTEGER: columns.append(.integer(sqlite3_column_int64(stmt, c)))
                case SQLITE_FLOAT: columns.append(.real(sqlite3_column_double(stmt, c)))
                case SQLITE_NULL: columns.append(.null)
                default:
                    // By length, never up to the first NUL: a stored text comes back whole.
                    let length = Int(sqlite3_column_bytes(stmt, c))
                    let text = sqlite3_column_text(stmt, c).map {
                        String(decoding: UnsafeBufferPointer(start: $0, count: length), as: UTF8.self)
                    } ?? ""
                    columns.append(.text(text))
                }
            }
            rows.append(Row(values: columns))
        }
        sqlite3_reset(stmt)
        return rows
    }
}

/// One result row, read by column index.
public struct Row: Sendable {
    public var values: [SQLValue]
    public func int(_ i: Int) -> Int64? { if case .integer(let v) = values[i] { return v } else { return nil } }
    public func text(_ i: Int) -> String? { if case .text(let v) = values[i] { return v } else { return nil } }
}
