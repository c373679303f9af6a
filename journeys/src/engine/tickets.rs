//! Tickets: a number taken durably, its print intent, the dispenser's answer settled as the
//! ticket's fate (issued, issued but unconfirmed, void), numbers left unsettled by a crash or
//! a full disk, check-in's appointments, and the technician's test ticket.

use std::sync::Mutex;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use kiosk_api::NumberBand;
use kiosk_api::catalog::{Catalog, Category};
use kiosk_api::citizen::{
    Appointment, CitizenEvent, TicketIssued, TicketPriority, TicketVoided, VoidReason,
    business_date_at,
};
use kiosk_core::store::{NoNumber, Store, TicketAllocation, TicketFate};
use kiosk_core::sync::CentralClient;
use tokio::sync::Notify;
use uuid::Uuid;

use super::Stats;
use super::blocking::{Failed, blocking};
use super::devices::PrintFailure;
use super::notices::{notice, store_failed};
use super::progress::as_of;
use super::queue::QueueInfo;
use crate::machines::{self, Notice, TicketOrder};
use crate::model::{Text, TicketView};
use crate::slips::{self, QueueFigures, TicketFacts};

/// A ticket whose number is taken and whose print intent is written, out at the dispenser:
/// what its record and the citizen's page need once the dispenser answers.
pub(super) struct PrintingTicket {
    allocation: TicketAllocation,
    issued: TicketIssued,
    view: TicketView,
    category: String,
    checkin: bool,
}

impl PrintingTicket {
    /// The number out at the dispenser.
    pub(super) fn allocation(&self) -> &TicketAllocation {
        &self.allocation
    }
}

/// Numbers whose fate is still to be written: printed tickets the store refused (written
/// again at every health poll; their print intent covers a restart meanwhile) and numbers out
/// at the dispenser (their fate comes with the print's report).
#[derive(Default)]
pub(super) struct Unsettled {
    /// Printed, record refused.
    pub(super) unrecorded: Vec<(TicketAllocation, serde_json::Value)>,
    /// Out at the dispenser.
    pub(super) printing: Vec<TicketAllocation>,
}

fn same(a: &TicketAllocation, b: &TicketAllocation) -> bool {
    a.business_date == b.business_date && a.ticket_no == b.ticket_no
}

/// What taking a number needs.
pub(super) struct Numbers<'a> {
    /// The store the number is taken in.
    pub(super) store: &'a Store,
    /// Categories and the hall's name.
    pub(super) catalog: &'a Catalog,
    /// Queue figures for the ticket.
    pub(super) queue: &'a Mutex<QueueInfo>,
    /// Told when a number is taken: it leases more ahead of need.
    pub(super) keeper: &'a Notify,
    /// The kiosk's own band, for when no leased block has numbers left.
    pub(super) band: NumberBand,
    /// The ticket's QR prefix.
    pub(super) queue_url: &'a str,
    /// How old queue figures may be before the ticket says "as of".
    pub(super) refresh: Duration,
    /// The hall's help desk.
    pub(super) desk: &'a Text,
    /// Now.
    pub(super) now: DateTime<Utc>,
}

