//! The ops keys central trusts, one per role, and the signed statements that moved kiosks
//! from each key to the next ([`kiosk_api::rotation`]).
//!
//! Central checks a statement before storing it, but kiosks do not rely on that: each one
//! walks the list from its own keys and applies only what those keys signed.

use kiosk_api::keys::{key_id, public_key_from_base64};
use kiosk_api::rotation::{KeyAction, KeyRole, KeyStatement, SignedKeyStatement};
use sqlx::Row as _;

use super::{Action, Doing as _, Store, StoreError, now_millis};

/// The settings row that holds a role's trusted key. The catalog key keeps the name it had
/// when it was the only ops key, so a central upgraded in place trusts what it trusted.
fn setting(role: KeyRole) -> &'static str {
    match role {
        KeyRole::Catalog => "ops_public_key",
        KeyRole::Release => "release_public_key",
    }
}

/// Why a statement was not stored.
#[derive(Debug, thiserror::Error)]
pub enum StatementRefused {
    /// Central trusts no key for the role yet.
    #[error("central trusts no {0} key yet; `central keys trust` one first")]
    NoKey(&'static str),
    /// The statement does not follow from the keys central trusts now.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// The trusted key (base64) of `role`. Until ops keeps a release key apart, the catalog
    /// key signs releases too.
    pub async fn trusted_key(&self, role: KeyRole) -> Result<Option<String>, StoreError> {
        let read = |name: &'static str| {
            sqlx::query_scalar::<_, String>("SELECT value FROM settings WHERE name = $1")
                .bind(name)
                .fetch_optional(self.pool())
        };
        let own = read(setting(role)).await.doing("reading a trusted key")?;
        match (role, own) {
            (_, Some(key)) => Ok(Some(key)),
            (KeyRole::Release, None) => read(setting(KeyRole::Catalog))
                .await
                .doing("reading a trusted key"),
            (KeyRole::Catalog, None) => Ok(None),
        }
    }

    /// Every key statement, in serial order.
    pub async fn key_statements(&self) -> Result<Vec<SignedKeyStatement>, StoreError> {
        let doing = "reading the key statements";
        let rows =
            sqlx::query("SELECT statement, signature, key_id FROM key_statements ORDER BY serial")
                .fetch_all(self.pool())
                .await
                .doing(doing)?;
        rows.iter()
            .map(|row| {
                Ok(SignedKeyStatement {
                    statement: row.try_get(0).doing(doing)?,
                    signature: row.try_get(1).doing(doing)?,
                    key_id: row.try_get(2).doing(doing)?,
                })
            })
            .collect()
    }

    /// The serial the next statement must carry.
    pub async fn next_key_serial(&self) -> Result<u64, StoreError> {
        let last: Option<i64> = sqlx::query_scalar("SELECT MAX(serial) FROM key_statements")
            .fetch_one(self.pool())
            .await
            .doing("reading the key statements")?;
        Ok(u64::try_from(last.unwrap_or(0)).unwrap_or(0) + 1)
    }

    /// Stores `signed` and trusts its next key for its role, in one transaction, after
    /// checking it follows from the keys trusted now exactly as a kiosk would.
    pub async fn record_key_statement(
        &self,
        signed: &SignedKeyStatement,
    ) -> Result<KeyStatement, StatementRefused> {
        let invalid = |m: String| StatementRefused::Invalid(m);
        let st = signed.read().map_err(invalid)?;
        let current = |role: KeyRole| async move {
            let text = self
                .trusted_key(role)
                .await?
                .ok_or(StatementRefused::NoKey(role.as_str()))?;
            public_key_from_base64(&text)
                .map_err(|_| StatementRefused::Store(StoreError::Corrupt("trusted key")))
        };
        let catalog = current(KeyRole::Catalog).await?;
        let release = current(KeyRole::Release).await?;
        let anchors = kiosk_api::rotation::KeyAnchors {
            catalog,
            release,
            revoked: Default::default(),
        };
        // Earlier statements are behind central's keys: walking the new one alone from them
        // is what a kiosk that followed every earlier one does.
        let (after, done) = kiosk_api::rotation::follow(&anchors, std::slice::from_ref(signed));
        if let Some((_, why)) = done.refused.first() {
            return Err(invalid(format!("statement refused: {why}")));
        }
        if done.applied.is_empty() {
            return Err(invalid(match st.action {
                KeyAction::Rotate => format!(
                    "a rotation must be signed by the {} key central trusts now ({})",
                    st.role.as_str(),
                    key_id(anchors.key(st.role))
                ),
                KeyAction::Revoke => format!(
                    "a revocation of the {} key must be signed by the {} key central trusts now ({})",
                    st.role.as_str(),
                    st.role.other().as_str(),
                    key_id(anchors.key(st.role.other()))
                ),
            }));
        }
        let next = kiosk_api::keys::public_key_to_base64(after.key(st.role));
        let mut w = self.write().await?;
        let serial = i64::try_from(st.serial)
            .map_err(|_| invalid(format!("serial {} is out of range", st.serial)))?;
        let expected: Option<i64> = sqlx::query_scalar("SELECT MAX(serial) FROM key_statements")
            .fetch_one(&mut *w.tx)
            .await
            .doing("reading the key statements")?;
        if serial != expected.unwrap_or(0) + 1 {
            return Err(invalid(format!(
                "serial {} does not follow the last statement ({}); sign it again",
                st.serial,
                expected.unwrap_or(0)
            )));
        }
        sqlx::query("INSERT INTO key_statements (serial, role, action, statement, signature, key_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(serial)
            .bind(st.role.as_str())
            .bind(match st.action {
                KeyAction::Rotate => "rotate",
                KeyAction::Revoke => "revoke",
            })
            .bind(&signed.statement)
            .bind(&signed.signature)
            .bind(&signed.key_id)
            .bind(now_millis())
            .execute(&mut *w.tx)
            .await
            .doing("storing a key statement")?;
        sqlx::query(
            "INSERT INTO settings (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value",
        )
        .bind(setting(st.role))
        .bind(&next)
        .execute(&mut *w.tx)
        .await
        .doing("trusting the next key")?;
        // Until the split, the release role reads the catalog key: rotating the catalog key
        // alone must not move the release role with it, so the release key in force (its own
        // row, or the catalog key it fell back to) is written down as its own.
        if st.role == KeyRole::Catalog {
            sqlx::query(
                "INSERT INTO settings (name, value) VALUES ('release_public_key', $1) \
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
            )
            .bind(kiosk_api::keys::public_key_to_base64(&release))
            .execute(&mut *w.tx)
            .await
            .doing("keeping the release key")?;
        }
        let action = match st.action {
            KeyAction::Rotate => Action::KeysRotate,
            KeyAction::Revoke => Action::KeysRevoke,
        };
        let detail = format!(
            "serial {} {} key {} -> {}: {}",
            st.serial,
            st.role.as_str(),
            public_key_from_base64(&st.previous_public_key)
                .map(|k| key_id(&k))
                .unwrap_or_default(),
            key_id(after.key(st.role)),
            st.reason
        );
        w.audit(self, action, st.role.as_str(), &detail).await?;
        w.commit().await?;
        Ok(st)
    }
}
