//! Schema migrations, applied in order and recorded in `PRAGMA user_version`.
//!
//! A migration is never edited once released; a change is a new entry at the end. Each runs in
//! its own transaction together with the bump of `user_version`, so a power cut leaves the
//! database at one version or the next, never between.

use rusqlite::Connection;

use super::StoreError;

pub(super) const MIGRATIONS: &[&str] = &[
    // 1: the outbox, the journeys' local records, the spool index and the uplink's own facts.
    r#"
    CREATE TABLE outbox (
        -- AUTOINCREMENT: a sequence number is never reused, even after its row is acknowledged
        -- and deleted, so central can tell a gap from a resend.
        seq             INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id        BLOB    NOT NULL UNIQUE,
        stream          TEXT    NOT NULL,
        kind            TEXT    NOT NULL,
        priority        INTEGER NOT NULL,
        occurred_at     TEXT    NOT NULL,
        created_ms      INTEGER NOT NULL,
        personal        INTEGER NOT NULL,
        payload         BLOB    NOT NULL,
        attempts        INTEGER NOT NULL DEFAULT 0,
        next_attempt_ms INTEGER NOT NULL DEFAULT 0,
        last_error      TEXT
    );
    CREATE INDEX outbox_send_order ON outbox (priority, seq);
    CREATE INDEX outbox_stream ON outbox (stream, seq);

    CREATE TABLE records (
        id              BLOB    PRIMARY KEY,
        kind            TEXT    NOT NULL,
        stream          TEXT    NOT NULL,
        created_ms      INTEGER NOT NULL,
        summary         TEXT    NOT NULL,
        personal        BLOB,
        event_seq       INTEGER NOT NULL,
        acknowledged_ms INTEGER
    );
    CREATE INDEX records_event ON records (event_seq);

    CREATE TABLE spool (
        sha256          TEXT    PRIMARY KEY,
        size            INTEGER NOT NULL,
        stored_size     INTEGER NOT NULL,
        created_ms      INTEGER NOT NULL,
        uploaded        INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE outbox_attachments (
        seq             INTEGER NOT NULL REFERENCES outbox (seq) ON DELETE CASCADE,
        sha256          TEXT    NOT NULL REFERENCES spool (sha256),
        position        INTEGER NOT NULL,
        PRIMARY KEY (seq, sha256)
    );
    CREATE INDEX outbox_attachments_sha ON outbox_attachments (sha256);

    CREATE TABLE sync_state (
        id              INTEGER PRIMARY KEY CHECK (id = 1),
        last_attempt_ms INTEGER,
        last_success_ms INTEGER,
        last_error_ms   INTEGER,
        last_error      TEXT,
        dropped_telemetry INTEGER NOT NULL DEFAULT 0,
        downsampled_telemetry INTEGER NOT NULL DEFAULT 0,
        accepting_records INTEGER NOT NULL DEFAULT 1,
        used_bytes      INTEGER NOT NULL DEFAULT 0,
        budget_bytes    INTEGER NOT NULL DEFAULT 0
    );
    INSERT INTO sync_state (id) VALUES (1);

    CREATE TABLE applied_bundles (
        kind            TEXT    PRIMARY KEY,
        version         TEXT    NOT NULL,
        sha256          TEXT    NOT NULL,
        applied_ms      INTEGER NOT NULL
    );
    CREATE TABLE downlink_state (
        id              INTEGER PRIMARY KEY CHECK (id = 1),
        etag            TEXT,
        last_poll_ms    INTEGER,
        last_error      TEXT
    );
    INSERT INTO downlink_state (id) VALUES (1);
    "#,
    // 2: the citizen journeys' own tables (store/journeys.rs).
    r#"
    CREATE TABLE queue_leases (
        lease_id        TEXT    NOT NULL,
        category        TEXT    NOT NULL,
        business_date   TEXT    NOT NULL,
        first           INTEGER NOT NULL,
        last            INTEGER NOT NULL,
        next            INTEGER NOT NULL,
        added_ms        INTEGER NOT NULL,
        PRIMARY KEY (lease_id, category, business_date)
    );
    CREATE TABLE queue_tickets (
        business_date   TEXT    NOT NULL,
        category        TEXT    NOT NULL,
        number          INTEGER NOT NULL,
        ticket_no       TEXT    NOT NULL,
        source          TEXT    NOT NULL,
        holder_hash     TEXT,
        fate            TEXT    NOT NULL CHECK (fate IN ('allocated', 'issued', 'voided')),
        allocated_ms    INTEGER NOT NULL,
        PRIMARY KEY (business_date, category, number)
    );
    CREATE INDEX queue_tickets_holder ON queue_tickets (business_date, category, holder_hash);
    CREATE TABLE journey_cache (
        key             TEXT    PRIMARY KEY,
        value           TEXT    NOT NULL,
        fetched_ms      INTEGER NOT NULL
    );
    CREATE TABLE ratings_given (
        subject         TEXT    PRIMARY KEY,
        given_ms        INTEGER NOT NULL
    );
    CREATE TABLE application_counter (
        business_date   TEXT    PRIMARY KEY,
        counter         INTEGER NOT NULL
    );
    "#,
    // 3: the quarantine of events that cannot be sent (store/quarantine.rs), the holder keys
    // (store/holder_keys.rs), a check that the key file is the one the store was written
    // with, and the free space of the data filesystem in the status.
    r#"
    CREATE TABLE quarantine (
        -- The outbox row's own seq, event id and payload, exactly as stored (still sealed),
        -- so that a retry puts back the very event central may already have seen.
        seq             INTEGER PRIMARY KEY,
        event_id        BLOB    NOT NULL UNIQUE,
        stream          TEXT    NOT NULL,
        kind            TEXT    NOT NULL,
        priority        INTEGER NOT NULL,
        occurred_at     TEXT    NOT NULL,
        created_ms      INTEGER NOT NULL,
        personal        INTEGER NOT NULL,
        payload         BLOB    NOT NULL,
        attempts        INTEGER NOT NULL,
        reason          TEXT    NOT NULL,
        detail          TEXT    NOT NULL DEFAULT '',
        since_ms        INTEGER NOT NULL
    );
    CREATE INDEX quarantine_since ON quarantine (since_ms, seq);
    CREATE TABLE quarantine_attachments (
        seq             INTEGER NOT NULL REFERENCES quarantine (seq) ON DELETE CASCADE,
        sha256          TEXT    NOT NULL REFERENCES spool (sha256),
        position        INTEGER NOT NULL,
        PRIMARY KEY (seq, sha256)
    );
    CREATE INDEX quarantine_attachments_sha ON quarantine_attachments (sha256);

    CREATE TABLE holder_keys (
        id              INTEGER PRIMARY KEY CHECK (id = 1),
        sealed          BLOB    NOT NULL,
        saved_ms        INTEGER NOT NULL
    );

    CREATE TABLE store_meta (
        id              INTEGER PRIMARY KEY CHECK (id = 1),
        key_check       BLOB
    );
    INSERT INTO store_meta (id) VALUES (1);

    ALTER TABLE sync_state ADD COLUMN free_bytes INTEGER;
    ALTER TABLE sync_state ADD COLUMN min_free_bytes INTEGER NOT NULL DEFAULT 0;
    "#,
    // 4: a ticket's print intent is part of the ticket's row (store/tickets.rs), not a row of
    // the cache of what central said, which is named for what it holds (store/cache.rs).
    r#"
    ALTER TABLE queue_tickets ADD COLUMN print_intent TEXT;
    UPDATE queue_tickets SET print_intent = (
        SELECT value FROM journey_cache
        WHERE key = 'print_intent:' || queue_tickets.business_date || ':'
                    || queue_tickets.category || ':' || queue_tickets.number
    );
    DELETE FROM journey_cache WHERE key LIKE 'print_intent:%';
    ALTER TABLE journey_cache RENAME TO central_cache;
    "#,
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the database up to [`SCHEMA_VERSION`]; refuses a database from a newer build, which
/// an older binary (after a rollback) must not scribble on.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let current: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: current,
            supported: SCHEMA_VERSION,
        });
    }
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", (index + 1) as i64)?;
        tx.commit()?;
    }
    Ok(())
}
