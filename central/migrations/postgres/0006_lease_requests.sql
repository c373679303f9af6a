-- Idempotent number leases (issue 17). Keep in step with the other dialect's
-- 0006_lease_requests.sql.

-- The kiosk's own id for a lease request: a retry with the same id (the answer was lost)
-- gets the block leased the first time instead of a new one, so a lost answer leaks no
-- numbers. Leases made before this migration, and by kiosks that send no id, have none;
-- NULLs never collide in a unique index, on either database.
ALTER TABLE number_leases ADD COLUMN request_id TEXT;
CREATE UNIQUE INDEX number_leases_by_request ON number_leases (kiosk_id, request_id);
