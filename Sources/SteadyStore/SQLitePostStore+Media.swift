import SteadyCore

/// Attachments and their uploads (migration 6).
extension SQLitePostStore {
    public func attachments(postIds: [String]) throws(StoreError) -> [String: [MediaAttachment]] {
        guard !postIds.isEmpty else { return [:] }
        var out: [String: [MediaAttachment]] = [:]
        // SQLite binds at most 32766 values a statement; a `jobs` page is far smaller.
        for chunk in stride(from: 0, to: postIds.count, by: 500).map({ Array(postIds[$0..<min($0 + 500, postIds.count)]) }) {
            let marks = Array(repeating: "?", count: chunk.count).joined(separator: ", ")
            let rows = try query("SELECT post_id, sha256, type, bytes, alt FROM post_media WHERE post_id IN (\(marks)) ORDER BY post_id, position",
                                 chunk.map { .text($0) })
            for r in rows {
                let type = MediaType(rawValue: r.text(2)!) ?? .png
                out[r.text(0)!, default: []].append(MediaAttachment(sha256: r.text(1)!, type: type, bytes: r.int(3)!, alt: r.text(4)))
            }
        }
        return out
    }

    public func mediaUploads(postId: String) throws(StoreError) -> [MediaUpload] {
        try query("SELECT post_id, position, sha256, handle, progress, complete, expires_at, attempt_id, updated_at FROM media_uploads WHERE post_id = ? ORDER BY position",
                  [.text(postId)]).map { r in
            MediaUpload(postId: r.text(0)!, position: Int(r.int(1)!), sha256: r.text(2)!, handle: r.text(3)!, progress: r.text(4),
                        complete: r.int(5)! != 0, expiresAt: r.int(6), attemptId: r.text(7), updatedAt: r.int(8)!)
        }
    }

    public func saveMediaUpload(_ u: MediaUpload) throws(StoreError) {
        _ = try write("INSERT OR REPLACE INTO media_uploads (post_id, position, sha256, handle, progress, complete, expires_at, attempt_id, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  [.text(u.postId), .integer(Int64(u.position)), .text(u.sha256), .text(u.handle), u.progress.sql, .integer(u.complete ? 1 : 0),
                   u.expiresAt.sql, u.attemptId.sql, .integer(u.updatedAt)])
    }

    public func dropMediaUpload(postId: String, position: Int) throws(StoreError) {
        _ = try write("DELETE FROM media_uploads WHERE post_id = ? AND position = ?", [.text(postId), .integer(Int64(position))])
    }

    public func referencedMedia(finalSince: Int64) throws(StoreError) -> Set<String> {
        let rows = try query("""
            SELECT DISTINCT m.sha256 FROM post_media m JOIN posts p ON p.id = m.post_id
            WHERE p.state NOT IN ('posted', 'failed', 'cancelled') OR p.updated_at >= ?
            """, [.integer(finalSince)])
        return Set(rows.map { $0.text(0)! })
    }
}
