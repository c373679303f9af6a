-- Records across a fleet (issue 13), PostgreSQL dialect. Keep in step with
-- ../sqlite/0004_fleet_records.sql: the same tables, columns and constraints; only types
-- differ. Times are unix milliseconds.

-- Every hall has a code unique on the platform (1..=9999), the first digits of its
-- application numbers. Central assigns it when it first creates the hall; halls made before
-- this migration get codes in the order they were created. The column stays nullable because
-- SQLite cannot add a NOT NULL column without a default; central never writes a NULL.
ALTER TABLE halls ADD COLUMN hall_code BIGINT;
UPDATE halls SET hall_code = (
    SELECT COUNT(*) FROM halls h2
    WHERE h2.created_at < halls.created_at OR (h2.created_at = halls.created_at AND h2.id <= halls.id)
);
CREATE UNIQUE INDEX halls_by_code ON halls (hall_code);

-- Every kiosk has a number unique in its hall (1..=99), the next digits. Kiosks enrolled
-- before this migration are numbered in the order they enrolled.
ALTER TABLE kiosks ADD COLUMN kiosk_no BIGINT;
UPDATE kiosks SET kiosk_no = (
    SELECT COUNT(*) FROM kiosks k2
    WHERE k2.hall_id = kiosks.hall_id
      AND (k2.enrolled_at < kiosks.enrolled_at OR (k2.enrolled_at = kiosks.enrolled_at AND k2.id <= kiosks.id))
);
CREATE UNIQUE INDEX kiosks_by_no ON kiosks (hall_id, kiosk_no);
-- A kiosk ops retired (replaced hardware) keeps its number for good, so no two kiosks ever
-- share one, but gives its offline band back: band_index becomes -kiosk_no, outside 0..10.
ALTER TABLE kiosks ADD COLUMN retired_at BIGINT;

-- Events central refused for good (not stored in events, so a corrected resend can still
-- apply): one row per kiosk and event, the latest refusal, for the console and ops.
CREATE TABLE refused_events (
    kiosk_id TEXT NOT NULL REFERENCES kiosks (id),
    event_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    refused_at BIGINT NOT NULL,
    times BIGINT NOT NULL,
    PRIMARY KEY (kiosk_id, event_id)
);
CREATE INDEX refused_by_kiosk ON refused_events (kiosk_id, refused_at);

-- Which event made a ticket or an application: a second event under the same number is
-- refused (number_taken), and ops can trace the one that holds it.
ALTER TABLE tickets ADD COLUMN event_id TEXT;
-- The kiosk could not tell whether the citizen got the ticket (it restarted between print
-- and record): callable like any other, marked for staff.
ALTER TABLE tickets ADD COLUMN unconfirmed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE applications ADD COLUMN event_id TEXT;

-- Who acknowledged a help request, and when central received it (what the asking kiosk
-- reads back with GET /v1/help/{event_id}).
ALTER TABLE help_requests ADD COLUMN acknowledged_by TEXT;
ALTER TABLE help_requests ADD COLUMN received_at BIGINT;
UPDATE help_requests SET received_at = requested_at;
CREATE INDEX help_by_event ON help_requests (event_id);
