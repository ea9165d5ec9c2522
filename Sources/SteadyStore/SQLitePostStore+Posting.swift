/// What the posting worker needs beyond the contract's core transactions: giving a claim
/// back, scheduling figures for its wake-up time, quota windows, and the verification of
/// `unknown` posts. Every state change still goes through `PostTransitions`.
extension SQLitePostStore {
    /// Gives a claim back without attempting (draining, a store error before the attempt
    /// began): `claimed → scheduled`. Only the lease owner may.
    @discardableResult
    /// `retryAt` (when given) is when it is due again.
    public func release(postId: String, owner: String, now: Int64, reason: String? = nil, retryAt: Int64? = nil) throws(StoreError) -> Post {
        try transaction { db throws(StoreError) in
            var (post, next) = try transition(db, postId, .release)
            guard post.leaseOwner == owner else { throw .conflict("post \(postId) is leased to \(post.leaseOwner ?? "nobody"), not \(owner)") }
            do throws(SQLiteError) {
                try db.prepare("UPDATE posts SET state = ?, lease_owner = NULL, lease_expires_at = NULL, last_error = COALESCE(?, last_error), next_try_at = COALESCE(?, next_try_at), updated_at = ? WHERE id = ?")
                    .run([.text(next.rawValue), reason.sql, retryAt.sql, .integer(now), .text(postId)])
            } catch { throw .database(error) }
            post.state = next
            post.leaseOwner = nil
            post.leaseExpiresAt = nil
            if let retryAt { post.nextTryAt = retryAt }
            return post
        }
    }

    /// Extends a live claim (no state change, so no transition to check): only `owner`'s,
    /// only while `claimed`.
    public func extendClaim(postId: String, owner: String, now: Int64, leaseMillis: Int64) throws(StoreError) -> Bool {
        try transaction { db throws(StoreError) in
            do throws(SQLiteError) {
                try db.prepare("UPDATE posts SET lease_expires_at = ?, updated_at = ? WHERE id = ? AND state = 'claimed' AND lease_owner = ?")
                    .run([.integer(now + leaseMillis), .integer(now), .text(postId), .text(owner)])
                return db.changes == 1
            } catch { throw .database(error) }
        }
    }

    /// Leases the earliest due post of `account` (one account's claim: a paused or busy
    /// account's backlog never hides another account's due post).
    public func claimDue(owner: String, now: Int64, leaseMillis: Int64, account: String) throws(StoreError) -> Post? {
        try transaction { db throws(StoreError) in
            do throws(SQLiteError) {
                guard let row = try db.prepare("SELECT \(Self.postColumns) FROM posts WHERE state = 'scheduled' AND thread_waiting = 0 AND account = ? AND COALESCE(next_try_at, due_at) <= ? ORDER BY COALESCE(next_try_at, due_at), id LIMIT 1")
                    .run([.text(account), .integer(now)]).first else { return nil }
                var post = Self.post(row)
                guard let next = try? PostTransitions.next(post.state, .claim) else { return nil }
                try db.prepare("UPDATE posts SET state = ?, lease_owner = ?, lease_expires_at = ?, updated_at = ? WHERE id = ? AND state = ?")
                    .run([.text(next.rawValue), .text(owner), .integer(now + leaseMillis), .integer(now), .text(post.id), .text(post.state.rawValue)])
                guard db.changes == 1 else { return nil }
                post.state = next
                post.leaseOwner = owner
                post.leaseExpiresAt = now + leaseMillis
                return post
            } catch {
                throw .database(error)
            }
        }
    }

