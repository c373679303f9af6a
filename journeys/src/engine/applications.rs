//! Applications: scanning a material (the scanner's task spools the PDF), numbering and
//! storing the application with its scans in one transaction (its receipt is laid out in
//! [`crate::slips`]).

use chrono::{DateTime, NaiveDate, Utc};
use kiosk_api::catalog::Catalog;
use kiosk_api::citizen::{
    ApplicationProgress, ApplicationStatus, ApplicationSubmitted, CitizenEvent, SubmittedMaterial,
    TimelineEntry, business_date_at,
};
use kiosk_api::{ApplicationNo, Stream};
use kiosk_core::store::{NewEvent, Store};
use kiosk_dispenser::Slip;

use super::Stats;
use super::blocking::{Failed, blocking};
use super::devices::{ScannerSlot, scan_outcome};
use super::jobs::{ScanRun, Work};
use super::notices::{notice, store_failed};
use super::progress::cache_progress;
use super::wiring::Numbering;
use crate::machines::{ApplicationOrder, Notice, ScanOutcome, ScannedMaterial};
use crate::model::Text;
use crate::slips::{self, ReceiptFacts};

/// The scanner's task: scans one material and, when every page passed, spools its PDF.
pub(super) async fn scan(mut slot: ScannerSlot, store: Store, material_id: String) -> Work {
    let result = match slot.scan().await {
        Ok((pages, Some((pdf, count)))) => {
            let kept = blocking(move || store.spool_attachment(&pdf))
                .await
                .map(|id| (id, count));
            Ok((pages, Some(kept)))
        }
        Ok((pages, None)) => Ok((pages, None)),
        Err(error) => Err(error),
    };
    Work::Scan {
        slot,
        material_id,
        result,
    }
}

/// What a scan's report means for the journey. The caller re-checks availability when it
/// carries an error.
pub(super) fn scanned(
    desk: &Text,
    material_id: String,
    result: ScanRun,
    stats: &mut Stats,
) -> ScanOutcome {
    stats.scans += 1;
    match result {
        Ok((pages, Some(Ok((id, count))))) => scan_outcome(
            pages,
            Some(ScannedMaterial {
                material_id,
                sha256: id.as_str().to_owned(),
                pages: count,
            }),
            None,
        ),
        Ok((pages, Some(Err(err)))) => {
            tracing::error!(%err, "scan not kept");
            let error = if err.disk_full() {
                Text::new(
                    format!("本终端存储空间已满，无法保存扫描件，请到{}办理", desk.zh),
                    format!(
                        "This kiosk's storage is full and the scan could not be kept; please go to {}",
                        desk.en
                    ),
                )
            } else {
                Text::new(
                    "扫描件保存失败，请重试",
                    "The scan could not be kept; try again",
                )
            };
            scan_outcome(pages, None, Some(error))
        }
        Ok((pages, None)) => {
            stats.pages_retaken += pages.iter().filter(|p| !p.accepted).count() as u32;
            let error = Some(Text::new(
                "有页面未通过检查，请调整后重扫",
                "Some pages did not pass the checks; adjust and rescan",
            ));
            scan_outcome(pages, None, error)
        }
        Err(error) => scan_outcome(Vec::new(), None, Some(error)),
    }
}

/// What storing an application needs.
pub(super) struct Filing<'a> {
    /// The store.
    pub(super) store: &'a Store,
    /// The matters, for the receipt.
    pub(super) catalog: &'a Catalog,
    /// The kiosk's application numbering; `None`: it cannot number applications.
    pub(super) numbering: Option<Numbering>,
    /// The receipt's QR prefix.
    pub(super) progress_url: &'a str,
    /// Where central's live pages are, as it last said (`central serve --public-url`).
    pub(super) live_url_prefix: Option<String>,
    /// The hall's help desk.
    pub(super) desk: &'a Text,
    /// Now.
    pub(super) now: DateTime<Utc>,
}

