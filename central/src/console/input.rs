//! What the console reads from a browser: cookies, forms and query strings. Each is parsed
//! here, apart from the handlers, so the parsing can be fuzzed without a database.

use axum::http::{HeaderMap, header};
use serde::Deserialize;

/// The value of cookie `name`, matched by its exact name across every `Cookie` header.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

/// The sign-in form.
#[derive(Deserialize)]
#[allow(missing_docs)]
pub struct LoginForm {
    pub user: String,
    pub password: String,
    pub csrf: String,
}

/// A form that carries only its CSRF token (sign out, session revocation).
#[derive(Deserialize)]
#[allow(missing_docs)]
pub struct CsrfForm {
    pub csrf: String,
}

/// Acting on a follow-up: closing it with a note, or turning it into another kind.
#[derive(Deserialize)]
#[allow(missing_docs)]
pub struct FollowUpForm {
    pub csrf: String,
    #[serde(default)]
    pub note: String,
    #[serde(default)]
    pub kind: String,
}

/// Revoking a kiosk: the reason and the confirmation box.
#[derive(Deserialize)]
#[allow(missing_docs)]
pub struct RevokeForm {
    pub csrf: String,
    #[serde(default)]
    pub reason: String,
    /// The confirmation box; browsers send nothing when it is not ticked.
    #[serde(default)]
    pub confirm: String,
}

/// Acknowledging a help request.
#[derive(Deserialize)]
#[allow(missing_docs)]
pub struct AckForm {
    pub csrf: String,
    /// Where to go back to: `hall:ID`, `kiosk:ID` or nothing for the fleet list.
    #[serde(default)]
    pub back: String,
}

/// The audit log's page (`?page=N`).
#[derive(Deserialize)]
#[allow(missing_docs)]
pub struct AuditQuery {
    #[serde(default)]
    pub page: i64,
}

/// Adding a console user.
#[derive(Deserialize)]
#[allow(missing_docs)]
pub struct AddUserForm {
    pub csrf: String,
    pub name: String,
    pub role: String,
    pub password: String,
}

/// Removing a console user.
#[derive(Deserialize)]
#[allow(missing_docs)]
pub struct RemoveUserForm {
    pub csrf: String,
    #[serde(default)]
    pub confirm: String,
}

/// Changing a console user's role.
#[derive(Deserialize)]
#[allow(missing_docs)]
pub struct RoleForm {
    pub csrf: String,
    pub role: String,
}

/// Changing one's own password.
#[derive(Deserialize)]
#[allow(missing_docs)]
pub struct PasswordForm {
    pub csrf: String,
    pub current: String,
    pub new: String,
    pub again: String,
}

/// A hall page's day (`?date=YYYY-MM-DD`).
#[derive(Deserialize)]
#[allow(missing_docs)]
pub struct HallQuery {
    pub date: Option<String>,
}

/// The applications list's filters (`?hall=H&status=S`); empty means all.
#[derive(Deserialize)]
#[allow(missing_docs)]
pub struct ApplicationsQuery {
    #[serde(default)]
    pub hall: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub page: i64,
}

/// Moving an application on: the status (its wire name) and the notes for the citizen.
#[derive(Deserialize)]
#[allow(missing_docs)]
pub struct AdvanceForm {
    pub csrf: String,
    pub status: String,
    #[serde(default)]
    pub note_zh: String,
    #[serde(default)]
    pub note_en: String,
}

impl ApplicationsQuery {
    /// The page asked for and the offset of its first row ([`page_and_offset`]).
    pub fn page_and_offset(&self, rows: i64) -> (i64, i64) {
        page_and_offset(self.page, rows)
    }

    /// The hall asked for, if any.
    pub fn hall(&self) -> Option<&str> {
        Some(self.hall.trim()).filter(|h| !h.is_empty())
    }

    /// The status asked for: Ok(None) for all, Err with the text for an unknown one.
    pub fn status(&self) -> Result<Option<kiosk_api::citizen::ApplicationStatus>, String> {
        match self.status.trim() {
            "" => Ok(None),
            s => kiosk_api::citizen::ApplicationStatus::from_name(s)
                .map(Some)
                .ok_or_else(|| s.chars().take(32).collect()),
        }
    }
}

/// Page `page` of a list of `rows` a page, held to a sane range, and the offset of its first
/// row; any page number a URL can carry gives an offset without overflow.
fn page_and_offset(page: i64, rows: i64) -> (i64, i64) {
    let page = page.clamp(0, i64::from(u32::MAX));
    (page, page.saturating_mul(rows))
}

impl AuditQuery {
    /// The page asked for and the offset of its first row ([`page_and_offset`]).
    pub fn page_and_offset(&self, rows: i64) -> (i64, i64) {
        page_and_offset(self.page, rows)
    }
}

impl HallQuery {
    /// The day asked for (`YYYY-MM-DD`), or None for today.
    pub fn date(&self) -> Option<chrono::NaiveDate> {
        self.date
            .as_deref()
            .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
    }
}

impl AckForm {
    /// Where to go back to after acknowledging a help request of `hall` from `kiosk`: only
    /// that hall's or kiosk's page, never an address the form names (no open redirect).
    pub fn back_to(&self, hall: &str, kiosk: &str) -> String {
        match self.back.split_once(':') {
            Some(("hall", h)) if h == hall => format!("/console/halls/{h}"),
            Some(("kiosk", k)) if k == kiosk => format!("/console/kiosks/{k}"),
            _ => "/console/fleet".to_owned(),
        }
    }
}
