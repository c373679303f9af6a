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

use super::{Action, Actor, Doing as _, Role, Store, StoreError, Via, now_millis};

/// How long a console session lasts.
pub const SESSION_MILLIS: i64 = 8 * 60 * 60 * 1000;

/// Failed logins of one name within [`LOCKOUT_MILLIS`] after which its logins are refused,
/// right password or not, until [`LOCKOUT_MILLIS`] has passed since the first of them.
pub const MAX_FAILED_LOGINS: i64 = 5;
/// See [`MAX_FAILED_LOGINS`].
pub const LOCKOUT_MILLIS: i64 = 15 * 60 * 1000;
/// Names that are no console user share this many throttling rows (by a hash of the name),
/// so trying random names adds no rows: `login_failures` holds at most one row per user
/// plus these.
pub const UNKNOWN_NAME_BUCKETS: u16 = 256;
/// Password hashes computed at once on a node (argon2id, 19 MiB and a few ms of CPU each): a
/// login flood waits for these instead of taking every core and the memory.
pub const HASHING_PERMITS: usize = 2;

/// What a console login came to. Refused and locked out get the same answer on the page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginOutcome {
    /// Signed in.
    Session(ConsoleSession),
    /// Wrong name or password.
    Refused,
    /// Too many failed logins of this name (or, for a name that is no user, of its bucket).
    LockedOut,
}

/// Why a user could not be added.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    /// The name is taken.
    #[error("console user {0:?} exists already")]
    Exists(String),
    /// No such user.
    #[error("there is no console user {0:?}; see `central user list`")]
    Unknown(String),
    /// The change would leave no admin to manage users.
    #[error(
        "{0:?} is the last admin; make another user admin first (central user role NAME --role admin)"
    )]
    LastAdmin(String),
    /// The current password given for a change was wrong.
    #[error("the current password is wrong; the password was not changed")]
    WrongPassword,
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
    /// What the user may do, as the database says now (a role change holds at once).
    pub role: Role,
}

impl ConsoleSession {
    /// The signed-in user as the actor of what they do on the console.
    pub fn actor(&self) -> Actor {
        Actor {
            name: self.user.clone(),
            via: Via::Console,
            role: self.role,
        }
    }
}

/// A console user as `central user list` and the users page show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ConsoleUser {
    /// Name.
    pub name: String,
    /// Role.
    pub role: Role,
    /// When added.
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// Sessions open now.
    pub sessions: i64,
}