/// Numbers and stores the application (one transaction with its scans) and caches its
/// progress for offline look-ups; its number and receipt, or why not.
pub(super) async fn store_application(
    f: Filing<'_>,
    mut order: ApplicationOrder,
    stats: &mut Stats,
) -> Result<(ApplicationNo, Slip), Notice> {
    let today = business_date_at(f.now);
    let failed = |err: Option<&Failed>| match err {
        Some(err) => store_failed(
            f.desk,
            err,
            Text::new("提交失败", "Submission failed"),
            Text::new("办理", "apply"),
        ),
        None => notice(
            f.desk,
            Text::new("提交失败", "Submission failed"),
            Text::new(
                "本终端暂时无法受理申报，请到窗口办理",
                "This kiosk cannot take applications right now; please apply at the window",
            ),
            None,
        ),
    };
    let (Some(numbering), Some(holder_hash)) =
        (f.numbering, order.holder.holder_hash().map(str::to_owned))
    else {
        tracing::error!("application refused: no hall code or no holder key");
        return Err(failed(None));
    };
    let no = number(&f, numbering, today)
        .await
        .map_err(|err| err.map_or_else(|| used_up(f.desk), |err| failed(Some(&err))))?;
    // With central's live pages known, the receipt's QR opens this application's progress
    // page by a token made here (offline too), which the application's record carries.
    let live_token = f
        .live_url_prefix
        .as_ref()
        .map(|_| uuid::Uuid::new_v4().simple().to_string());
    let progress_link = match (&f.live_url_prefix, &live_token) {
        (Some(prefix), Some(token)) => format!("{prefix}{token}"),
        _ => format!("{}{}", f.progress_url, no),
    };
    let event = application_event(no, &holder_hash, &mut order, f.now, live_token);
    let store = f.store.clone();
    if let Err(err) = blocking(move || store.enqueue(event)).await {
        // One transaction: nothing of the application was written.
        tracing::error!(%err, "application not stored");
        return Err(failed(Some(&err)));
    }
    stats.applications += 1;
    // What "where is my case" shows offline until central answers.
    let progress = submitted(no, &order.matter_id, f.now);
    cache_progress(f.store, f.now, Some(&holder_hash), &[progress]).await;
    let receipt = slips::receipt(ReceiptFacts {
        catalog: f.catalog,
        no,
        matter_id: &order.matter_id,
        holder_masked: &order.holder.masked_name,
        materials: &order.materials,
        submitted_at: f.now,
        progress_link,
    });
    Ok((no, receipt))
}

/// The `application_submitted` event with its scans as attachments. The form's answers are
/// taken out of the order, not copied: the event is the one copy, wiped once it is sealed.
fn application_event(
    no: ApplicationNo,
    holder_hash: &str,
    order: &mut ApplicationOrder,
    now: DateTime<Utc>,
    live_token: Option<String>,
) -> NewEvent {
    let payload = ApplicationSubmitted {
        application_no: no,
        matter_code: order.matter_id.clone(),
        holder_hash: holder_hash.to_owned(),
        holder_name_masked: order.holder.masked_name.clone(),
        form: std::mem::take(&mut order.form),
        materials: order
            .materials
            .iter()
            .map(|m| SubmittedMaterial {
                material_code: m.material_id.clone(),
                attachment_sha256: m.sha256.clone(),
                pages: m.pages,
            })
            .collect(),
        submitted_at: now,
        live_token,
    };
    NewEvent {
        stream: Stream::Records,
        kind: ApplicationSubmitted::KIND.into(),
        payload: payload.to_payload(),
        personal: true,
        attachments: order
            .materials
            .iter()
            .filter_map(|m| kiosk_core::store::AttachmentId::parse(&m.sha256))
            .collect(),
    }
}

/// An application's progress as submitted here.
fn submitted(no: ApplicationNo, matter: &str, now: DateTime<Utc>) -> ApplicationProgress {
    ApplicationProgress {
        application_no: no,
        matter_code: matter.to_owned(),
        status: ApplicationStatus::Submitted,
        timeline: vec![TimelineEntry {
            at: now,
            status: ApplicationStatus::Submitted,
            note_zh: Some("已在自助终端提交".into()),
            note_en: Some("Submitted at the kiosk".into()),
        }],
    }
}

/// The day's next application number. `Err(None)`: the day's numbers are used up.
async fn number(
    f: &Filing<'_>,
    numbering: Numbering,
    today: NaiveDate,
) -> Result<ApplicationNo, Option<Failed>> {
    let store = f.store.clone();
    let counter = blocking(move || store.next_application_counter(today))
        .await
        .map_err(|err| {
            tracing::error!(%err, "application counter");
            Some(err)
        })?;
    // Never wrap the daily sequence: a number given twice is the one defect this numbering
    // exists to rule out.
    u16::try_from(counter)
        .ok()
        .and_then(|seq| ApplicationNo::new(numbering.hall, numbering.kiosk, today, seq).ok())
        .ok_or_else(|| {
            tracing::error!(counter, "the day's application numbers are used up");
            None
        })
}

fn used_up(desk: &Text) -> Notice {
    notice(
        desk,
        Text::new("今日自助申报已满", "No more applications here today"),
        Text::new(
            "本终端今日申报编号已用完，请到窗口办理",
            "This kiosk has used all of today's application numbers; please apply at the window",
        ),
        None,
    )
}
