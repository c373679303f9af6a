-- Console login throttling in the database (issue 17), so every central node on it sees the
-- same count. Keep in step with the other dialect's 0007_login_failures.sql.

-- Login attempts per name in the current window: 'user:NAME' for a console user, and for a
-- name that is no user one of a fixed number of shared buckets 'unknown:N'
-- (store::UNKNOWN_NAME_BUCKETS), so trying random names adds no rows: the table holds at
-- most one row per user plus the buckets. A successful login deletes its name's row.
CREATE TABLE login_failures (
    throttle_key TEXT PRIMARY KEY NOT NULL,
    failures INTEGER NOT NULL,
    first_failed_at INTEGER NOT NULL
);