fn check_password(password: &str) -> Result<(), UserError> {
    if password.chars().count() < 10 {
        return Err(UserError::Invalid(
            "password must be at least 10 characters".into(),
        ));
    }
    Ok(())
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

/// The `login_failures` row that throttles `name`: its own for a user, else a shared bucket.
fn throttle_key(name: &str, known: bool) -> String {
    if known {
        format!("user:{name}")
    } else {
        let h = Sha256::digest(name.as_bytes());
        let bucket = u16::from_be_bytes([h[0], h[1]]) % UNKNOWN_NAME_BUCKETS;
        format!("unknown:{bucket}")
    }
}

impl Store {
    /// Runs `work` (a password hash) on the blocking pool, at most [`HASHING_PERMITS`] at once.
    async fn hashing<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, StoreError> {
        let _permit = self
            .hashing
            .acquire()
            .await
            .map_err(|_| StoreError::Corrupt("password hashing pool"))?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| StoreError::Corrupt("password hashing task"))
    }

    /// Rows of `login_failures`: at most one per console user plus [`UNKNOWN_NAME_BUCKETS`].
    pub async fn login_throttle_rows(&self) -> Result<i64, StoreError> {
        sqlx::query_scalar("SELECT COUNT(*) FROM login_failures")
            .fetch_one(self.pool())
            .await
            .doing("counting login throttling rows")
    }

    /// Adds a console user with `role` and an argon2id hash of `password`.
    pub async fn add_console_user(
        &self,
        name: &str,
        password: &str,
        role: Role,
    ) -> Result<(), UserError> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(UserError::Invalid(
                "user name must be 1 to 64 printable characters".into(),
            ));
        }
        check_password(password)?;
        let password = password.to_owned();
        let hash = self.hashing(move || hash_password(&password)).await??;
        let mut w = self.write().await?;
        // Not a citizen record: a taken name is told to the caller (Exists), never dropped.
        let done = sqlx::query("INSERT INTO console_users (name, password_hash, created_at, role) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING")
            .bind(name)
            .bind(hash)
            .bind(now_millis())
            .bind(role.as_str())
            .execute(&mut *w.tx)
            .await
            .doing("adding a console user")?;
        if done.rows_affected() != 1 {
            return Err(UserError::Exists(name.to_owned()));
        }
        w.audit(self, Action::UserAdd, name, role.as_str()).await?;
        w.commit().await?;
        Ok(())
    }

    /// Every console user, by name.
    pub async fn console_users(&self) -> Result<Vec<ConsoleUser>, StoreError> {
        let doing = "listing console users";
        let rows = sqlx::query(
            "SELECT u.name, u.role, u.created_at, \
             (SELECT COUNT(*) FROM console_sessions s WHERE s.user_name = u.name AND s.expires_at > $1) \
             FROM console_users u ORDER BY u.name",
        )
        .bind(now_millis())
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        rows.iter()
            .map(|r| {
                Ok(ConsoleUser {
                    name: r.try_get(0).doing(doing)?,
                    role: role_of(&r.try_get::<String, _>(1).doing(doing)?)?,
                    created_at: chrono::DateTime::from_timestamp_millis(r.try_get(2).doing(doing)?)
                        .ok_or(StoreError::Corrupt("user creation time"))?,
                    sessions: r.try_get(3).doing(doing)?,
                })
            })
            .collect()
    }

    /// The role of console user `name`, if there is one.
    pub async fn console_user_role(&self, name: &str) -> Result<Option<Role>, StoreError> {
        let role: Option<String> =
            sqlx::query_scalar("SELECT role FROM console_users WHERE name = $1")
                .bind(name.trim())
                .fetch_optional(self.pool())
                .await
                .doing("reading a console user's role")?;
        role.as_deref().map(role_of).transpose()
    }

    /// Removes console user `name` and ends every session of theirs at once. The last admin
    /// cannot be removed (nobody could manage users any more).
    pub async fn remove_console_user(&self, name: &str) -> Result<(), UserError> {
        let name = name.trim();
        let mut w = self.write().await?;
        let role = user_role_in(&mut w, name).await?;
        if role == Role::Admin && admins_in(&mut w).await? <= 1 {
            return Err(UserError::LastAdmin(name.to_owned()));
        }
        end_sessions(&mut w, name).await?;
        sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1")
            .bind(throttle_key(name, true))
            .execute(&mut *w.tx)
            .await
            .doing("removing a console user")?;
        sqlx::query("DELETE FROM console_users WHERE name = $1")
            .bind(name)
            .execute(&mut *w.tx)
            .await
            .doing("removing a console user")?;
        w.audit(self, Action::UserRemove, name, role.as_str())
            .await?;
        w.commit().await?;
        Ok(())
    }

    /// Gives console user `name` a new role; the last admin keeps theirs. Their open
    /// sessions carry the new role from their next request.
    pub async fn set_console_role(&self, name: &str, role: Role) -> Result<(), UserError> {
        let name = name.trim();
        let mut w = self.write().await?;
        let before = user_role_in(&mut w, name).await?;
        if before == Role::Admin && role != Role::Admin && admins_in(&mut w).await? <= 1 {
            return Err(UserError::LastAdmin(name.to_owned()));
        }
        sqlx::query("UPDATE console_users SET role = $2 WHERE name = $1")
            .bind(name)
            .bind(role.as_str())
            .execute(&mut *w.tx)
            .await
            .doing("changing a console user's role")?;
        let detail = format!("{before} -> {role}");
        w.audit(self, Action::UserRole, name, &detail).await?;
        w.commit().await?;
        Ok(())
    }

    /// Sets console user `name`'s password (an admin resetting it) and ends every session of
    /// theirs, so whoever knew the old one is signed out everywhere.
    pub async fn set_console_password(&self, name: &str, password: &str) -> Result<(), UserError> {
        self.replace_password(name.trim(), password, Action::UserPassword)
            .await
    }

    /// A user changes their own password, giving the current one; every session of theirs
    /// ends, this one included.
    pub async fn change_own_password(
        &self,
        name: &str,
        current: &str,
        new: &str,
    ) -> Result<(), UserError> {
        let name = name.trim();
        check_password(new)?;
        let stored = sqlx::query_scalar::<_, String>(
            "SELECT password_hash FROM console_users WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(self.pool())
        .await
        .doing("looking up a console user")?
        .ok_or_else(|| UserError::Unknown(name.to_owned()))?;
        // Counted like a login, so a stolen session cannot guess the password through this
        // form any faster than through the login page.
        let locked = self.count_login_attempt(&throttle_key(name, true)).await? > MAX_FAILED_LOGINS;
        let current = current.to_owned();
        if locked
            || !self
                .hashing(move || password_matches(&current, &stored))
                .await?
        {
            return Err(UserError::WrongPassword);
        }
        self.replace_password(name, new, Action::OwnPassword).await
    }

    async fn replace_password(
        &self,
        name: &str,
        password: &str,
        action: Action,
    ) -> Result<(), UserError> {
        check_password(password)?;
        let password = password.to_owned();
        let hash = self.hashing(move || hash_password(&password)).await??;
        let mut w = self.write().await?;
        user_role_in(&mut w, name).await?;
        sqlx::query("UPDATE console_users SET password_hash = $2 WHERE name = $1")
            .bind(name)
            .bind(hash)
            .execute(&mut *w.tx)
            .await
            .doing("changing a password")?;
        let ended = end_sessions(&mut w, name).await?;
        w.audit(self, action, name, &format!("{ended} sessions ended"))
            .await?;
        w.commit().await?;
        Ok(())
    }

    /// Checks a name and password; on success opens a session. Refused says only "no": not
    /// which of the two was wrong. Failed logins are counted in the database, so every
    /// central node on it throttles the same name the same.
    pub async fn console_login(
        &self,
        name: &str,
        password: &str,
    ) -> Result<LoginOutcome, StoreError> {
        let name = name.trim();
        let row = sqlx::query("SELECT password_hash, role FROM console_users WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await
            .doing("looking up a console user")?;
        let (stored, role) = match row {
            Some(r) => (
                Some(r.try_get::<String, _>(0).doing("reading a console user")?),
                role_of(&r.try_get::<String, _>(1).doing("reading a console user")?)?,
            ),
            None => (None, Role::Viewer),
        };
        let known = stored.is_some();
        let key = throttle_key(name, known);
        // Counted as failed before the hash is checked (and cleared on success): the count is
        // one atomic write, so parallel guesses on several nodes get no more tries than one.
        if self.count_login_attempt(&key).await? > MAX_FAILED_LOGINS {
            return Ok(LoginOutcome::LockedOut);
        }
        let phc = stored.unwrap_or_else(|| dummy_hash().to_owned());
        let password = password.to_owned();
        let matches = self
            .hashing(move || password_matches(&password, &phc))
            .await?;
        if !(known && matches) {
            return Ok(LoginOutcome::Refused);
        }
        let session = ConsoleSession {
            token: random_hex(),
            user: name.to_owned(),
            csrf: random_hex(),
            role,
        };
        let now = now_millis();
        let mut w = self.write().await?;
        sqlx::query("DELETE FROM login_failures WHERE throttle_key = $1")
            .bind(&key)
            .execute(&mut *w.tx)
            .await
            .doing("clearing failed logins")?;
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
        Ok(LoginOutcome::Session(session))
    }

    /// Counts a login attempt of `key` and returns the attempts since the first of the
    /// window; a count whose first attempt is older than the lockout starts again at one.
    async fn count_login_attempt(&self, key: &str) -> Result<i64, StoreError> {
        let now = now_millis();
        let mut w = self.write().await?;
        let attempts: i64 = sqlx::query_scalar(
            "INSERT INTO login_failures (throttle_key, failures, first_failed_at) VALUES ($1, 1, $2) \
             ON CONFLICT (throttle_key) DO UPDATE SET \
             failures = CASE WHEN login_failures.first_failed_at <= $3 THEN 1 ELSE login_failures.failures + 1 END, \
             first_failed_at = CASE WHEN login_failures.first_failed_at <= $3 THEN $2 ELSE login_failures.first_failed_at END \
             RETURNING failures",
        )
        .bind(key)
        .bind(now)
        .bind(now - LOCKOUT_MILLIS)
        .fetch_one(&mut *w.tx)
        .await
        .doing("counting a login attempt")?;
        w.commit().await?;
        Ok(attempts)
    }

    /// The live session of this cookie token, if any.
    pub async fn console_session(&self, token: &str) -> Result<Option<ConsoleSession>, StoreError> {
        // Joined with the user, so a removed user's session (deleted with them anyway) and a
        // changed role hold from the very next request.
        let row = sqlx::query(
            "SELECT s.user_name, s.csrf, u.role FROM console_sessions s JOIN console_users u ON u.name = s.user_name \
             WHERE s.token_sha256 = $1 AND s.expires_at > $2",
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
            role: role_of(
                &row.try_get::<String, _>(2)
                    .doing("reading a console session")?,
            )?,
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

fn role_of(text: &str) -> Result<Role, StoreError> {
    text.parse()
        .map_err(|_| StoreError::Corrupt("console user role"))
}

async fn user_role_in(w: &mut super::WriteTx, name: &str) -> Result<Role, UserError> {
    let role: String = sqlx::query_scalar("SELECT role FROM console_users WHERE name = $1")
        .bind(name)
        .fetch_optional(&mut *w.tx)
        .await
        .doing("reading a console user")?
        .ok_or_else(|| UserError::Unknown(name.to_owned()))?;
    Ok(role_of(&role)?)
}

async fn admins_in(w: &mut super::WriteTx) -> Result<i64, StoreError> {
    sqlx::query_scalar("SELECT COUNT(*) FROM console_users WHERE role = 'admin'")
        .fetch_one(&mut *w.tx)
        .await
        .doing("counting admins")
}

/// Ends every session of `name`; how many were open.
async fn end_sessions(w: &mut super::WriteTx, name: &str) -> Result<u64, StoreError> {
    let done = sqlx::query("DELETE FROM console_sessions WHERE user_name = $1 AND expires_at > $2")
        .bind(name)
        .bind(now_millis())
        .execute(&mut *w.tx)
        .await
        .doing("ending a user's sessions")?;
    sqlx::query("DELETE FROM console_sessions WHERE user_name = $1")
        .bind(name)
        .execute(&mut *w.tx)
        .await
        .doing("ending a user's sessions")?;
    Ok(done.rows_affected())
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
