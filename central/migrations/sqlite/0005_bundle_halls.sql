-- Bundles bound to halls (issue 17), SQLite dialect. Keep in step with
-- ../postgres/0005_bundle_halls.sql. Times are unix milliseconds.

-- The halls a bundle was published for. A kiosk fetches only a bundle bound to its own hall:
-- a config bundle carries the technician PIN's hash, which another hall's kiosk must not get.
-- Publishing the same bundle to the same hall again leaves one row.
CREATE TABLE bundle_halls (
    kind TEXT NOT NULL,
    version TEXT NOT NULL,
    hall_id TEXT NOT NULL REFERENCES halls (id),
    published_at INTEGER NOT NULL,
    PRIMARY KEY (kind, version, hall_id),
    FOREIGN KEY (kind, version) REFERENCES bundles (kind, version)
);

-- Before this migration only the desired state said which hall a bundle was for: bind each
-- hall to the bundles it is told to run, so no kiosk loses the bundle it is offered.
INSERT INTO bundle_halls (kind, version, hall_id, published_at)
SELECT d.kind, d.version, d.hall_id, d.updated_at
FROM desired d JOIN bundles b ON b.kind = d.kind AND b.version = d.version;
