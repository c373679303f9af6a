-- Applications handled by hall staff (issue 16 item 6): who set each step of an application's
-- timeline. A console user's name, or cli: and the operating-system user for the CLI; NULL
-- for the kiosk's submission and for steps set before this migration. Staff's names stay on
-- central: kiosks and the public progress page never read this column. Keep in step with
-- the other dialect's 0014_application_staff.sql.
ALTER TABLE application_timeline ADD COLUMN staff TEXT;

-- The console lists a hall's applications newest first, optionally of one status.
CREATE INDEX applications_by_hall ON applications (hall_id, submitted_at);
