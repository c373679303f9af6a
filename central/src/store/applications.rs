//! Applications as hall staff handle them (issue 16 item 6): a hall's list, one application
//! with its form answers and scanned materials, and the state machine of the moves staff
//! make ([`next_statuses`]; the move itself is [`Store::advance_application`]).
//!
//! Reading a citizen's form answers or scans is access to personal data: each read is a row
//! of the audit log (`application.read`), written before the data leaves the store. A clerk
//! reads and moves only applications of halls where they have a window; the scans of a
//! material are looked up under the kiosk that submitted the application, so a material can
//! never name another kiosk's upload.

use chrono::{DateTime, Utc};
use kiosk_api::citizen::{ApplicationStatus, SubmittedMaterial, TimelineEntry};
use kiosk_api::{ApplicationNo, Catalog};
use sqlx::Row as _;
use sqlx::any::AnyRow;
use uuid::Uuid;

use super::citizen::time_of;
use super::{Action, Doing as _, Role, Store, StoreError};

/// Most rows one list of applications shows.
pub const APPLICATION_LIST_ROWS: i64 = 50;

/// The statuses staff may move an application to from `from`. Rejected and completed are
/// final; 需补正 may be asked again (something else is missing) and leads back to accepted
/// or in review once the citizen has brought what was missing.
pub fn next_statuses(from: ApplicationStatus) -> &'static [ApplicationStatus] {
    use ApplicationStatus as S;
    match from {
        S::Submitted => &[S::Accepted, S::InReview, S::SupplementRequired, S::Rejected],
        S::Accepted => &[
            S::InReview,
            S::SupplementRequired,
            S::Approved,
            S::Rejected,
            S::ReadyForPickup,
            S::Completed,
        ],
        S::InReview => &[
            S::SupplementRequired,
            S::Approved,
            S::Rejected,
            S::ReadyForPickup,
            S::Completed,
        ],
        S::SupplementRequired => &[S::Accepted, S::InReview, S::SupplementRequired, S::Rejected],
        S::Approved => &[S::ReadyForPickup, S::Completed],
        S::ReadyForPickup => &[S::Completed],
        S::Rejected | S::Completed => &[],
    }
}

/// Whether a move to `to` must say why, in Chinese at least: the citizen has to know what
/// is missing or why they were refused.
pub fn needs_note(to: ApplicationStatus) -> bool {
    matches!(
        to,
        ApplicationStatus::SupplementRequired | ApplicationStatus::Rejected
    )
}

/// One application in a hall's list: no form answers, the masked name only.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ApplicationSummary {
    /// The number as stored (17 digits).
    pub application_no: String,
    /// Hall.
    pub hall_id: String,
    /// The kiosk it was made at.
    pub kiosk_id: String,
    /// Matter id from the catalog.
    pub matter_code: String,
    /// Masked name, e.g. `张*`.
    pub holder_name_masked: String,
    /// Where it stands.
    pub status: ApplicationStatus,
    /// When the citizen submitted it.
    pub submitted_at: DateTime<Utc>,
}

/// One step of an application's timeline as staff see it: what the citizen sees, and who
/// set it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct StaffTimelineEntry {
    /// What the kiosk's progress query shows.
    #[serde(flatten)]
    pub entry: TimelineEntry,
    /// The console user (or `cli:` user) who set it; None for the kiosk's submission and
    /// steps set before central recorded staff.
    pub staff: Option<String>,
}

/// A material of an application and whether its scan has reached central.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct MaterialState {
    /// What the kiosk submitted.
    pub material: SubmittedMaterial,
    /// Whether the whole PDF is on central, checked against its digest.
    pub complete: bool,
    /// Bytes received so far.
    pub received: u64,
}

/// One application as staff handling it see it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ApplicationDetail {
    /// The list's fields.
    #[serde(flatten)]
    pub summary: ApplicationSummary,
    /// Form field -> answer, as the kiosk sent it.
    pub form: serde_json::Map<String, serde_json::Value>,
    /// The scanned materials, in the kiosk's order.
    pub materials: Vec<MaterialState>,
    /// Oldest first.
    pub timeline: Vec<StaffTimelineEntry>,
}

/// A material's PDF, ready to serve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaterialPdf {
    /// Its digest, as the kiosk named it.
    pub sha256: String,
    /// The bytes, whose sha256 central checked when the upload completed.
    pub bytes: Vec<u8>,
}

