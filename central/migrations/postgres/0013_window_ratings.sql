-- The window rating (issue 16 item 5, 一次一评): a tablet at a window rates the ticket just
-- served there, bound to that window and clerk; a bad rating opens a follow-up with a kind and
-- a deadline. Keep in step with the other dialect's 0013_window_ratings.sql.

-- A window rating is a row of `ratings` like a kiosk's, so one unique key, (hall_id, subject)
-- with subject 'ticket:<no>:<date>', keeps one rating per ticket whichever device gave it.
-- Its kiosk_id is NULL (a tablet is no kiosk; SQLite rebuilds the table for this). Window
-- ratings carry the ticket's window, clerk, business date and number, which per-day and
-- per-window statistics count by. follow_up_kind ('rectification' 整改, 'return_visit' 回访,
-- 'appeal_review' 申诉复核) and follow_up_due (unix ms) are set on every rating of level 1
-- or 2; bad ratings already here get a rectification due 15 days after they were given.
ALTER TABLE ratings ALTER COLUMN kiosk_id DROP NOT NULL;
ALTER TABLE ratings ADD COLUMN window_no BIGINT;
ALTER TABLE ratings ADD COLUMN clerk TEXT;
ALTER TABLE ratings ADD COLUMN business_date TEXT;
ALTER TABLE ratings ADD COLUMN ticket_no TEXT;
ALTER TABLE ratings ADD COLUMN follow_up_kind TEXT;
ALTER TABLE ratings ADD COLUMN follow_up_due BIGINT;
UPDATE ratings SET follow_up_kind = 'rectification', follow_up_due = given_at + 1296000000
    WHERE level <= 2;
CREATE INDEX ratings_by_window ON ratings (hall_id, business_date, window_no);
CREATE INDEX ratings_open_follow_ups ON ratings (followed_up_at, follow_up_due);

-- The rating tablet paired with a window: the SHA-256 (hex) of the secret in its URL. Only a
-- paired tablet rates, so nobody elsewhere can stuff a window's ratings; pairing again
-- replaces the secret and the old tablet stops working.
CREATE TABLE window_tablets (
    hall_id TEXT NOT NULL,
    window_no BIGINT NOT NULL,
    secret_hash TEXT NOT NULL,
    paired_at BIGINT NOT NULL,
    PRIMARY KEY (hall_id, window_no),
    FOREIGN KEY (hall_id, window_no) REFERENCES hall_windows (hall_id, window_no) ON DELETE CASCADE
);
