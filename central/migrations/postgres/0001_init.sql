-- Central schema, PostgreSQL dialect. Keep in step with ../sqlite/0001_init.sql: the same
-- tables, columns and constraints; only types differ. Times are unix milliseconds.

CREATE TABLE settings (
    name TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL
);

CREATE TABLE halls (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

-- Only the sha256 of a token is kept, so a copy of the database enrols nobody.
CREATE TABLE enrol_tokens (
    token_sha256 TEXT PRIMARY KEY NOT NULL,
    hall_id TEXT NOT NULL REFERENCES halls (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT,
    kiosk_id TEXT
);

CREATE TABLE kiosks (
    id TEXT PRIMARY KEY NOT NULL,
    hall_id TEXT NOT NULL REFERENCES halls (id),
    public_key TEXT NOT NULL UNIQUE,
    hostname TEXT NOT NULL,
    version TEXT NOT NULL,
    band_index BIGINT NOT NULL,
    band_first BIGINT NOT NULL,
    band_last BIGINT NOT NULL,
    enrolled_at BIGINT NOT NULL,
    last_seen_at BIGINT,
    -- Sequence tracking: highest seq seen and events stored; max_seq - event_count is the
    -- number of sequence numbers not (yet) received.
    max_seq BIGINT NOT NULL DEFAULT 0,
    event_count BIGINT NOT NULL DEFAULT 0,
    UNIQUE (hall_id, band_index)
);

CREATE TABLE events (
    kiosk_id TEXT NOT NULL REFERENCES kiosks (id),
    event_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    stream TEXT NOT NULL,
    kind TEXT NOT NULL,
    priority BIGINT NOT NULL,
    occurred_at TEXT NOT NULL,
    received_at BIGINT NOT NULL,
    payload TEXT NOT NULL,
    attachments TEXT NOT NULL,
    PRIMARY KEY (kiosk_id, event_id),
    UNIQUE (kiosk_id, seq)
);
CREATE INDEX events_by_kind ON events (stream, kind);

CREATE TABLE nonces (
    kiosk_id TEXT NOT NULL,
    nonce TEXT NOT NULL,
    seen_at BIGINT NOT NULL,
    PRIMARY KEY (kiosk_id, nonce)
);
CREATE INDEX nonces_by_age ON nonces (seen_at);

-- Attachments belong to the kiosk that uploaded them: no kiosk can probe another's scans.
CREATE TABLE attachments (
    kiosk_id TEXT NOT NULL REFERENCES kiosks (id),
    sha256 TEXT NOT NULL,
    total_len BIGINT NOT NULL,
    received BIGINT NOT NULL,
    complete BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (kiosk_id, sha256)
);

CREATE TABLE attachment_chunks (
    kiosk_id TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    chunk_offset BIGINT NOT NULL,
    data BYTEA NOT NULL,
    PRIMARY KEY (kiosk_id, sha256, chunk_offset)
);

CREATE TABLE bundles (
    kind TEXT NOT NULL,
    version TEXT NOT NULL,
    payload BYTEA NOT NULL,
    sha256 TEXT NOT NULL,
    signature TEXT NOT NULL,
    key_id TEXT NOT NULL,
    published_at BIGINT NOT NULL,
    PRIMARY KEY (kind, version)
);

CREATE TABLE desired (
    hall_id TEXT NOT NULL REFERENCES halls (id),
    kind TEXT NOT NULL,
    version TEXT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (hall_id, kind)
);