/// Why staff could not read an application or one of its materials.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// No such application.
    #[error("no application {0}")]
    Unknown(String),
    /// A clerk reading an application of a hall where they have no window.
    #[error(
        "{user} has no window in hall {hall}; a clerk handles applications of their own hall only (central queue clerk)"
    )]
    NotYourHall {
        /// Who tried.
        user: String,
        /// The application's hall.
        hall: String,
    },
    /// The application has no material of this code.
    #[error("application {application_no} has no material {code:?}")]
    NoSuchMaterial {
        /// Application.
        application_no: String,
        /// The code asked for.
        code: String,
    },
    /// The kiosk has not begun uploading the scan.
    #[error(
        "the scan of material {code:?} has not reached central; the kiosk uploads it before it sends the application, so ask the hall to check that kiosk's outbox"
    )]
    NotUploaded {
        /// Material code.
        code: String,
    },
    /// The upload has begun but not finished.
    #[error(
        "the scan of material {code:?} is still uploading ({received} bytes so far); try again in a moment"
    )]
    Incomplete {
        /// Material code.
        code: String,
        /// Bytes received.
        received: u64,
    },
    /// The upload is complete but is no PDF: never served as one.
    #[error("the scan of material {code:?} is not a PDF; the kiosk that sent it needs looking at")]
    NotAPdf {
        /// Material code.
        code: String,
    },
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn summary_of(r: &AnyRow) -> Result<ApplicationSummary, StoreError> {
    let doing = "reading applications";
    let status: String = r.try_get("status").doing(doing)?;
    Ok(ApplicationSummary {
        application_no: r.try_get("application_no").doing(doing)?,
        hall_id: r.try_get("hall_id").doing(doing)?,
        kiosk_id: r.try_get("kiosk_id").doing(doing)?,
        matter_code: r.try_get("matter_code").doing(doing)?,
        holder_name_masked: r.try_get("holder_name_masked").doing(doing)?,
        status: ApplicationStatus::from_name(&status)
            .ok_or(StoreError::Corrupt("application status"))?,
        submitted_at: time_of(r.try_get("submitted_at").doing(doing)?)?,
    })
}

const SUMMARY_COLUMNS: &str =
    "application_no, hall_id, kiosk_id, matter_code, holder_name_masked, status, submitted_at";

/// The number as stored: a 17-digit number typed with spaces is the same application.
pub(crate) fn stored_number(typed: &str) -> String {
    ApplicationNo::parse(typed).map_or_else(|_| typed.trim().to_owned(), |n| n.to_string())
}

impl Store {
    /// The halls whose applications this store's actor handles: a clerk's halls are those
    /// where they have a window; None for every hall (viewers, operators, admins).
    pub async fn application_halls(&self) -> Result<Option<Vec<String>>, StoreError> {
        let actor = self.actor();
        if actor.role != Role::Clerk {
            return Ok(None);
        }
        let mut halls: Vec<String> = self
            .clerk_windows(&actor.name)
            .await?
            .into_iter()
            .map(|(hall, _)| hall)
            .collect();
        halls.dedup();
        Ok(Some(halls))
    }

    /// Refuses a clerk acting on `hall` without a window there.
    pub(crate) async fn check_application_hall(&self, hall: &str) -> Result<(), ReadError> {
        match self.application_halls().await? {
            Some(halls) if !halls.iter().any(|h| h == hall) => {
                let user = self.actor().name;
                tracing::warn!(%user, hall, "clerk refused an application of another hall");
                Err(ReadError::NotYourHall {
                    user,
                    hall: hall.to_owned(),
                })
            }
            _ => Ok(()),
        }
    }

