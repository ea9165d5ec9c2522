/// Threads (issue 16): a chain of posts of one account, each part answering the one before.
/// Whatever moves a part moves the thread in the same transaction (`threadFollowUp`): a part
/// posted frees the next, a part failed for good stops the rest, a part cancelled cancels the
/// rest. An `unknown`, `parked` or retried part holds the rest simply by not being `posted`.
extension SQLitePostStore {
    /// The parts of thread `threadId`, in order; empty when there is no such thread.
    public func threadParts(threadId: String) throws(StoreError) -> [Post] {
        try transaction(readOnly: true) { db throws(StoreError) in try threadParts(db, threadId) }
    }

    /// Cancels every part of the thread that has not started an attempt (a part already
    /// attempting or done is left as it is); returns all its parts afterwards, in order.
    public func cancelThread(threadId: String, now: Int64) throws(StoreError) -> [Post] {
        try transaction { db throws(StoreError) in
            let parts = try threadParts(db, threadId)
            guard !parts.isEmpty else { throw .notFound(threadId) }
            do throws(SQLiteError) {
                let stmt = try db.prepare("UPDATE posts SET state = ?, thread_waiting = 0, updated_at = ? WHERE id = ? AND state = 'scheduled'")
                for part in parts {
                    guard let next = try? PostTransitions.next(part.state, .cancel) else { continue }
                    try stmt.run([.text(next.rawValue), .integer(now), .text(part.id)])
                }
            } catch { throw .database(error) }
            return try threadParts(db, threadId)
        }
    }

    func threadParts(_ db: SQLiteDatabase, _ threadId: String) throws(StoreError) -> [Post] {
        do throws(SQLiteError) {
            return try db.prepare("SELECT \(Self.postColumns) FROM posts WHERE thread_id = ? ORDER BY thread_position").run([.text(threadId)]).map(Self.post)
        } catch { throw .database(error) }
    }

    /// After post `id` changed state inside a transaction: what its thread must do now.
    /// Returns the post as it stands.
    /// - posted: the next part stops waiting, answers this part's id, and is due `gap`
    ///   after now (or at its own time, if later);
    /// - failed: every later part not yet attempted fails, naming this part and its reason;
    /// - cancelled: every later part not yet attempted is cancelled (nothing left to answer).
    func threadFollowUp(_ db: SQLiteDatabase, _ id: String, now: Int64) throws(StoreError) -> Post {
        let post = try read(db, id)
        guard let threadId = post.threadId, let position = post.threadPosition else { return post }
        do throws(SQLiteError) {
            switch post.state {
            case .posted:
                guard let platformId = post.platformId else { return post }
                try db.prepare("""
                    UPDATE posts SET thread_waiting = 0, in_reply_to = ?, due_at = MAX(due_at, ? + thread_gap_ms), updated_at = ?
                    WHERE thread_id = ? AND thread_position = ? AND state = 'scheduled' AND thread_waiting = 1
                    """).run([.text(platformId), .integer(now), .integer(now), .text(threadId), .integer(Int64(position + 1))])
            case .failed, .cancelled:
                let event: PostEvent = post.state == .failed ? .threadStopped : .cancel
                let reason = post.state == .failed ? "part \(position) failed: \(post.lastError ?? "refused")" : "part \(position) was cancelled"
                let later = try db.prepare("SELECT \(Self.postColumns) FROM posts WHERE thread_id = ? AND thread_position > ? AND state = 'scheduled'")
                    .run([.text(threadId), .integer(Int64(position))]).map(Self.post)
                let stmt = try db.prepare("""
                    UPDATE posts SET state = ?, thread_waiting = 0, last_error = ?, last_error_class = ?, updated_at = ? WHERE id = ? AND state = 'scheduled'
                    """)
                for part in later {
                    guard let next = try? PostTransitions.next(part.state, event) else { continue }
                    try stmt.run([.text(next.rawValue), .text(reason), post.state == .failed ? .text("permanent") : .null, .integer(now), .text(part.id)])
                }
            default:
                break
            }
        } catch { throw .database(error) }
        return post
    }
}
