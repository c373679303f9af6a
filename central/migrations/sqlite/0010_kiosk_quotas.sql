-- Per-kiosk quotas and the expiry of incomplete uploads (issue 17 item 6). Keep in step with
-- the other dialect's 0010_kiosk_quotas.sql.

-- What each kiosk used in the current window of each quota (store::quotas): one row per
-- kiosk and kind, shared by every central node on the database.
CREATE TABLE kiosk_usage (
    kiosk_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    window_start INTEGER NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (kiosk_id, kind)
);

-- Incomplete uploads are found by age to expire them.
CREATE INDEX attachments_incomplete ON attachments (complete, created_at);
