//! The one decision ingest asks of every newly stored event it projects: does it apply, or
//! is it refused (with a reason and a detail for ops)? A refused event is not kept, so what
//! central acknowledges is always what its projections hold.

use kiosk_api::fleet::{KIND_HEALTH_REPORT, KIND_UPDATE_RESULT};
use kiosk_api::reject_reason as why;
use kiosk_api::{Event, HallCode, KioskNo, NumberBand, Stream};
use serde::de::DeserializeOwned;
use sqlx::{AnyConnection, Row as _};

use super::enrol::{band_of, kiosk_no_of};
use super::{Doing as _, StoreError};

/// What a projection made of one event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Its record is written.
    Applied,
    /// Not applied; ingest undoes what the projection wrote and does not keep the event.
    Refused {
        /// One of [`kiosk_api::reject_reason`].
        reason: &'static str,
        /// What exactly, for ops; never personal data.
        detail: String,
    },
}

impl Verdict {
    pub(crate) fn refuse(reason: &'static str, detail: impl Into<String>) -> Verdict {
        Verdict::Refused {
            reason,
            detail: detail.into(),
        }
    }

    pub(crate) fn invalid(detail: impl Into<String>) -> Verdict {
        Verdict::refuse(why::INVALID_PAYLOAD, detail)
    }
}

/// The kiosk that sent the batch, as the projections need it.
#[derive(Debug, Clone)]
pub(crate) struct Sender {
    /// Kiosk id.
    pub(crate) kiosk: String,
    /// Its hall.
    pub(crate) hall: String,
    /// The hall's code.
    pub(crate) hall_code: HallCode,
    /// The kiosk's number in its hall.
    pub(crate) kiosk_no: KioskNo,
    /// Its offline number band.
    pub(crate) band: NumberBand,
}

impl Sender {
    pub(crate) async fn load(conn: &mut AnyConnection, kiosk: &str) -> Result<Sender, StoreError> {
        let doing = "finding the kiosk's hall";
        let row = sqlx::query(
            "SELECT k.hall_id, h.hall_code, k.kiosk_no, k.band_first, k.band_last \
             FROM kiosks k JOIN halls h ON h.id = k.hall_id WHERE k.id = $1",
        )
        .bind(kiosk)
        .fetch_one(conn)
        .await
        .doing(doing)?;
        let code: Option<i64> = row.try_get(1).doing(doing)?;
        Ok(Sender {
            kiosk: kiosk.to_owned(),
            hall: row.try_get(0).doing(doing)?,
            hall_code: code
                .and_then(|c| u16::try_from(c).ok())
                .and_then(|c| HallCode::new(c).ok())
                .ok_or(StoreError::Corrupt("hall code"))?,
            kiosk_no: kiosk_no_of(row.try_get(2).doing(doing)?)?,
            band: band_of(row.try_get(3).doing(doing)?, row.try_get(4).doing(doing)?)?,
        })
    }
}

/// The stream a projected kind travels on; None for kinds central only stores.
pub(crate) fn projected_stream(kind: &str) -> Option<Stream> {
    match kind {
        KIND_HEALTH_REPORT | KIND_UPDATE_RESULT => Some(Stream::Health),
        other => super::citizen::citizen_stream(other),
    }
}

/// Whether ingest must ask [`project`] about this event.
pub(crate) fn is_projected(e: &Event) -> bool {
    projected_stream(&e.kind).is_some()
}

/// Decides one newly stored event of `sender`. Rollouts its update results move are added
/// to `touched`, for the caller to advance once the batch is decided.
pub(crate) async fn project(
    conn: &mut AnyConnection,
    sender: &Sender,
    e: &Event,
    touched: &mut std::collections::BTreeSet<i64>,
) -> Result<Verdict, StoreError> {
    let Some(stream) = projected_stream(&e.kind) else {
        return Ok(Verdict::Applied);
    };
    if e.stream != stream {
        return Ok(Verdict::refuse(
            why::WRONG_STREAM,
            format!(
                "kind {} travels on stream {}, not {}",
                e.kind,
                stream.as_str(),
                e.stream.as_str()
            ),
        ));
    }
    if stream == Stream::Health {
        super::rollouts::project_health_event(conn, &sender.kiosk, e, touched).await
    } else {
        super::citizen::project_citizen_event(conn, sender, e).await
    }
}

/// The payload as its contract type, or the refusal naming the field that does not fit
/// (never its value: payloads hold personal data).
pub(crate) fn parse<T: DeserializeOwned>(e: &Event) -> Result<T, Verdict> {
    // Serde would read a struct from an array too, and blame its first element.
    if !e.payload.is_object() {
        return Err(Verdict::invalid(
            "the payload is not an object of this kind",
        ));
    }
    serde_path_to_error::deserialize(&e.payload).map_err(|error| Verdict::invalid(problem(&error)))
}

fn problem(error: &serde_path_to_error::Error<serde_json::Error>) -> String {
    let path = error.path().to_string();
    let message = error.inner().to_string();
    // Only these two messages are safe to quote: they name a key, never a value.
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|prefix| message.strip_prefix(prefix))
        .and_then(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_owned());
    let at = |field: &str| {
        if path == "." {
            field.to_owned()
        } else {
            format!("{path}.{field}")
        }
    };
    match named {
        Some(name) if message.starts_with("missing") => format!("field `{}` is missing", at(&name)),
        Some(name) => format!("field `{}` is not part of this kind", at(&name)),
        None if path == "." => "the payload is not an object of this kind".to_owned(),
        None => format!("field `{path}` has the wrong type or value"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiosk_api::citizen::{ApplicationSubmitted, TicketIssued};

    fn event(payload: serde_json::Value) -> Event {
        Event {
            event_id: uuid::Uuid::now_v7(),
            seq: 1,
            stream: Stream::Records,
            kind: "application_submitted".into(),
            priority: 1,
            occurred_at: chrono::Utc::now(),
            payload,
            attachments: vec![],
        }
    }

    fn detail(v: Verdict) -> String {
        match v {
            Verdict::Refused { reason, detail } => {
                assert_eq!(reason, why::INVALID_PAYLOAD);
                detail
            }
            Verdict::Applied => panic!("not refused"),
        }
    }

    #[test]
    fn a_payload_that_does_not_fit_is_refused_naming_the_field_never_the_value() {
        let d = detail(
            parse::<TicketIssued>(&event(serde_json::json!({"number": "A009"}))).unwrap_err(),
        );
        assert_eq!(d, "field `number` has the wrong type or value");
        let d = detail(
            parse::<ApplicationSubmitted>(&event(serde_json::json!({
                "application_no": "110105194912310021",
                "matter_code": "x", "holder_hash": "h", "holder_name_masked": "张*",
                "form": {}, "materials": [], "submitted_at": "2026-12-01T00:00:00Z",
            })))
            .unwrap_err(),
        );
        assert_eq!(d, "field `application_no` has the wrong type or value");
        assert!(!d.contains("1101"));
        let d = detail(
            parse::<ApplicationSubmitted>(&event(serde_json::json!({"matter_code": "x"})))
                .unwrap_err(),
        );
        assert_eq!(d, "field `application_no` is missing");
        let d = detail(parse::<TicketIssued>(&event(serde_json::json!([1, 2]))).unwrap_err());
        assert_eq!(d, "the payload is not an object of this kind");
    }
}
