-- Who did what (issue 17 item 9). Keep in step with the other dialect's 0009_audit_roles.sql.

-- Every state-changing ops action, from the console and the CLI, written in the transaction
-- of the action itself, so an action without its row (or a row without its action) cannot
-- be. Rows are only ever added.
CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at BIGINT NOT NULL,
    -- The console user, or for the CLI 'cli:' and the operating-system user (or the console
    -- user named with --as).
    actor TEXT NOT NULL,
    -- console, cli, or store (a direct caller of the store, such as a test)
    via TEXT NOT NULL,
    -- store::Action::name, e.g. kiosk.revoke
    action TEXT NOT NULL,
    -- What it acted on: a kiosk id, a hall, a version, a user name.
    target TEXT NOT NULL,
    -- Anything else worth knowing (a reason, a status); never a secret.
    detail TEXT NOT NULL
);

-- viewer (reads), operator (day-to-day: help, follow-up, application status, queue, pausing a
-- rollout) or admin (publishing, releases, rollouts, users, kiosks, tokens, keys). Users made
-- before roles existed could do everything, and keep that.
ALTER TABLE console_users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';
