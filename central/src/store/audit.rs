//! Who did what (issue 17 item 9): console roles, the acting user, and the audit log.
//!
//! Every state-changing ops action writes its `audit_log` row inside its own transaction, so
//! the log and the data cannot disagree. The actor rides on the [`Store`] handle
//! ([`Store::acting_as`]): the console sets its signed-in user, the CLI its operator, and a
//! caller that sets none (a test using the store directly) is logged as `store`. Roles are
//! checked where a person acts (console handlers, CLI commands) with [`Actor::may`], before
//! anything is done.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{AnyConnection, Row as _};

use super::{Doing as _, Store, StoreError, now_millis};

/// What a console user may do. Ordered: each role may do what the ones below it may.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads every page; changes nothing.
    Viewer,
    /// A window clerk: reads what a viewer reads and acts on the queue at the windows they
    /// are bound to (`central queue clerk`), at no other; reads and moves on the
    /// applications of the halls of those windows.
    Clerk,
    /// Day-to-day work in the halls: help requests, follow-ups, applications of every hall,
    /// calling the queue, appointments, pausing and resuming a rollout.
    Operator,
    /// Everything: publishing, releases, starting and aborting rollouts, users, kiosks
    /// (revoke, retire), enrolment tokens, keys.
    Admin,
}

impl Role {
    /// As stored and typed: `viewer`, `operator`, `admin`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Clerk => "clerk",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Role {
    type Err = String;

    fn from_str(text: &str) -> Result<Role, String> {
        match text.trim() {
            "viewer" => Ok(Role::Viewer),
            "clerk" => Ok(Role::Clerk),
            "operator" => Ok(Role::Operator),
            "admin" => Ok(Role::Admin),
            other => Err(format!(
                "{other:?} is no role; use viewer, clerk, operator or admin"
            )),
        }
    }
}

/// Where an action came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Via {
    /// The ops console.
    Console,
    /// The `central` command line.
    Cli,
    /// A caller of the store that named no actor.
    Store,
}

impl Via {
    fn as_str(self) -> &'static str {
        match self {
            Via::Console => "console",
            Via::Cli => "cli",
            Via::Store => "store",
        }
    }
}

/// Who acts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// A console user's name, or `cli:` and the operating-system user.
    pub name: String,
    /// Where from.
    pub via: Via,
    /// What they may do.
    pub role: Role,
}

/// A state-changing ops action: its name in the log and the role it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Publish a catalog or configuration bundle.
    Publish,
    /// Publish a release.
    ReleasePublish,
    /// Start a rollout.
    RolloutStart,
    /// Pause a rollout.
    RolloutPause,
    /// Resume a rollout.
    RolloutResume,
    /// Abort a rollout.
    RolloutAbort,
    /// Add a console user.
    UserAdd,
    /// Remove a console user.
    UserRemove,
    /// Set another user's password.
    UserPassword,
    /// Change a user's role.
    UserRole,
    /// Change one's own password (any role).
    OwnPassword,
    /// Revoke a kiosk.
    KioskRevoke,
    /// Retire a kiosk.
    KioskRetire,
    /// Make an enrolment or re-provisioning token.
    TokenCreate,
    /// Trust an ops key.
    KeysTrust,
    /// Rotate an ops key by a signed statement.
    KeysRotate,
    /// Revoke a leaked ops key by a statement signed with the other key.
    KeysRevoke,
    /// Acknowledge a help request.
    HelpAck,
    /// Follow up a bad review.
    RatingFollowUp,
    /// Move an application on.
    ApplicationStatus,
    /// Read a citizen's form answers or a scanned material of an application.
    ApplicationRead,
    /// Call the next ticket.
    QueueCall,
    /// Call a window's current ticket again.
    QueueRecall,
    /// Mark a window's current ticket a no-show (过号).
    QueueNoShow,
    /// Send a window's current ticket to another queue or window.
    QueueTransfer,
    /// Mark a window's current ticket served (办结).
    QueueServed,
    /// Set up a hall's windows and its no-show rule.
    WindowSet,
    /// Bind a clerk to a window.
    ClerkBind,
    /// Import appointments.
    AppointmentsImport,
}

impl Action {
    /// Its name in the log.
    pub fn name(self) -> &'static str {
        match self {
            Action::Publish => "bundle.publish",
            Action::ReleasePublish => "release.publish",
            Action::RolloutStart => "rollout.start",
            Action::RolloutPause => "rollout.pause",
            Action::RolloutResume => "rollout.resume",
            Action::RolloutAbort => "rollout.abort",
            Action::UserAdd => "user.add",
            Action::UserRemove => "user.remove",
            Action::UserPassword => "user.password",
            Action::UserRole => "user.role",
            Action::OwnPassword => "user.own_password",
            Action::KioskRevoke => "kiosk.revoke",
            Action::KioskRetire => "kiosk.retire",
            Action::TokenCreate => "token.create",
            Action::KeysTrust => "keys.trust",
            Action::KeysRotate => "keys.rotate",
            Action::KeysRevoke => "keys.revoke",
            Action::HelpAck => "help.ack",
            Action::RatingFollowUp => "rating.follow_up",
            Action::ApplicationStatus => "application.status",
            Action::ApplicationRead => "application.read",
            Action::QueueCall => "queue.call",
            Action::QueueRecall => "queue.recall",
            Action::QueueNoShow => "queue.no_show",
            Action::QueueTransfer => "queue.transfer",
            Action::QueueServed => "queue.served",
            Action::WindowSet => "window.set",
            Action::ClerkBind => "clerk.bind",
            Action::AppointmentsImport => "appointments.import",
        }
    }

    /// The least role that may do it.
    pub fn needs(self) -> Role {
        match self {
            Action::OwnPassword => Role::Viewer,
            // A clerk's further limit, to their own windows (and for applications the halls
            // of those), is checked where they act.
            Action::ApplicationStatus
            | Action::ApplicationRead
            | Action::QueueCall
            | Action::QueueRecall
            | Action::QueueNoShow
            | Action::QueueTransfer
            | Action::QueueServed => Role::Clerk,
            Action::RolloutPause
            | Action::RolloutResume
            | Action::HelpAck
            | Action::RatingFollowUp
            | Action::AppointmentsImport => Role::Operator,
            Action::Publish
            | Action::ReleasePublish
            | Action::RolloutStart
            | Action::RolloutAbort
            | Action::UserAdd
            | Action::UserRemove
            | Action::UserPassword
            | Action::UserRole
            | Action::KioskRevoke
            | Action::KioskRetire
            | Action::TokenCreate
            | Action::KeysTrust
            | Action::KeysRotate
            | Action::KeysRevoke
            | Action::WindowSet
            | Action::ClerkBind => Role::Admin,
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// An action refused for the actor's role.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{actor} has the {role} role; {action} needs the {needed} role (central user role NAME --role {needed})"
)]
pub struct Forbidden {
    /// Who tried.
    pub actor: String,
    /// Their role.
    pub role: Role,
    /// What.
    pub action: Action,
    /// The role it needs.
    pub needed: Role,
}

