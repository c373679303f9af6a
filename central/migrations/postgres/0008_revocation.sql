-- Kiosk revocation and re-provisioning (issue 17 item 4). Keep in step with the other
-- dialect's 0008_revocation.sql.

-- A revoked kiosk's signed requests are refused (403, with the reason ops gave) on every
-- central node: nodes re-read a kiosk's row at most a few seconds after they last did. Its
-- offline band goes back to the hall (band_index becomes -kiosk_no, outside 0..10, as for a
-- retired kiosk); its kiosk number stays taken, so no two kiosks ever make the same
-- application numbers.
ALTER TABLE kiosks ADD COLUMN revoked_at BIGINT;
ALTER TABLE kiosks ADD COLUMN revoked_reason TEXT;
ALTER TABLE kiosks ADD COLUMN revoked_by TEXT;
-- When the kiosk last enrolled again under its own id with a new key.
ALTER TABLE kiosks ADD COLUMN reprovisioned_at BIGINT;

-- A token made to re-provision one kiosk (`central token create --reprovision ID`): the
-- kiosk that enrols with it takes over that kiosk's record (id, number, band) with its new
-- key instead of becoming a new kiosk with a band of its own.
ALTER TABLE enrol_tokens ADD COLUMN reprovision_kiosk TEXT;