/// Takes a number for `order` and writes its print intent: the ticket to print and what its
/// record needs afterwards, or why there is no ticket.
pub(super) async fn take_number(
    n: Numbers<'_>,
    order: TicketOrder,
    stats: &mut Stats,
) -> Result<(PrintingTicket, kiosk_dispenser::Ticket), Notice> {
    let today = business_date_at(n.now);
    let Some(category) = crate::catalog::category(n.catalog, &order.category).cloned() else {
        return Err(notice(
            n.desk,
            Text::new("无此业务类别", "Unknown service"),
            Text::new("请到咨询台咨询", "Please ask at the information desk"),
            None,
        ));
    };
    let allocation = allocate(&n, &category, &order, today, stats).await?;
    n.keeper.notify_one();
    let (figures, live_prefix) = {
        let info = n.queue.lock().unwrap_or_else(|p| p.into_inner());
        (
            figures(&info, &category, today, n.now, n.refresh),
            info.live_url_prefix().map(str::to_owned),
        )
    };
    // With central's live pages known, the QR code opens this ticket's page by a token made
    // here at random (so offline tickets have one too) and sent with the ticket's record;
    // otherwise it is the configured queue URL, as before.
    let (link, live_token) = match live_prefix {
        Some(prefix) => {
            let token = Uuid::new_v4().simple().to_string();
            (format!("{prefix}{token}"), Some(token))
        }
        None => (
            format!(
                "{}{}/{}",
                n.queue_url, allocation.business_date, allocation.ticket_no
            ),
            None,
        ),
    };
    let ticket = slips::ticket(TicketFacts {
        hall: &n.catalog.hall.name_zh,
        category: &category,
        number: &allocation.ticket_no,
        figures: &figures,
        link,
        issued_at: n.now,
        // Only the masked form ever leaves the holder; the dispenser masks it again.
        holder_masked: order.holder.as_ref().map(|h| h.masked_name.clone()),
        priority: order.priority != TicketPriority::Normal,
    });
    let issued = TicketIssued {
        ticket_no: allocation.ticket_no.clone(),
        category: allocation.category.clone(),
        number: allocation.number,
        business_date: allocation.business_date,
        priority: order.priority,
        source: allocation.source.clone(),
        issued_at: n.now,
        holder_hash: allocation.holder_hash.clone(),
        appointment_id: order.appointment_id.clone(),
        unconfirmed: false,
        live_token,
    };
    // Written down before the printer gets the ticket: a crash from here on leaves a number
    // that may be in the citizen's hand, and the next start keeps it callable.
    let store = n.store.clone();
    let (a, intent) = (allocation.clone(), issued.to_payload());
    if let Err(err) = blocking(move || store.record_print_intent(&a, &intent)).await {
        tracing::error!(%err, ticket = %allocation.ticket_no, "print intent not recorded; not printing");
        // The number stays taken and unprinted: voided at the next health poll or start.
        return Err(store_failed(
            n.desk,
            &err,
            Text::new("暂时无法取号", "Tickets are not available right now"),
            Text::new("取号", "get a ticket"),
        ));
    }
    let view = TicketView {
        ticket_no: allocation.ticket_no.clone(),
        category: Text::new(&category.name_zh, &category.name_en),
        window: Text::same(category.windows.clone()),
        ahead: figures.ahead,
        wait_minutes: figures.wait.as_secs().div_ceil(60) as u32,
        priority: machines::take_number::priority_label(order.priority),
        stale_note: stale_note(&figures),
    };
    let printing = PrintingTicket {
        allocation,
        issued,
        view,
        category: category.code.clone(),
        checkin: order.appointment_id.is_some(),
    };
    Ok((printing, ticket))
}

/// The number itself, in one durable transaction: from a leased block or the band, refused
/// for a holder who has one of this category today.
async fn allocate(
    n: &Numbers<'_>,
    category: &Category,
    order: &TicketOrder,
    today: NaiveDate,
    stats: &mut Stats,
) -> Result<TicketAllocation, Notice> {
    let store = n.store.clone();
    let (code, band) = (category.code.clone(), n.band);
    let hashes = order
        .holder
        .as_ref()
        .map(|h| h.lookup_hashes().to_vec())
        .unwrap_or_default();
    match blocking(move || store.allocate_ticket(&code, today, &hashes, band)).await {
        Ok(Ok(a)) => Ok(a),
        Ok(Err(NoNumber::Duplicate { ticket_no })) => {
            stats.duplicates_refused += 1;
            Err(Notice {
                title: Text::new(
                    "您今天已取过该类号",
                    "You already have a ticket for this service",
                ),
                message: Text::new(
                    format!("您的号码是 {ticket_no}，请留意叫号，无需重复取号"),
                    format!("Your number is {ticket_no}; please wait to be called"),
                ),
                window: Some(Text::same(category.windows.clone())),
            })
        }
        Ok(Err(NoNumber::Exhausted)) => Err(notice(
            n.desk,
            Text::new("今日号源已发完", "No numbers left today"),
            Text::new(
                "本终端今日号码已用完，请到咨询台",
                "This kiosk has no numbers left today; please ask at the desk",
            ),
            None,
        )),
        Err(err) => {
            tracing::error!(%err, "ticket number not taken");
            Err(store_failed(
                n.desk,
                &err,
                Text::new("暂时无法取号", "Tickets are not available right now"),
                Text::new("取号", "get a ticket"),
            ))
        }
    }
}

/// The queue figures for a ticket of `category` now.
fn figures(
    info: &QueueInfo,
    category: &Category,
    today: NaiveDate,
    now: DateTime<Utc>,
    refresh: Duration,
) -> QueueFigures {
    let ahead = info
        .waiting(&category.code, today)
        .unwrap_or_else(|| info.own_since(&category.code, today));
    let per_ticket = info
        .avg_service_secs(&category.code, today)
        .unwrap_or(category.avg_service_minutes * 60);
    let stale = if !info.has_figures(today) {
        Some(None)
    } else if info.stale(now, refresh) {
        Some(info.fetched_at.map(|at| as_of(at, today)))
    } else {
        None
    };
    QueueFigures {
        ahead,
        wait: Duration::from_secs(u64::from(ahead) * u64::from(per_ticket)),
        stale,
    }
}

