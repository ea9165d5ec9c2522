/// One posted item's scrape schedule (migration 3): which step of the schedule comes next and
/// when, how often the current step has failed, and — once over — whether it ended `done`
/// (every step sampled) or `failed` (a step ran out of tries; `lastError` says why).
public struct MetricItem: Equatable, Sendable {
    public enum State: String, Sendable, CaseIterable { case active, done, failed }
    public var postId: String
    public var account: String
    public var platformId: String
    public var postedAt: Int64
    /// Index into the schedule of the next sample.
    public var step: Int
    public var nextAt: Int64?
    public var state: State
    /// Failures of the current step (reset by a sample).
    public var tries: Int
    /// Failures over the item's life.
    public var failures: Int
    public var lastError: String?
}

/// One engagement sample, stored with the time it was taken (growth can be plotted).
public struct MetricSample: Equatable, Sendable {
    public var postId: String
    public var step: Int
    public var takenAt: Int64
    /// `api` or `browser`.
    public var source: String
    public var likes: Int
    public var reposts: Int
    public var replies: Int
    public var quotes: Int
    public var bookmarks: Int?
    public var impressions: Int?

    public init(postId: String, step: Int, takenAt: Int64, source: String, likes: Int, reposts: Int, replies: Int, quotes: Int,
                bookmarks: Int? = nil, impressions: Int? = nil) {
        self.postId = postId
        self.step = step
        self.takenAt = takenAt
        self.source = source
        self.likes = likes
        self.reposts = reposts
        self.replies = replies
        self.quotes = quotes
        self.bookmarks = bookmarks
        self.impressions = impressions
    }
}

/// A posted item not yet on a scrape schedule.
public struct PostedItem: Equatable, Sendable {
    public var postId: String
    public var account: String
    public var platformId: String
    /// When the platform accepted it: the published attempt's end, else the post's last change.
    public var postedAt: Int64
}

/// The metrics worker's store calls. Each is one short transaction; the scrape itself (HTTP)
/// happens between them, never inside one.
extension SQLitePostStore {
    static let metricItemColumns = "post_id, account, platform_id, posted_at, step, next_at, state, tries, failures, last_error"

    static func metricItem(_ r: Row) -> MetricItem {
        MetricItem(postId: r.text(0)!, account: r.text(1)!, platformId: r.text(2)!, postedAt: r.int(3)!, step: Int(r.int(4)!),
                   nextAt: r.int(5), state: MetricItem.State(rawValue: r.text(6)!) ?? .failed, tries: Int(r.int(7)!),
                   failures: Int(r.int(8)!), lastError: r.text(9))
    }

    /// One write statement in its own transaction; returns the rows it changed.
    @discardableResult
    func write(_ sql: String, _ values: [SQLValue]) throws(StoreError) -> Int {
        try transaction { db throws(StoreError) in
            do throws(SQLiteError) {
                try db.prepare(sql).run(values)
                return db.changes
            } catch { throw .database(error) }
        }
    }

    /// Posted items with a platform id that have no schedule yet, oldest first.
    public func unscheduledPostedItems(limit: Int) throws(StoreError) -> [PostedItem] {
        try query("""
            SELECT p.id, p.account, p.platform_id,
                   COALESCE((SELECT MAX(a.finished_at) FROM attempts a WHERE a.post_id = p.id AND a.outcome = 'published'), p.updated_at)
            FROM posts p LEFT JOIN metric_items m ON m.post_id = p.id
            WHERE p.state = 'posted' AND p.platform_id IS NOT NULL AND m.post_id IS NULL
            ORDER BY p.updated_at LIMIT ?
            """, [.integer(Int64(limit))]).map { r in
            PostedItem(postId: r.text(0)!, account: r.text(1)!, platformId: r.text(2)!, postedAt: r.int(3)!)
        }
    }

    /// Puts an item on its schedule at `step`, first due at `nextAt` (an item already there is
    /// left alone). Returns whether it was added.
    @discardableResult
    public func scheduleMetrics(_ item: PostedItem, step: Int, nextAt: Int64, now: Int64) throws(StoreError) -> Bool {
        try write("INSERT OR IGNORE INTO metric_items (post_id, account, platform_id, posted_at, step, next_at, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, 'active', ?)",
                  [.text(item.postId), .text(item.account), .text(item.platformId), .integer(item.postedAt), .integer(Int64(step)),
                   .integer(nextAt), .integer(now)]) == 1
    }

