-- Fleet operations, SQLite dialect. Keep in step with ../postgres/0003_ops.sql.
-- Times are unix milliseconds.

-- Releases: the signed manifest's fields; the artifact lives in release_blobs.
CREATE TABLE releases (
    version TEXT PRIMARY KEY NOT NULL,
    sha256 TEXT NOT NULL,
    size INTEGER NOT NULL,
    min_version TEXT NOT NULL,
    published_at INTEGER NOT NULL,
    signature TEXT NOT NULL,
    key_id TEXT NOT NULL
);

-- Artifacts, content-addressed, in chunks of a fixed size so a ranged download reads only
-- the chunks it needs, and every central node sharing this database can serve them.
CREATE TABLE release_blobs (
    sha256 TEXT NOT NULL,
    chunk_index INTEGER NOT NULL,
    data BLOB NOT NULL,
    PRIMARY KEY (sha256, chunk_index)
);

-- state: active | paused | aborted | completed.
CREATE TABLE rollouts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    release_version TEXT NOT NULL REFERENCES releases (version),
    state TEXT NOT NULL,
    current_stage INTEGER NOT NULL,
    max_failures INTEGER NOT NULL,
    paused_reason TEXT,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);

-- One row per cohort; selector is "percent:P" (cumulative share of the fleet) or "hall:ID".
-- state: pending | active | done.
CREATE TABLE rollout_stages (
    rollout_id INTEGER NOT NULL REFERENCES rollouts (id),
    stage INTEGER NOT NULL,
    selector TEXT NOT NULL,
    state TEXT NOT NULL,
    started_at INTEGER,
    done_at INTEGER,
    PRIMARY KEY (rollout_id, stage)
);

-- Kiosks of a cohort, chosen when it starts. state: pending | committed | failed |
-- acknowledged (a failure ops accepted by resuming) | skipped (below min_version, or
-- already on the release or newer).
CREATE TABLE rollout_members (
    rollout_id INTEGER NOT NULL REFERENCES rollouts (id),
    kiosk_id TEXT NOT NULL REFERENCES kiosks (id),
    stage INTEGER NOT NULL,
    state TEXT NOT NULL,
    note TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (rollout_id, kiosk_id)
);
-- Every desired-state poll looks up the polling kiosk's memberships.
CREATE INDEX rollout_members_by_kiosk ON rollout_members (kiosk_id, state);

-- What each kiosk last said about itself: the version it runs (from the newest
-- health_report or update_result, by occurred_at) and its newest health_report (history
-- stays in events). Times as RFC 3339 with milliseconds and Z, so text order is time order.
CREATE TABLE kiosk_status (
    kiosk_id TEXT PRIMARY KEY NOT NULL REFERENCES kiosks (id),
    version TEXT NOT NULL,
    version_at TEXT NOT NULL,
    report TEXT,
    reported_at TEXT,
    received_at INTEGER NOT NULL
);

-- Every update_result a kiosk sent.
CREATE TABLE update_results (
    kiosk_id TEXT NOT NULL REFERENCES kiosks (id),
    event_id TEXT NOT NULL,
    version TEXT NOT NULL,
    from_version TEXT NOT NULL,
    outcome TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    rollout_id INTEGER,
    PRIMARY KEY (kiosk_id, event_id)
);
CREATE INDEX update_results_by_version ON update_results (version, outcome);
CREATE INDEX update_results_by_rollout ON update_results (rollout_id);

-- Ops console users (argon2id PHC strings) and their sessions (only token digests kept).
CREATE TABLE console_users (
    name TEXT PRIMARY KEY NOT NULL,
    password_hash TEXT NOT NULL,
    created_at INTEGER NOT NULL
);

CREATE TABLE console_sessions (
    token_sha256 TEXT PRIMARY KEY NOT NULL,
    user_name TEXT NOT NULL REFERENCES console_users (name),
    csrf TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
