/// One bearer token of the HTTP API as the store keeps it: never the token itself, only its
/// SHA-256 (the caller hashes), so a copy of the database gives no access.
public struct APIToken: Equatable, Sendable {
    public var name: String
    public var createdAt: Int64
    public var revokedAt: Int64?
    public var lastUsedAt: Int64?

    public init(name: String, createdAt: Int64, revokedAt: Int64?, lastUsedAt: Int64?) {
        self.name = name
        self.createdAt = createdAt
        self.revokedAt = revokedAt
        self.lastUsedAt = lastUsedAt
    }
}

/// The API's tokens (migration 5).
extension SQLitePostStore {
    /// Stores a new token under `name`; refused (`conflict`) while another token of that name
    /// is not revoked.
    public func createToken(name: String, hash: String, now: Int64) throws(StoreError) {
        try transaction { db throws(StoreError) in
            let taken: Bool
            do throws(SQLiteError) {
                taken = try !db.prepare("SELECT 1 FROM api_tokens WHERE name = ? AND revoked_at IS NULL").run([.text(name)]).isEmpty
                if !taken {
                    _ = try db.prepare("INSERT INTO api_tokens (name, hash, created_at) VALUES (?, ?, ?)").run([.text(name), .text(hash), .integer(now)])
                }
            } catch {
                throw .database(error)
            }
            if taken { throw .conflict("a token named \(name) exists; revoke it first") }
        }
    }

    /// Every token, revoked ones included, oldest first.
    public func tokens() throws(StoreError) -> [APIToken] {
        try query("SELECT name, created_at, revoked_at, last_used_at FROM api_tokens ORDER BY created_at, name", []).map(Self.token)
    }

    /// Revokes the active token named `name` (`notFound` when there is none).
    public func revokeToken(name: String, now: Int64) throws(StoreError) {
        try transaction { db throws(StoreError) in
            do throws(SQLiteError) {
                _ = try db.prepare("UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL").run([.integer(now), .text(name)])
            } catch {
                throw .database(error)
            }
            if db.changes == 0 { throw StoreError.notFound("token \(name)") }
        }
    }

    /// The active token whose hash is `hash`, or nil (unknown or revoked).
    public func activeToken(hash: String) throws(StoreError) -> APIToken? {
        try query("SELECT name, created_at, revoked_at, last_used_at FROM api_tokens WHERE hash = ? AND revoked_at IS NULL", [.text(hash)]).first.map(Self.token)
    }

    /// Notes a token's use (at most once a minute per token: reads stay reads).
    public func touchToken(hash: String, now: Int64) throws(StoreError) {
        try transaction { db throws(StoreError) in
            do throws(SQLiteError) {
                _ = try db.prepare("UPDATE api_tokens SET last_used_at = ?1 WHERE hash = ?2 AND revoked_at IS NULL AND (last_used_at IS NULL OR last_used_at < ?1 - 60000)")
                    .run([.integer(now), .text(hash)])
            } catch {
                throw .database(error)
            }
        }
    }

    static func token(_ r: Row) -> APIToken {
        APIToken(name: r.text(0)!, createdAt: r.int(1)!, revokedAt: r.int(2), lastUsedAt: r.int(3))
    }
}