    /// The earliest due time of each account's scheduled posts (`COALESCE(next_try_at,
    /// due_at)`), so the worker can sleep until the first one it may actually claim.
    public func nextDueByAccount() throws(StoreError) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for r in try query("SELECT account, MIN(COALESCE(next_try_at, due_at)) FROM posts WHERE state = 'scheduled' AND thread_waiting = 0 GROUP BY account", []) {
            if let a = r.text(0), let t = r.int(1) { out[a] = t }
        }
        return out
    }

    /// The earliest verification time of each account's `unknown` posts.
    public func nextVerificationByAccount() throws(StoreError) -> [String: Int64] {
        var out: [String: Int64] = [:]
        for r in try query("SELECT account, MIN(COALESCE(next_try_at, 0)) FROM posts WHERE state = 'unknown' GROUP BY account", []) {
            if let a = r.text(0), let t = r.int(1) { out[a] = t }
        }
        return out
    }

    /// When the next lease runs out (a worker that died holding a post is noticed then).
    public func nextLeaseExpiry() throws(StoreError) -> Int64? {
        try query("SELECT MIN(lease_expires_at) FROM posts WHERE state IN ('claimed', 'attempting')", []).first?.int(0)
    }

    /// The start of the oldest attempt of `account` at or after `since`: when the quota
    /// window that counts it moves past it, one more attempt is allowed.
    public func oldestAttemptStarted(account: String, since: Int64) throws(StoreError) -> Int64? {
        try query("SELECT MIN(started_at) FROM attempts WHERE account = ? AND started_at >= ?", [.text(account), .integer(since)]).first?.int(0)
    }

    /// Whether another post of `account` already holds `platformId` (a timeline match that
    /// is someone else's is not ours).
    public func platformIdTaken(_ platformId: String, account: String, excluding postId: String) throws(StoreError) -> Bool {
        let rows = try query("SELECT 1 FROM posts WHERE platform_id = ? AND account = ? AND id <> ? LIMIT 1", [.text(platformId), .text(account), .text(postId)])
        return !rows.isEmpty
    }

    // MARK: - Verification

    /// Takes up to `limit` `unknown` posts of `account` whose verification is due, pushing
    /// their `next_try_at` to `now + leaseMillis` in the same transaction: a verification lease
    /// (no state change), so two verifiers never check one post at once, and a verifier that
    /// dies leaves the post to be checked again when the lease runs out.
    public func claimVerifications(account: String, now: Int64, leaseMillis: Int64, limit: Int) throws(StoreError) -> [VerificationJob] {
        try transaction { db throws(StoreError) in
            do throws(SQLiteError) {
                let rows = try db.prepare("SELECT \(Self.postColumns), verify_tries FROM posts WHERE state = 'unknown' AND account = ? AND COALESCE(next_try_at, 0) <= ? ORDER BY COALESCE(next_try_at, 0), id LIMIT ?")
                    .run([.text(account), .integer(now), .integer(Int64(limit))])
                let update = try db.prepare("UPDATE posts SET next_try_at = ?, updated_at = ? WHERE id = ? AND state = 'unknown'")
                let lastAttempt = try db.prepare("SELECT id, post_id, number, started_at, finished_at, idempotency_key, content_hash, adapter, account, outcome, detail, platform_id FROM attempts WHERE post_id = ? ORDER BY number DESC LIMIT 1")
                var jobs: [VerificationJob] = []
                for row in rows {
                    var post = Self.post(row)
                    let tries = Int(row.int(Self.postColumnCount) ?? 0)
                    try update.run([.integer(now + leaseMillis), .integer(now), .text(post.id)])
                    post.nextTryAt = now + leaseMillis
                    let attempt = try lastAttempt.run([.text(post.id)]).first.map(Self.attempt)
                    jobs.append(VerificationJob(post: post, attempt: attempt, tries: tries))
                }
                return jobs
            } catch {
                throw .database(error)
            }
        }
    }

    /// Records a verification in one transaction: what the result means
    /// (`PostTransitions.verification`: `unknown → posted`, `unknown → scheduled` due at once,
    /// `unknown → failed`, or `unknown → unknown` with the next check time) decided on the row
    /// read in the transaction, then written. The attempt row keeps the evidence.
    @discardableResult
    public func recordVerification(postId: String, attemptId: String?, result: VerificationResult, now: Int64) throws(StoreError) -> Post {
        try transaction { db throws(StoreError) in
            let post = try read(db, postId)
            let effect: VerificationEffect
            do throws(PostTransitions.Refused) { effect = try PostTransitions.verification(result, from: post.state, now: now) } catch { throw .conflict(error.description) }
            do throws(SQLiteError) {
                try db.prepare("""
                    UPDATE posts SET state = ?, platform_id = COALESCE(?, platform_id), next_try_at = ?, last_error = ?, last_error_class = ?,
                    verify_tries = CASE WHEN ? THEN 0 ELSE verify_tries + 1 END, updated_at = ? WHERE id = ?
                    """).run([.text(effect.next.rawValue), effect.platformId.sql, effect.nextTryAt.sql, effect.lastError.sql, effect.lastErrorClass.sql,
                              .integer(effect.resetsVerifyTries ? 1 : 0), .integer(now), .text(postId)])
                if let attemptId, let outcome = effect.attemptOutcome, let detail = effect.attemptDetail {
                    try db.prepare("""
                        UPDATE attempts SET outcome = ?, platform_id = COALESCE(?, platform_id), detail = COALESCE(detail || '; ', '') || ?,
                        finished_at = COALESCE(finished_at, ?) WHERE id = ? AND post_id = ?
                        """).run([.text(outcome), effect.platformId.sql, .text(detail), .integer(now), .text(attemptId), .text(postId)])
                }
                if case .published(_, _, let cid?) = result {
                    try db.prepare("UPDATE posts SET platform_cid = ? WHERE id = ?").run([.text(cid), .text(postId)])
                }
            } catch {
                throw .database(error)
            }
            return try threadFollowUp(db, postId, now: now)
        }
    }

    static func attempt(_ r: Row) -> Attempt {
        Attempt(id: r.text(0)!, postId: r.text(1)!, number: Int(r.int(2)!), startedAt: r.int(3)!, finishedAt: r.int(4), idempotencyKey: r.text(5)!,
                contentHash: r.text(6)!, adapter: r.text(7)!, account: r.text(8)!, outcome: r.text(9), detail: r.text(10), platformId: r.text(11))
    }
}

/// An `unknown` post taken for verification, with the attempt whose outcome is unknown.
public struct VerificationJob: Sendable, Equatable {
    public var post: Post
    /// The post's last attempt: the one that may have published.
    public var attempt: Attempt?
    /// Verification rounds already spent on this post without a decision.
    public var tries: Int
}

/// What verification of an `unknown` post decided.
public enum VerificationResult: Equatable, Sendable {
    /// Live on the platform with this id (found by id, idempotency or timeline); `cid`:
    /// Bluesky's content id of the record found, which a thread's next part must name.
    case published(platformId: String, evidence: String, cid: String? = nil)
    /// Proved absent (Bluesky's getRecord, or a complete timeline scan late enough):
    /// the post may be sent again, now.
    case absent(evidence: String)
    /// Not decidable yet: stays `unknown`, checked again at `nextAt`.
    case undecided(reason: String, nextAt: Int64)
    /// Proved absent, and the platform's refusal was real (X's duplicate-content refusal
    /// of a text posted earlier, not by this post): sending again would be refused again.
    case refused(reason: String)
}