    /// A page of applications for staff, newest first: of `hall` and in `status` when
    /// given, [`APPLICATION_LIST_ROWS`] from `offset`; and how many there are in all.
    pub async fn applications_for_staff(
        &self,
        hall: Option<&str>,
        status: Option<ApplicationStatus>,
        offset: i64,
    ) -> Result<(Vec<ApplicationSummary>, i64), StoreError> {
        let doing = "listing applications";
        let (hall, status) = (
            hall.unwrap_or(""),
            status.map_or("", ApplicationStatus::as_str),
        );
        // Unused filters compare a parameter with itself, so one statement serves all four.
        const FILTER: &str = "($1 = '' OR hall_id = $1) AND ($2 = '' OR status = $2)";
        let total: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM applications WHERE {FILTER}"
        )))
        .bind(hall)
        .bind(status)
        .fetch_one(self.pool())
        .await
        .doing(doing)?;
        let page = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SUMMARY_COLUMNS} FROM applications WHERE {FILTER} \
             ORDER BY submitted_at DESC, application_no DESC LIMIT $3 OFFSET $4"
        )))
        .bind(hall)
        .bind(status)
        .bind(APPLICATION_LIST_ROWS)
        .bind(offset.max(0))
        .fetch_all(self.pool())
        .await
        .doing(doing)?
        .iter()
        .map(summary_of)
        .collect::<Result<_, _>>()?;
        Ok((page, total))
    }
    /// The list's fields of one application, without its personal data; None if unknown.
    pub async fn application_summary(
        &self,
        application_no: &str,
    ) -> Result<Option<ApplicationSummary>, StoreError> {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SUMMARY_COLUMNS} FROM applications WHERE application_no = $1"
        )))
        .bind(stored_number(application_no))
        .fetch_optional(self.pool())
        .await
        .doing("reading an application")?
        .as_ref()
        .map(summary_of)
        .transpose()
    }

    /// The timeline of an application with who set each step, oldest first.
    pub async fn application_timeline(
        &self,
        application_no: &str,
    ) -> Result<Vec<StaffTimelineEntry>, StoreError> {
        let doing = "reading an application's timeline";
        let rows = sqlx::query(
            "SELECT set_at, status, note_zh, note_en, staff FROM application_timeline WHERE application_no = $1 ORDER BY id",
        )
        .bind(stored_number(application_no))
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        rows.iter()
            .map(|r| {
                let status: String = r.try_get("status").doing(doing)?;
                Ok(StaffTimelineEntry {
                    entry: TimelineEntry {
                        at: time_of(r.try_get("set_at").doing(doing)?)?,
                        status: ApplicationStatus::from_name(&status)
                            .ok_or(StoreError::Corrupt("application status"))?,
                        note_zh: r.try_get("note_zh").doing(doing)?,
                        note_en: r.try_get("note_en").doing(doing)?,
                    },
                    staff: r.try_get("staff").doing(doing)?,
                })
            })
            .collect()
    }

    /// An application's row as staff read it (its stored number, the row with its form, its
    /// summary and its materials), once this store's actor may see its hall.
    async fn staff_read(
        &self,
        application_no: &str,
    ) -> Result<
        (
            String,
            sqlx::any::AnyRow,
            ApplicationSummary,
            Vec<SubmittedMaterial>,
        ),
        ReadError,
    > {
        let doing = "reading an application";
        let no = stored_number(application_no);
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {SUMMARY_COLUMNS}, form, materials FROM applications WHERE application_no = $1"
        )))
        .bind(&no)
        .fetch_optional(self.pool())
        .await
        .doing(doing)?
        .ok_or_else(|| ReadError::Unknown(no.clone()))?;
        let summary = summary_of(&row)?;
        self.check_application_hall(&summary.hall_id).await?;
        let materials: String = row.try_get("materials").doing(doing)?;
        let materials: Vec<SubmittedMaterial> =
            serde_json::from_str(&materials).map_err(|_| StoreError::Corrupt("materials"))?;
        Ok((no, row, summary, materials))
    }

    /// One application with its form answers, materials and timeline, for staff handling
    /// it. The read is audited as this store's actor; a clerk of another hall is refused.
    pub async fn application_for_staff(
        &self,
        application_no: &str,
    ) -> Result<ApplicationDetail, ReadError> {
        let (no, row, summary, materials) = self.staff_read(application_no).await?;
        let form: String = row.try_get("form").doing("reading an application")?;
        let form = serde_json::from_str(&form).map_err(|_| StoreError::Corrupt("form"))?;
        let kiosk = kiosk_of(&summary)?;
        let mut states = Vec::with_capacity(materials.len());
        for material in materials {
            let upload = self
                .upload_status(kiosk, &material.attachment_sha256)
                .await?;
            states.push(MaterialState {
                material,
                complete: upload.complete,
                received: upload.received,
            });
        }
        let timeline = self.application_timeline(&no).await?;
        let mut w = self.write().await?;
        w.audit(
            self,
            Action::ApplicationRead,
            &format!("application {no}"),
            "form answers",
        )
        .await?;
        w.commit().await?;
        Ok(ApplicationDetail {
            summary,
            form,
            materials: states,
            timeline,
        })
    }

    /// The PDF of material `code` of an application, from the kiosk that submitted it and
    /// no other. The read is audited (who read which material of which application) before
    /// the bytes are returned; a clerk of another hall is refused.
    pub async fn application_material(
        &self,
        application_no: &str,
        code: &str,
    ) -> Result<MaterialPdf, ReadError> {
        let (no, _, summary, materials) = self.staff_read(application_no).await?;
        let material = materials
            .into_iter()
            .find(|m| m.material_code == code)
            .ok_or_else(|| ReadError::NoSuchMaterial {
                application_no: no.clone(),
                code: code.to_owned(),
            })?;
        let kiosk = kiosk_of(&summary)?;
        let sha = material.attachment_sha256;
        let status = self.upload_status(kiosk, &sha).await?;
        if !status.complete {
            return Err(if status.received == 0 {
                ReadError::NotUploaded {
                    code: code.to_owned(),
                }
            } else {
                ReadError::Incomplete {
                    code: code.to_owned(),
                    received: status.received,
                }
            });
        }
        let Some(bytes) = self.attachment_bytes(kiosk, &sha).await? else {
            // Expired between the two reads.
            return Err(ReadError::NotUploaded {
                code: code.to_owned(),
            });
        };
        // The digest only proves the bytes are what the kiosk meant to send; a kiosk bug or
        // a tampered kiosk could still have sent something a browser would run.
        if !bytes.starts_with(b"%PDF-") {
            tracing::warn!(application = %no, material = code, "an application's material is no PDF; not served");
            return Err(ReadError::NotAPdf {
                code: code.to_owned(),
            });
        }
        let mut w = self.write().await?;
        w.audit(
            self,
            Action::ApplicationRead,
            &format!("application {no}"),
            &format!("material {code} ({} bytes, sha256 {sha})", bytes.len()),
        )
        .await?;
        w.commit().await?;
        Ok(MaterialPdf { sha256: sha, bytes })
    }

    /// The catalog `hall` runs (its desired catalog bundle), to label matters, form fields
    /// and materials; None when none was published or it no longer reads as a catalog.
    pub async fn hall_catalog(&self, hall: &str) -> Result<Option<Catalog>, StoreError> {
        let payload: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT b.payload FROM desired d JOIN bundles b ON b.kind = d.kind AND b.version = d.version \
             WHERE d.hall_id = $1 AND d.kind = $2",
        )
        .bind(hall)
        .bind(kiosk_api::catalog::BUNDLE_KIND)
        .fetch_optional(self.pool())
        .await
        .doing("reading a hall's catalog")?;
        Ok(payload.and_then(|p| match Catalog::from_json(&p) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(hall, error = %e, "the hall's catalog does not read; labels fall back to codes");
                None
            }
        }))
    }
}

fn kiosk_of(summary: &ApplicationSummary) -> Result<Uuid, StoreError> {
    Uuid::parse_str(&summary.kiosk_id).map_err(|_| StoreError::Corrupt("application kiosk"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ApplicationStatus as S;

    #[test]
    fn final_statuses_allow_no_move_and_every_other_one_some() {
        for s in S::ALL {
            let next = next_statuses(s);
            assert_eq!(
                next.is_empty(),
                matches!(s, S::Rejected | S::Completed),
                "{s}"
            );
            assert!(!next.contains(&S::Submitted), "{s}");
        }
        assert!(next_statuses(S::Submitted).contains(&S::Accepted));
        assert!(!next_statuses(S::Submitted).contains(&S::Completed));
        assert!(next_statuses(S::SupplementRequired).contains(&S::Accepted));
        assert!(!next_statuses(S::SupplementRequired).contains(&S::Completed));
        assert!(needs_note(S::SupplementRequired) && !needs_note(S::Accepted));
    }

    #[test]
    fn typed_numbers_are_stored_without_spaces() {
        assert_eq!(stored_number("0012 0326 1201 0007 5"), "00120326120100075");
        assert_eq!(stored_number(" odd "), "odd");
    }
}
