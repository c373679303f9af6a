-- The hall side (issue 16): windows and the categories they serve, clerks bound to windows,
-- the no-show policy of a hall, and what happens to a ticket at a window. Keep in step with
-- the other dialect's 0012_hall_windows.sql.

-- A service window of a hall and the queue letters it calls, comma-separated ('A,B').
CREATE TABLE hall_windows (
    hall_id TEXT NOT NULL REFERENCES halls (id),
    window_no BIGINT NOT NULL,
    categories TEXT NOT NULL,
    PRIMARY KEY (hall_id, window_no)
);

-- The windows a console user with the clerk role may call at.
CREATE TABLE clerk_windows (
    user_name TEXT NOT NULL REFERENCES console_users (name) ON DELETE CASCADE,
    hall_id TEXT NOT NULL,
    window_no BIGINT NOT NULL,
    PRIMARY KEY (user_name, hall_id, window_no),
    FOREIGN KEY (hall_id, window_no) REFERENCES hall_windows (hall_id, window_no) ON DELETE CASCADE
);

-- 过号: how many recalls a ticket gets before the window may mark it a no-show, and what a
-- no-show then becomes: 'requeue' (back to the end of its queue) or 'void'. A hall without a
-- row uses 2 and 'requeue'.
CREATE TABLE hall_queue_policy (
    hall_id TEXT PRIMARY KEY NOT NULL REFERENCES halls (id),
    max_recalls BIGINT NOT NULL,
    after_no_show TEXT NOT NULL
);

-- The window and clerk of the current call; recalls of it; when service ended (service
-- times are served_at - called_at); no-shows so far; where in its queue the ticket stands
-- (NULL: by issued_at; a requeued no-show gets the time it went back); the queue it waits in
-- after a transfer (NULL: its own category) and the one window it was sent to, if any; the
-- unguessable token of its public live page.
ALTER TABLE tickets ADD COLUMN window_no BIGINT;
ALTER TABLE tickets ADD COLUMN clerk TEXT;
ALTER TABLE tickets ADD COLUMN recalls BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN served_at BIGINT;
ALTER TABLE tickets ADD COLUMN no_shows BIGINT NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN queued_at BIGINT;
ALTER TABLE tickets ADD COLUMN queue_category TEXT;
ALTER TABLE tickets ADD COLUMN for_window BIGINT;
ALTER TABLE tickets ADD COLUMN public_token TEXT;
CREATE UNIQUE INDEX tickets_by_token ON tickets (public_token);
CREATE INDEX tickets_by_window ON tickets (hall_id, business_date, window_no, called_at);

-- Every call and recall, in order: what the hall display announces, one after another, on
-- every central node alike (they all read this table).
CREATE TABLE hall_calls (
    id BIGSERIAL PRIMARY KEY,
    hall_id TEXT NOT NULL REFERENCES halls (id),
    ticket_no TEXT NOT NULL,
    window_no BIGINT NOT NULL,
    called_at BIGINT NOT NULL,
    recall BIGINT NOT NULL
);
CREATE INDEX hall_calls_by_hall ON hall_calls (hall_id, id);

-- The token of an application's public progress page (the receipt's QR code), when its kiosk
-- made one; tokens of tickets and applications never repeat across both.
ALTER TABLE applications ADD COLUMN public_token TEXT;
CREATE UNIQUE INDEX applications_by_token ON applications (public_token);