/// The screen's note on figures that are not fresh.
fn stale_note(figures: &QueueFigures) -> Option<Text> {
    figures.stale.as_ref().map(|at| match at {
        Some((zh, en)) => Text::new(
            format!("网络中断，排队信息截至 {zh}"),
            format!("Offline: queue figures as of {en}"),
        ),
        None => Text::new(
            "暂无今日排队信息，等候人数仅含本机所出号票",
            "No queue figures for today yet: the count covers this kiosk's tickets only",
        ),
    })
}

/// Records what the dispenser said of a ticket: issued, issued but unconfirmed (it may be
/// partly out), or void; and what the citizen is told. The caller re-checks availability on
/// a failure.
pub(super) async fn ticket_printed(
    store: &Store,
    queue: &Mutex<QueueInfo>,
    desk: &Text,
    (printing, printed): (
        PrintingTicket,
        Result<kiosk_dispenser::Issued, PrintFailure>,
    ),
    unsettled: &mut Unsettled,
    stats: &mut Stats,
) -> Result<TicketView, Notice> {
    let PrintingTicket {
        allocation,
        issued,
        view,
        category,
        checkin,
    } = printing;
    unsettled.printing.retain(|p| !same(p, &allocation));
    let Some(PrintFailure {
        reason,
        maybe_printed,
    }) = printed.err()
    else {
        record_issued(store, &allocation, issued.to_payload(), unsettled).await;
        if let Ok(mut info) = queue.lock() {
            info.count_issued(&category, allocation.business_date);
        }
        stats.tickets_printed += 1;
        if checkin {
            stats.checkins += 1;
        }
        tracing::info!(ticket = %allocation.ticket_no, source = %allocation.source, "ticket issued");
        return Ok(view);
    };
    if !maybe_printed {
        void(store, &allocation, reason).await;
        stats.tickets_voided += 1;
        return Err(voided_notice(desk, reason));
    }
    // The ticket went to the printer and something failed on the way out: a ticket may be
    // in the citizen's hand, so the number stays callable and staff see it marked.
    let payload = TicketIssued {
        unconfirmed: true,
        ..issued
    }
    .to_payload();
    record_issued(store, &allocation, payload, unsettled).await;
    if let Ok(mut info) = queue.lock() {
        info.count_issued(&category, allocation.business_date);
    }
    stats.tickets_unconfirmed += 1;
    tracing::warn!(ticket = %allocation.ticket_no, %reason, "ticket may not have printed whole; kept callable, unconfirmed");
    let no = &allocation.ticket_no;
    Err(Notice {
        title: Text::new("出票可能不完整", "The ticket may not have printed properly"),
        message: Text::new(
            format!(
                "如已出票，请保留，{no}号有效，请留意叫号；如未出票，请到{}",
                desk.zh
            ),
            format!(
                "If a ticket came out, keep it: number {no} will be called. If not, please go to {}",
                desk.en
            ),
        ),
        window: Some(desk.clone()),
    })
}

/// Voids a number whose ticket never left the printer.
async fn void(store: &Store, allocation: &TicketAllocation, reason: VoidReason) {
    let payload = TicketVoided {
        ticket_no: allocation.ticket_no.clone(),
        category: allocation.category.clone(),
        number: allocation.number,
        business_date: allocation.business_date,
        reason,
    }
    .to_payload();
    let store = store.clone();
    let a = allocation.clone();
    if let Err(err) = blocking(move || {
        store.settle_ticket_with_event(&a, TicketFate::Voided, TicketVoided::KIND, &payload)
    })
    .await
    {
        // Still allocated with its intent: the next start keeps it callable, unconfirmed,
        // which costs staff one call of an absent number at most.
        tracing::error!(%err, "voided ticket not recorded");
    }
    tracing::warn!(ticket = %allocation.ticket_no, %reason, "ticket voided");
}

fn voided_notice(desk: &Text, reason: VoidReason) -> Notice {
    Notice {
        title: Text::new(
            "出票失败，本号已作废",
            "The ticket did not print; the number is void",
        ),
        message: if reason == VoidReason::PaperOut {
            Text::new(
                "取号机缺纸，请到咨询台取号",
                "The ticket machine is out of paper; please get a ticket at the information desk",
            )
        } else {
            Text::new(
                "取号机暂时无法出票，请到咨询台取号",
                "The ticket machine cannot print right now; please get a ticket at the information desk",
            )
        },
        window: Some(desk.clone()),
    }
}

