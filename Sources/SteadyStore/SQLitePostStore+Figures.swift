/// Read-only figures for the operator surface (health, `/metrics`, the dashboard). Each is
/// one deferred read transaction: none waits for or blocks the posting worker's writes.
extension SQLitePostStore {
    /// Posts that reached `posted`, `failed`, `parked` or `unknown` at or after `since`
    /// (their last change), by state.
    public func settledCounts(since: Int64) throws(StoreError) -> [PostState: Int] {
        var out: [PostState: Int] = [:]
        for r in try query("SELECT state, COUNT(*) FROM posts WHERE updated_at >= ? AND state IN ('posted','failed','parked','unknown') GROUP BY state", [.integer(since)]) {
            if let s = PostState(rawValue: r.text(0)!) { out[s] = Int(r.int(1)!) }
        }
        return out
    }

    /// The mean time from due to posted (ms) of posts posted at or after `since`; nil when
    /// none was.
    public func averageDueToPosted(since: Int64) throws(StoreError) -> Int64? {
        try query("SELECT CAST(AVG(MAX(updated_at - due_at, 0)) AS INTEGER) FROM posts WHERE state = 'posted' AND updated_at >= ?", [.integer(since)]).first?.int(0)
    }

    /// Posts that should have moved on and did not: claimed or attempting for longer than
    /// `after`, or scheduled and due more than `after` ago (a thread part waiting for the part
    /// before it is not due yet, whatever its thread's time).
    public func stuckPosts(now: Int64, after: Int64) throws(StoreError) -> Int {
        Int(try query("""
            SELECT COUNT(*) FROM posts WHERE (state IN ('claimed','attempting') AND updated_at < ?1)
            OR (state = 'scheduled' AND thread_waiting = 0 AND COALESCE(next_try_at, due_at) < ?1)
            """, [.integer(now - after)]).first?.int(0) ?? 0)
    }

    /// Unknown outcomes settled by verification (attempts started at or after `since` whose
    /// detail records a verification), and posts still unknown although their last attempt
    /// began before `overdueBefore` (fresh ones are still being verified, not failures).
    public func verificationTally(since: Int64, overdueBefore: Int64) throws(StoreError) -> (verified: Int, overdue: Int) {
        let verified = try query("SELECT COUNT(*) FROM attempts WHERE started_at >= ? AND detail LIKE '%verified %'", [.integer(since)]).first?.int(0) ?? 0
        let overdue = try query("""
            SELECT COUNT(*) FROM posts p WHERE p.state = 'unknown'
            AND COALESCE((SELECT MAX(a.started_at) FROM attempts a WHERE a.post_id = p.id), p.updated_at) < ?
            """, [.integer(overdueBefore)]).first?.int(0) ?? 0
        return (Int(verified), Int(overdue))
    }

    /// Posts posted per hour (keyed by the hour's start, ms UTC) at or after `since`.
    public func postedPerHour(since: Int64) throws(StoreError) -> [Int64: Int] {
        var out: [Int64: Int] = [:]
        for r in try query("SELECT (updated_at / 3600000) * 3600000, COUNT(*) FROM posts WHERE state = 'posted' AND updated_at >= ? GROUP BY 1", [.integer(since)]) {
            out[r.int(0)!] = Int(r.int(1)!)
        }
        return out
    }

    /// Every posted post's time from due to posted, as a cumulative histogram over `bounds`
    /// (ms, ascending): how many took at most each bound, how many in all, and their sum.
    public func postLatencyHistogram(bounds: [Int64]) throws(StoreError) -> (cumulative: [Int], count: Int, sumMillis: Int64) {
        let buckets = bounds.map { "COALESCE(SUM(CASE WHEN MAX(updated_at - due_at, 0) <= \($0) THEN 1 ELSE 0 END), 0)" }
        // TOTAL, not SUM: SUM fails with "integer overflow" on a wild stored due time, and
        // the figures must answer whatever the rows hold.
        let sql = "SELECT COUNT(*), CAST(TOTAL(MAX(updated_at - due_at, 0)) AS INTEGER)\(buckets.isEmpty ? "" : ", " + buckets.joined(separator: ", ")) FROM posts WHERE state = 'posted'"
        guard let r = try query(sql, []).first else { return (bounds.map { _ in 0 }, 0, 0) }
        return ((0..<bounds.count).map { Int(r.int($0 + 2) ?? 0) }, Int(r.int(0) ?? 0), r.int(1) ?? 0)
    }

    /// Attempts by outcome (`in_flight` for those not finished).
    public func attemptOutcomes() throws(StoreError) -> [String: Int] {
        var out: [String: Int] = [:]
        for r in try query("SELECT COALESCE(outcome, 'in_flight'), COUNT(*) FROM attempts GROUP BY 1", []) {
            out[r.text(0)!] = Int(r.int(1)!)
        }
        return out
    }

    /// The latest posts that failed or carry an error, newest change first.
    public func recentFailures(limit: Int) throws(StoreError) -> [Post] {
        try query("SELECT \(Self.postColumns) FROM posts WHERE state IN ('failed','parked') OR last_error IS NOT NULL ORDER BY updated_at DESC LIMIT ?",
                  [.integer(Int64(limit))]).map(Self.post)
    }
}
