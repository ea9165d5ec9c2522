/// The schema, as numbered migrations applied in order inside one transaction each;
/// `PRAGMA user_version` records the last one applied. Append, never edit, a migration.
enum Migrations {
    static let all: [String] = [
        // 1: posts, attempts, per-account state.
        """
        CREATE TABLE posts (
            id TEXT PRIMARY KEY,
            account TEXT NOT NULL,
            platform TEXT NOT NULL,
            kind TEXT NOT NULL DEFAULT 'post' CHECK (kind IN ('post', 'reply')),
            text TEXT NOT NULL,
            in_reply_to TEXT,
            content_hash TEXT NOT NULL,
            due_at INTEGER NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('scheduled','claimed','attempting','posted','unknown','failed','cancelled','parked')),
            created_at INTEGER NOT NULL,
            updated_at INTEGER NOT NULL,
            lease_owner TEXT,
            lease_expires_at INTEGER,
            next_try_at INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            lease_losses INTEGER NOT NULL DEFAULT 0,
            platform_id TEXT,
            last_error TEXT,
            last_error_class TEXT
        );
        CREATE INDEX posts_by_state_due ON posts (state, due_at);
        CREATE INDEX posts_by_account ON posts (account, state);
        CREATE INDEX posts_by_lease ON posts (lease_expires_at) WHERE lease_expires_at IS NOT NULL;
        CREATE TABLE attempts (
            id TEXT PRIMARY KEY,
            post_id TEXT NOT NULL REFERENCES posts (id),
            number INTEGER NOT NULL,
            started_at INTEGER NOT NULL,
            finished_at INTEGER,
            idempotency_key TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            adapter TEXT NOT NULL,
            account TEXT NOT NULL,
            outcome TEXT,
            detail TEXT,
            platform_id TEXT,
            UNIQUE (post_id, number)
        );
        CREATE INDEX attempts_by_account_time ON attempts (account, started_at);
        """,
        // 2: per-account state the posting worker persists (rotated tokens, pauses, breaker),
        // and the verification bookkeeping of unknown posts.
        """
        CREATE TABLE account_state (
            account TEXT PRIMARY KEY,
            tokens TEXT,
            tokens_updated_at INTEGER,
            paused_until INTEGER,
            pause_reason TEXT,
            breaker TEXT,
            updated_at INTEGER NOT NULL
        );
        ALTER TABLE posts ADD COLUMN verify_tries INTEGER NOT NULL DEFAULT 0;
        CREATE INDEX posts_by_platform_id ON posts (platform_id) WHERE platform_id IS NOT NULL;
        """,
        // 3: the metrics worker's per-item scrape schedule and its samples; the replies
        // worker's mentions (seen once, with the decision and the reply post) and its
        // hourly quota reservations; replies found by their target.
        """
        CREATE TABLE metric_items (
            post_id TEXT PRIMARY KEY REFERENCES posts (id),
            account TEXT NOT NULL,
            platform_id TEXT NOT NULL,
            posted_at INTEGER NOT NULL,
            step INTEGER NOT NULL DEFAULT 0,
            next_at INTEGER,
            state TEXT NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'done', 'failed')),
            tries INTEGER NOT NULL DEFAULT 0,
            failures INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            updated_at INTEGER NOT NULL
        );
        CREATE INDEX metric_items_due ON metric_items (state, next_at);
        CREATE TABLE metric_samples (
            post_id TEXT NOT NULL REFERENCES posts (id),
            step INTEGER NOT NULL,
            taken_at INTEGER NOT NULL,
            source TEXT NOT NULL,
            likes INTEGER NOT NULL,
            reposts INTEGER NOT NULL,
            replies INTEGER NOT NULL,
            quotes INTEGER NOT NULL,
            bookmarks INTEGER,
            impressions INTEGER,
            PRIMARY KEY (post_id, step)
        );
        CREATE TABLE mentions (
            account TEXT NOT NULL,
            mention_id TEXT NOT NULL,
            post_id TEXT NOT NULL,
            author_id TEXT,
            author_handle TEXT,
            text TEXT NOT NULL,
            created_at INTEGER,
            seen_at INTEGER NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('answer', 'ignored', 'enqueued', 'failed')),
            reason TEXT,
            tries INTEGER NOT NULL DEFAULT 0,
            next_try_at INTEGER,
            reply_text TEXT,
            reply_post_id TEXT,
            last_error TEXT,
            last_error_class TEXT,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (account, mention_id)
        );
        CREATE INDEX mentions_due ON mentions (decision, next_try_at);
        CREATE TABLE reply_quota (
            account TEXT NOT NULL,
            mention_id TEXT NOT NULL,
            reserved_at INTEGER NOT NULL,
            PRIMARY KEY (account, mention_id)
        );
        CREATE INDEX reply_quota_by_time ON reply_quota (account, reserved_at);
        CREATE INDEX posts_by_reply_target ON posts (account, in_reply_to) WHERE in_reply_to IS NOT NULL;
        """,
        // 4: the reconciler: each run's report, posts found on a timeline that are not ours,
        // and duplicates of one text found on an account's timeline (F26, F30).
        """
        CREATE TABLE reconcile_runs (
            id TEXT PRIMARY KEY,
            pass TEXT NOT NULL,
            account TEXT,
            started_at INTEGER NOT NULL,
            finished_at INTEGER NOT NULL,
            ok INTEGER NOT NULL,
            changes INTEGER NOT NULL,
            report TEXT NOT NULL
        );
        CREATE INDEX reconcile_runs_by_time ON reconcile_runs (started_at);
        CREATE TABLE foreign_posts (
            account TEXT NOT NULL,
            platform_id TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            text TEXT NOT NULL,
            created_at_ms INTEGER,
            first_seen_at INTEGER NOT NULL,
            last_seen_at INTEGER NOT NULL,
            PRIMARY KEY (account, platform_id)
        );
        CREATE TABLE duplicate_findings (
            account TEXT NOT NULL,
            content_hash TEXT NOT NULL,
            platform_ids TEXT NOT NULL,
            post_id TEXT,
            first_seen_at INTEGER NOT NULL,
            last_seen_at INTEGER NOT NULL,
            times_reported INTEGER NOT NULL DEFAULT 1,
            PRIMARY KEY (account, content_hash, platform_ids)
        );
        """,
        // 5: the HTTP API's bearer tokens, by name, stored as SHA-256 hex only (a token is
        // shown once, at creation); revoked tokens stay for the record.
        """
        CREATE TABLE IF NOT EXISTS api_tokens (
            name TEXT NOT NULL,
            hash TEXT NOT NULL UNIQUE,
            created_at INTEGER NOT NULL,
            revoked_at INTEGER,
            last_used_at INTEGER
        );
        CREATE UNIQUE INDEX IF NOT EXISTS api_tokens_active_name ON api_tokens (name) WHERE revoked_at IS NULL;
        """,
        // 6: attachments (issue 15). A post's media in order, by content hash (the bytes are in
        // the media store); each upload's platform handle, kept so a restarted worker reuses
        // it while valid (an upload is repeated, never verified: it publishes nothing).
        """
        CREATE TABLE IF NOT EXISTS post_media (
            post_id TEXT NOT NULL REFERENCES posts(id),
            position INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            type TEXT NOT NULL,
            bytes INTEGER NOT NULL,
            alt TEXT,
            PRIMARY KEY (post_id, position)
        );
        CREATE INDEX IF NOT EXISTS post_media_sha256 ON post_media (sha256);
        CREATE TABLE IF NOT EXISTS media_uploads (
            post_id TEXT NOT NULL REFERENCES posts(id),
            position INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            handle TEXT NOT NULL,
            progress TEXT,
            complete INTEGER NOT NULL,
            expires_at INTEGER,
            attempt_id TEXT,
            updated_at INTEGER NOT NULL,
            PRIMARY KEY (post_id, position)
        );
        """,
        // 7: threads (issue 16). A part knows its thread and 1-based position; a part after the
        // first waits (`thread_waiting`) until the part before it is posted, then is due
        // `thread_gap_ms` later. Bluesky's cid of a posted record, which a reply must name.
        """
        ALTER TABLE posts ADD COLUMN thread_id TEXT;
        ALTER TABLE posts ADD COLUMN thread_position INTEGER;
        ALTER TABLE posts ADD COLUMN thread_gap_ms INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE posts ADD COLUMN thread_waiting INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE posts ADD COLUMN platform_cid TEXT;
        CREATE UNIQUE INDEX IF NOT EXISTS posts_by_thread ON posts (thread_id, thread_position) WHERE thread_id IS NOT NULL;
        """,
    ]
}