impl Actor {
    /// A caller of the store that named nobody: logged as such, allowed what the store does.
    fn unnamed() -> Actor {
        Actor {
            name: "store".to_owned(),
            via: Via::Store,
            role: Role::Admin,
        }
    }

    /// Whether this actor may do `action`.
    pub fn may(&self, action: Action) -> Result<(), Forbidden> {
        if self.role >= action.needs() {
            Ok(())
        } else {
            Err(Forbidden {
                actor: self.name.clone(),
                role: self.role,
                action,
                needed: action.needs(),
            })
        }
    }
}

/// One row of the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Its number, increasing.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// console, cli or store.
    pub via: String,
    /// [`Action::name`].
    pub action: String,
    /// What it acted on.
    pub target: String,
    /// More, never a secret.
    pub detail: String,
}

/// Writes the row of `action` by `actor`, in the caller's transaction.
pub(crate) async fn record(
    conn: &mut AnyConnection,
    actor: &Actor,
    action: Action,
    target: &str,
    detail: &str,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO audit_log (at, actor, via, action, target, detail) VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(now_millis())
    .bind(&actor.name)
    .bind(actor.via.as_str())
    .bind(action.name())
    .bind(target)
    .bind(detail)
    .execute(conn)
    .await
    .doing("writing the audit log")?;
    Ok(())
}

impl Store {
    /// This store, with its state-changing ops actions logged as done by `actor`.
    pub fn acting_as(&self, actor: Actor) -> Store {
        Store {
            actor: Some(std::sync::Arc::new(actor)),
            ..self.clone()
        }
    }

    /// Who this store's actions are logged as.
    pub fn actor(&self) -> Actor {
        self.actor
            .as_deref()
            .cloned()
            .unwrap_or_else(Actor::unnamed)
    }

    /// The audit log, newest first: `limit` rows after skipping `offset`, and how many rows
    /// there are in all.
    pub async fn audit_log(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<AuditEntry>, i64), StoreError> {
        let doing = "reading the audit log";
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM audit_log")
            .fetch_one(self.pool())
            .await
            .doing(doing)?;
        let rows = sqlx::query(
            "SELECT id, at, actor, via, action, target, detail FROM audit_log ORDER BY id DESC LIMIT $1 OFFSET $2",
        )
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        let entries = rows
            .iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.try_get(0).doing(doing)?,
                    at: DateTime::from_timestamp_millis(r.try_get(1).doing(doing)?)
                        .ok_or(StoreError::Corrupt("audit time"))?,
                    actor: r.try_get(2).doing(doing)?,
                    via: r.try_get(3).doing(doing)?,
                    action: r.try_get(4).doing(doing)?,
                    target: r.try_get(5).doing(doing)?,
                    detail: r.try_get(6).doing(doing)?,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok((entries, total))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_allow_what_their_level_allows() {
        let as_role = |role| Actor {
            name: "u".into(),
            via: Via::Console,
            role,
        };
        assert!(as_role(Role::Viewer).may(Action::Publish).is_err());
        assert!(as_role(Role::Viewer).may(Action::HelpAck).is_err());
        assert!(as_role(Role::Viewer).may(Action::OwnPassword).is_ok());
        assert!(as_role(Role::Operator).may(Action::HelpAck).is_ok());
        assert!(as_role(Role::Clerk).may(Action::QueueCall).is_ok());
        assert!(as_role(Role::Clerk).may(Action::HelpAck).is_err());
        assert!(as_role(Role::Clerk).may(Action::ApplicationStatus).is_ok());
        assert!(
            as_role(Role::Viewer)
                .may(Action::ApplicationStatus)
                .is_err()
        );
        assert!(as_role(Role::Viewer).may(Action::ApplicationRead).is_err());
        assert!(as_role(Role::Viewer).may(Action::QueueCall).is_err());
        assert!(as_role(Role::Operator).may(Action::RolloutPause).is_ok());
        assert!(as_role(Role::Operator).may(Action::RolloutAbort).is_err());
        assert!(as_role(Role::Operator).may(Action::KioskRevoke).is_err());
        assert!(as_role(Role::Admin).may(Action::UserRemove).is_ok());
        let refused = as_role(Role::Viewer).may(Action::Publish).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "u has the viewer role; bundle.publish needs the admin role (central user role NAME --role admin)"
        );
        assert_eq!("operator".parse::<Role>(), Ok(Role::Operator));
        assert!("root".parse::<Role>().is_err());
    }
}