/// Records a printed ticket and its `ticket_issued` event (one transaction, removing its
/// print intent). If the store refuses (disk full), the ticket is in the citizen's hand all
/// the same: it is recorded again at every health poll, and its intent covers a restart
/// meanwhile.
async fn record_issued(
    store: &Store,
    allocation: &TicketAllocation,
    payload: serde_json::Value,
    unsettled: &mut Unsettled,
) {
    let store = store.clone();
    let (a, p) = (allocation.clone(), payload.clone());
    if let Err(err) = blocking(move || {
        store.settle_ticket_with_event(&a, TicketFate::Issued, TicketIssued::KIND, &p)
    })
    .await
    {
        tracing::error!(%err, ticket = %allocation.ticket_no, "printed ticket not recorded yet; retrying");
        unsettled.unrecorded.push((allocation.clone(), payload));
    }
}

/// Retries the records of printed tickets the store refused.
pub(super) async fn record_unrecorded(store: &Store, unsettled: &mut Unsettled) {
    for (allocation, payload) in std::mem::take(&mut unsettled.unrecorded) {
        record_issued(store, &allocation, payload, unsettled).await;
    }
}

/// Numbers taken before a crash (or a refused write) whose fate was never recorded. One whose
/// print was started (it has a print intent) may be in a citizen's hand: it is recorded as
/// issued and `unconfirmed`, so it stays callable and staff see it marked. One that never
/// reached the printer is voided (`interrupted`). Numbers in `unsettled` are left alone:
/// their fate is known or coming.
pub(super) async fn settle_interrupted(store: &Store, unsettled: &Unsettled, stats: &mut Stats) {
    let s = store.clone();
    let Ok(found) = blocking(move || s.unsettled_tickets()).await else {
        return;
    };
    for a in found {
        if unsettled.unrecorded.iter().any(|(u, _)| same(u, &a))
            || unsettled.printing.iter().any(|u| same(u, &a))
        {
            continue;
        }
        let ticket = a.ticket_no.clone();
        match settle_one(store, a).await {
            Ok(true) => {
                stats.tickets_unconfirmed += 1;
                tracing::warn!(%ticket, "ticket printing when the kiosk stopped: kept callable, marked unconfirmed");
            }
            Ok(false) => tracing::warn!(%ticket, "number taken but never printed: voided"),
            Err(err) => tracing::error!(%err, %ticket, "interrupted number not settled"),
        }
    }
}

/// Settles one interrupted number: `true` when kept as issued and unconfirmed.
async fn settle_one(store: &Store, a: TicketAllocation) -> Result<bool, Failed> {
    let s = store.clone();
    let lookup = a.clone();
    let intent = blocking(move || s.print_intent(&lookup))
        .await
        .ok()
        .flatten();
    let unconfirmed = intent.and_then(|v| {
        let mut issued: TicketIssued = serde_json::from_value(v).ok()?;
        issued.unconfirmed = true;
        Some(issued)
    });
    let store = store.clone();
    match unconfirmed {
        Some(issued) => {
            let payload = issued.to_payload();
            blocking(move || {
                store.settle_ticket_with_event(&a, TicketFate::Issued, TicketIssued::KIND, &payload)
            })
            .await
            .map(|_| true)
        }
        None => {
            let payload = TicketVoided {
                ticket_no: a.ticket_no.clone(),
                category: a.category.clone(),
                number: a.number,
                business_date: a.business_date,
                reason: VoidReason::Interrupted,
            }
            .to_payload();
            blocking(move || {
                store.settle_ticket_with_event(&a, TicketFate::Voided, TicketVoided::KIND, &payload)
            })
            .await
            .map(|_| false)
        }
    }
}

/// The holder's appointments today and whether central gave them just now (else the copy
/// cached at central's last answer).
pub(super) async fn appointments(
    client: Option<&CentralClient>,
    store: &Store,
    today: NaiveDate,
    holder_hashes: &[String],
) -> (Vec<Appointment>, bool) {
    let key = format!("appointments:{today}");
    if let Some(client) = client
        && let Ok(list) = client.appointments(today).await
    {
        let store = store.clone();
        let value = serde_json::to_value(&list).unwrap_or_default();
        let k = key.clone();
        let _ = blocking(move || store.cache_put(&k, &value)).await;
        let mine = list
            .into_iter()
            .filter(|a| holder_hashes.contains(&a.holder_hash))
            .collect();
        return (mine, true);
    }
    let store = store.clone();
    let mine = match blocking(move || store.cache_get(&key)).await {
        Ok(Some((value, _))) => serde_json::from_value::<Vec<Appointment>>(value)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| holder_hashes.contains(&a.holder_hash))
            .collect(),
        _ => Vec::new(),
    };
    (mine, false)
}