    /// Active items whose next sample is due, earliest first.
    public func dueMetricItems(now: Int64, limit: Int) throws(StoreError) -> [MetricItem] {
        try query("SELECT \(Self.metricItemColumns) FROM metric_items WHERE state = 'active' AND next_at <= ? ORDER BY next_at LIMIT ?",
                  [.integer(now), .integer(Int64(limit))]).map(Self.metricItem)
    }

    /// When the next active item is due.
    public func nextMetricDue() throws(StoreError) -> Int64? {
        try query("SELECT MIN(next_at) FROM metric_items WHERE state = 'active'", []).first?.int(0)
    }

    public func metricItem(postId: String) throws(StoreError) -> MetricItem? {
        try query("SELECT \(Self.metricItemColumns) FROM metric_items WHERE post_id = ?", [.text(postId)]).first.map(Self.metricItem)
    }

    /// Stores the sample of `step` (once: a repeated step keeps the first) and moves the item
    /// to `nextStep` at `nextAt`, or `done` when there is none.
    public func recordSample(_ sample: MetricSample, nextStep: Int?, nextAt: Int64?, now: Int64) throws(StoreError) {
        try transaction { db throws(StoreError) in
            do throws(SQLiteError) {
                try db.prepare("INSERT OR IGNORE INTO metric_samples (post_id, step, taken_at, source, likes, reposts, replies, quotes, bookmarks, impressions) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")
                    .run([.text(sample.postId), .integer(Int64(sample.step)), .integer(sample.takenAt), .text(sample.source),
                          .integer(Int64(sample.likes)), .integer(Int64(sample.reposts)), .integer(Int64(sample.replies)),
                          .integer(Int64(sample.quotes)), sample.bookmarks.map { Int64($0) }.sql, sample.impressions.map { Int64($0) }.sql])
                if let nextStep, let nextAt {
                    try db.prepare("UPDATE metric_items SET step = ?, next_at = ?, tries = 0, last_error = NULL, updated_at = ? WHERE post_id = ?")
                        .run([.integer(Int64(nextStep)), .integer(nextAt), .integer(now), .text(sample.postId)])
                } else {
                    try db.prepare("UPDATE metric_items SET state = 'done', next_at = NULL, tries = 0, last_error = NULL, updated_at = ? WHERE post_id = ?")
                        .run([.integer(now), .text(sample.postId)])
                }
            } catch { throw .database(error) }
        }
    }

    /// Counts a failed scrape of the item's current step: retried at `retryAt`, or, when
    /// nil (the last try), the item ends `failed` with `error` as its reason.
    public func recordScrapeFailure(postId: String, error: String, retryAt: Int64?, now: Int64) throws(StoreError) {
        try write("""
            UPDATE metric_items SET tries = tries + 1, failures = failures + 1, last_error = ?, next_at = ?,
            state = CASE WHEN ? IS NULL THEN 'failed' ELSE state END, updated_at = ? WHERE post_id = ?
            """, [.text(error), retryAt.sql, retryAt.sql, .integer(now), .text(postId)])
    }

    public func metricSamples(postId: String) throws(StoreError) -> [MetricSample] {
        try query("SELECT post_id, step, taken_at, source, likes, reposts, replies, quotes, bookmarks, impressions FROM metric_samples WHERE post_id = ? ORDER BY step",
                  [.text(postId)]).map { r in
            MetricSample(postId: r.text(0)!, step: Int(r.int(1)!), takenAt: r.int(2)!, source: r.text(3)!, likes: Int(r.int(4)!),
                         reposts: Int(r.int(5)!), replies: Int(r.int(6)!), quotes: Int(r.int(7)!), bookmarks: r.int(8).map { Int($0) },
                         impressions: r.int(9).map { Int($0) })
        }
    }

    /// Items by state, plus `retrying`: active items whose current step has failed at least once.
    public func metricItemCounts() throws(StoreError) -> [String: Int] {
        var out: [String: Int] = [:]
        for r in try query("SELECT state, COUNT(*), SUM(tries > 0) FROM metric_items GROUP BY state", []) {
            out[r.text(0)!] = Int(r.int(1)!)
            if r.text(0) == "active" { out["retrying"] = Int(r.int(2) ?? 0) }
        }
        return out
    }

    /// Items that ended `failed`, most recent first, with their reasons.
    public func failedMetricItems(limit: Int) throws(StoreError) -> [MetricItem] {
        try query("SELECT \(Self.metricItemColumns) FROM metric_items WHERE state = 'failed' ORDER BY updated_at DESC LIMIT ?",
                  [.integer(Int64(limit))]).map(Self.metricItem)
    }
}
