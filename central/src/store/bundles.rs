//! Signed bundles and each hall's desired state.

use base64::Engine as _;
use kiosk_api::{BundleRef, DesiredState, SignedBundle};
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;

use super::{Action, Doing as _, Store, StoreError, now_millis};

/// What a kiosk's fetch of a bundle found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleFetch {
    /// The bundle, published for the asking kiosk's hall.
    Found(SignedBundle),
    /// The bundle exists but was published for other halls only.
    OtherHall,
    /// No bundle of this kind and version.
    Missing,
}

/// What publishing did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishOutcome {
    /// Stored and made the hall's desired version.
    Published,
    /// The same bytes were already published under this version; desired state set again.
    AlreadyPublished,
    /// Another payload already has this kind and version: bump the version.
    VersionTaken,
    /// The hall already wants a newer version of this kind; kiosks would refuse this one
    /// (they never go back), so ops must publish the content under a newer version.
    OlderThanInForce(String),
}

impl Store {
    /// Stores a signed bundle and makes it the desired `kind` of `hall_id`, in one transaction.
    pub async fn publish(
        &self,
        hall_id: &str,
        bundle: &SignedBundle,
    ) -> Result<PublishOutcome, StoreError> {
        let payload = base64::engine::general_purpose::STANDARD
            .decode(&bundle.payload)
            .map_err(|_| StoreError::Corrupt("bundle payload"))?;
        let sha = hex::encode(Sha256::digest(&payload));
        let now = now_millis();
        let mut w = self.write().await?;
        let existing = sqlx::query_scalar::<_, String>(
            "SELECT sha256 FROM bundles WHERE kind = $1 AND version = $2",
        )
        .bind(&bundle.kind)
        .bind(&bundle.version)
        .fetch_optional(&mut *w.tx)
        .await
        .doing("looking for the bundle")?;
        let in_force = sqlx::query_scalar::<_, String>(
            "SELECT version FROM desired WHERE hall_id = $1 AND kind = $2",
        )
        .bind(hall_id)
        .bind(&bundle.kind)
        .fetch_optional(&mut *w.tx)
        .await
        .doing("reading the hall's desired state")?;
        if let Some(in_force) = in_force
            && kiosk_api::version_cmp(&bundle.version, &in_force).is_lt()
        {
            return Ok(PublishOutcome::OlderThanInForce(in_force));
        }
        let outcome = match existing {
            Some(old) if old != sha => return Ok(PublishOutcome::VersionTaken),
            Some(_) => PublishOutcome::AlreadyPublished,
            None => {
                sqlx::query("INSERT INTO bundles (kind, version, payload, sha256, signature, key_id, published_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
                    .bind(&bundle.kind)
                    .bind(&bundle.version)
                    .bind(payload)
                    .bind(&sha)
                    .bind(&bundle.signature)
                    .bind(&bundle.key_id)
                    .bind(now)
                    .execute(&mut *w.tx)
                    .await
                    .doing("storing the bundle")?;
                PublishOutcome::Published
            }
        };
        super::enrol::ensure_hall(&mut w.tx, hall_id, None, now).await?;
        // The binding is a fact about the bundle, not a record: publishing the same bundle to
        // the same hall again keeps the first binding and its time.
        sqlx::query("INSERT INTO bundle_halls (kind, version, hall_id, published_at) VALUES ($1, $2, $3, $4) ON CONFLICT (kind, version, hall_id) DO NOTHING")
            .bind(&bundle.kind)
            .bind(&bundle.version)
            .bind(hall_id)
            .bind(now)
            .execute(&mut *w.tx)
            .await
            .doing("binding the bundle to its hall")?;
        sqlx::query("INSERT INTO desired (hall_id, kind, version, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (hall_id, kind) DO UPDATE SET version = excluded.version, updated_at = excluded.updated_at")
            .bind(hall_id)
            .bind(&bundle.kind)
            .bind(&bundle.version)
            .bind(now)
            .execute(&mut *w.tx)
            .await
            .doing("setting the desired state")?;
        let what = format!("{} {}", bundle.kind, bundle.version);
        let detail = format!("key {}; {outcome:?}", bundle.key_id);
        w.audit(
            self,
            Action::Publish,
            &format!("{what} -> hall {hall_id}"),
            &detail,
        )
        .await?;
        w.commit().await?;
        Ok(outcome)
    }

    /// What kiosks of `hall_id` should run.
    pub async fn desired_state(&self, hall_id: &str) -> Result<DesiredState, StoreError> {
        let rows = sqlx::query("SELECT d.kind, d.version, b.sha256 FROM desired d JOIN bundles b ON b.kind = d.kind AND b.version = d.version WHERE d.hall_id = $1")
            .bind(hall_id)
            .fetch_all(self.pool())
            .await
            .doing("reading the desired state")?;
        let mut state = DesiredState::default();
        for row in rows {
            let r = BundleRef {
                kind: row.try_get(0).doing("reading the desired state")?,
                version: row.try_get(1).doing("reading the desired state")?,
                sha256: row.try_get(2).doing("reading the desired state")?,
            };
            match r.kind.as_str() {
                "catalog" => state.catalog = Some(r),
                kiosk_api::CONFIG_BUNDLE_KIND => state.config = Some(r),
                _ => {}
            }
        }
        Ok(state)
    }

    /// One signed bundle, for a kiosk of `hall_id`: only a bundle published for that hall is
    /// given out.
    pub async fn bundle_for_hall(
        &self,
        kind: &str,
        version: &str,
        hall_id: &str,
    ) -> Result<BundleFetch, StoreError> {
        let doing = "reading a bundle";
        let row = sqlx::query(
            "SELECT b.payload, b.signature, b.key_id, \
             (SELECT COUNT(*) FROM bundle_halls h WHERE h.kind = b.kind AND h.version = b.version AND h.hall_id = $3) \
             FROM bundles b WHERE b.kind = $1 AND b.version = $2",
        )
        .bind(kind)
        .bind(version)
        .bind(hall_id)
        .fetch_optional(self.pool())
        .await
        .doing(doing)?;
        let Some(row) = row else {
            return Ok(BundleFetch::Missing);
        };
        let bound: i64 = row.try_get(3).doing(doing)?;
        if bound == 0 {
            return Ok(BundleFetch::OtherHall);
        }
        let payload: Vec<u8> = row.try_get(0).doing(doing)?;
        Ok(BundleFetch::Found(SignedBundle {
            kind: kind.to_owned(),
            version: version.to_owned(),
            payload: base64::engine::general_purpose::STANDARD.encode(payload),
            signature: row.try_get(1).doing(doing)?,
            key_id: row.try_get(2).doing(doing)?,
        }))
    }

    /// The halls `kind` `version` was published for, by id.
    pub async fn bundle_halls(&self, kind: &str, version: &str) -> Result<Vec<String>, StoreError> {
        sqlx::query_scalar::<_, String>(
            "SELECT hall_id FROM bundle_halls WHERE kind = $1 AND version = $2 ORDER BY hall_id",
        )
        .bind(kind)
        .bind(version)
        .fetch_all(self.pool())
        .await
        .doing("reading a bundle's halls")
    }
}
