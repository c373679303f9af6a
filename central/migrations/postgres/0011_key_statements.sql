-- Key statements (issue 17 item 2): how kiosks move from one ops key to the next without a
-- site visit. Keep in step with the other dialect's 0011_key_statements.sql.

-- Every rotation and revocation ops signed, in the order kiosks apply them. Rows are never
-- changed or deleted: a kiosk provisioned long ago walks the whole list from the keys it was
-- given. The trusted key of each role is in settings ('ops_public_key' for the catalog key,
-- 'release_public_key' for the release key once it is kept apart).
CREATE TABLE key_statements (
    serial BIGINT PRIMARY KEY,
    role TEXT NOT NULL,
    action TEXT NOT NULL,
    statement TEXT NOT NULL,
    signature TEXT NOT NULL,
    key_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
