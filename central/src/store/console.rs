//! Ops console users and sessions.
//!
//! Passwords are kept as argon2id PHC strings (salted, the crate's default cost: 19 MiB,
//! 2 passes). Sessions are random 32-byte tokens of which only the sha256 is stored, so a
//! copy of the database logs nobody in; each carries its own CSRF token for the console's
//! forms.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use rand::RngCore as _;
use sha2::{Digest as _, Sha256};
use sqlx::Row as _;

use super::{Doing as _, Store, StoreError, now_millis};

/// How long a console session lasts.
pub const SESSION_MILLIS: i64 = 8 * 60 * 60 * 1000;

/// Why a user could not be added.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The name is taken.
    #[error("console user {0:?} exists already")]
    Exists(String),
    /// Name or password unusable.
    #[error("{0}")]
    Invalid(String),
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A signed-in session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// The cookie value (shown once, stored only as a digest).
    pub token: String,
    /// Who.
    pub user: String,
    /// The token every POST form must carry.
    pub csrf: String,
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

fn digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn hash_password(password: &str) -> Result<String, StoreError> {
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| StoreError::Corrupt("password hash parameters"))
}

// Verifying against this when the user is unknown makes a wrong name take as long as a
// wrong password: a real hash (same cost) of a random password nobody knows.
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash_password(&random_hex()).unwrap_or_default())
}

fn password_matches(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

impl Store {
    /// Adds a console user with an argon2id hash of `password`.
    pub async fn add_console_user(&self, name: &str, password: &str) -> Result<(), UserError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(UserError::Invalid(
                "user name must be 1 to 64 printable characters".into(),
            ));
        }
        if password.chars().count() < 10 {
            return Err(UserError::Invalid(
                "password must be at least 10 characters".into(),
            ));
        }
        let password = password.to_owned();
        let hash = tokio::task::spawn_blocking(move || hash_password(&password))
            .await
            .map_err(|_| StoreError::Corrupt("password hashing task"))??;
        let mut w = self.write().await?;
        let done = sqlx::query("INSERT INTO console_users (name, password_hash, created_at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(hash)
            .bind(now_millis())
            .execute(&mut *w.tx)
            .await
            .doing("adding a console user")?;
        if done.rows_affected() != 1 {
            return Err(UserError::Exists(name.to_owned()));
        }
        w.commit().await?;
        Ok(())
    }

    /// Checks a name and password; on success opens a session. None says only "no": not
    /// which of the two was wrong.
    pub async fn console_login(
        &self,
        name: &str,
        password: &str,
    ) -> Result<Option<ConsoleSession>, StoreError> {
        let stored = sqlx::query_scalar::<_, String>(
            "SELECT password_hash FROM console_users WHERE name = $1",
        )
        .bind(name.trim())
        .fetch_optional(self.pool())
        .await
        .doing("looking up a console user")?;
        let known = stored.is_some();
        let phc = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let password = password.to_owned();
        let matches = tokio::task::spawn_blocking(move || password_matches(&password, &phc))
            .await
            .map_err(|_| StoreError::Corrupt("password checking task"))?;
        if !(known && matches) {
            return Ok(None);
        }
        let session = ConsoleSession {
            token: random_hex(),
            user: name.trim().to_owned(),
            csrf: random_hex(),
        };
        let now = now_millis();
        let mut w = self.write().await?;
        sqlx::query("DELETE FROM console_sessions WHERE expires_at < $1")
            .bind(now)
            .execute(&mut *w.tx)
            .await
            .doing("forgetting expired sessions")?;
        sqlx::query("INSERT INTO console_sessions (token_sha256, user_name, csrf, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)")
            .bind(digest(&session.token))
            .bind(&session.user)
            .bind(&session.csrf)
            .bind(now)
            .bind(now + SESSION_MILLIS)
            .execute(&mut *w.tx)
            .await
            .doing("opening a console session")?;
        w.commit().await?;
        Ok(Some(session))
    }

    /// The live session of this cookie token, if any.
    pub async fn console_session(&self, token: &str) -> Result<Option<ConsoleSession>, StoreError> {
        let row = sqlx::query(
            "SELECT user_name, csrf FROM console_sessions WHERE token_sha256 = $1 AND expires_at > $2",
        )
        .bind(digest(token))
        .bind(now_millis())
        .fetch_optional(self.pool())
        .await
        .doing("reading a console session")?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(ConsoleSession {
            token: token.to_owned(),
            user: row.try_get(0).doing("reading a console session")?,
            csrf: row.try_get(1).doing("reading a console session")?,
        }))
    }

    /// Ends a session.
    pub async fn console_logout(&self, token: &str) -> Result<(), StoreError> {
        let mut w = self.write().await?;
        sqlx::query("DELETE FROM console_sessions WHERE token_sha256 = $1")
            .bind(digest(token))
            .execute(&mut *w.tx)
            .await
            .doing("closing a console session")?;
        w.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_argon2id_and_the_dummy_hash_matches_nothing_likely() {
        assert!(PasswordHash::new(dummy_hash()).is_ok());
        assert!(!password_matches("", dummy_hash()));
        assert!(!password_matches("password123", dummy_hash()));
        let h = hash_password("correct horse battery").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(password_matches("correct horse battery", &h));
        assert!(!password_matches("correct horse battery!", &h));
    }
}
