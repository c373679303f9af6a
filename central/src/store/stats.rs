//! Counts for `central stats` and the ops console: events per kiosk and per kind, and the
//! sequence numbers a kiosk skipped or has not delivered yet.

use std::collections::BTreeMap;

use serde::Serialize;
use sqlx::Row as _;

use super::{Doing as _, Store, StoreError};

/// Everything `central stats --json` prints.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Events stored, all kiosks.
    pub total_events: u64,
    /// Sequence numbers missing, all kiosks.
    pub total_missing: u64,
    /// One entry per enrolled kiosk.
    pub kiosks: Vec<KioskStats>,
    /// Events per stream and kind, all kiosks.
    pub kinds: Vec<KindCount>,
    /// Ranges of missing sequence numbers below each kiosk's highest one.
    pub gaps: Vec<GapRange>,
}

/// Counts for one kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KioskStats {
    /// Kiosk id.
    pub kiosk_id: String,
    /// Its hall.
    pub hall_id: String,
    /// The hall's code on the platform.
    pub hall_code: Option<u16>,
    /// The kiosk's number in its hall.
    pub kiosk_no: Option<u8>,
    /// Its host name.
    pub hostname: String,
    /// Events central refused for good (in the kiosk's quarantine; not stored). A refused
    /// event below `max_seq` also counts as missing.
    pub refused: u64,
    /// Events stored.
    pub events: u64,
    /// Highest sequence number stored.
    pub max_seq: u64,
    /// Sequence numbers below `max_seq` not stored (`max_seq - events`).
    pub missing: u64,
    /// Events per `stream/kind`.
    pub per_kind: BTreeMap<String, u64>,
}

/// Events of one stream and kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KindCount {
    /// Stream.
    pub stream: String,
    /// Kind.
    pub kind: String,
    /// Events stored.
    pub count: u64,
}

/// Missing sequence numbers `first..=last` of one kiosk.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GapRange {
    /// Kiosk id.
    pub kiosk_id: String,
    /// First missing number.
    pub first: u64,
    /// Last missing number.
    pub last: u64,
}

fn count(v: i64) -> Result<u64, StoreError> {
    u64::try_from(v).map_err(|_| StoreError::Corrupt("negative count"))
}

impl Store {
    /// Computes the statistics.
    pub async fn stats(&self) -> Result<Stats, StoreError> {
        let doing = "computing statistics";
        let mut kiosks = Vec::new();
        let rows = sqlx::query(
            "SELECT k.id, k.hall_id, k.hostname, k.event_count, k.max_seq, h.hall_code, k.kiosk_no, \
             (SELECT COUNT(*) FROM refused_events r WHERE r.kiosk_id = k.id) \
             FROM kiosks k JOIN halls h ON h.id = k.hall_id ORDER BY k.hall_id, k.kiosk_no, k.id",
        )
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        for row in rows {
            let events = count(row.try_get(3).doing(doing)?)?;
            let max_seq = count(row.try_get(4).doing(doing)?)?;
            kiosks.push(KioskStats {
                kiosk_id: row.try_get(0).doing(doing)?,
                hall_id: row.try_get(1).doing(doing)?,
                hostname: row.try_get(2).doing(doing)?,
                hall_code: row
                    .try_get::<Option<i64>, _>(5)
                    .doing(doing)?
                    .and_then(|c| u16::try_from(c).ok()),
                kiosk_no: row
                    .try_get::<Option<i64>, _>(6)
                    .doing(doing)?
                    .and_then(|n| u8::try_from(n).ok()),
                refused: count(row.try_get(7).doing(doing)?)?,
                events,
                max_seq,
                missing: max_seq.saturating_sub(events),
                per_kind: BTreeMap::new(),
            });
        }
        let rows = sqlx::query("SELECT kiosk_id, stream, kind, COUNT(*) FROM events GROUP BY kiosk_id, stream, kind ORDER BY kiosk_id, stream, kind")
            .fetch_all(self.pool())
            .await
            .doing(doing)?;
        let mut kinds: BTreeMap<(String, String), u64> = BTreeMap::new();
        for row in rows {
            let kiosk_id: String = row.try_get(0).doing(doing)?;
            let stream: String = row.try_get(1).doing(doing)?;
            let kind: String = row.try_get(2).doing(doing)?;
            let n = count(row.try_get(3).doing(doing)?)?;
            *kinds.entry((stream.clone(), kind.clone())).or_default() += n;
            if let Some(k) = kiosks.iter_mut().find(|k| k.kiosk_id == kiosk_id) {
                k.per_kind.insert(format!("{stream}/{kind}"), n);
            }
        }
        // LAG with a default of 0 also reports a gap before a kiosk's first stored number.
        let rows = sqlx::query(
            "SELECT kiosk_id, prev_seq + 1, seq - 1 FROM (\
               SELECT kiosk_id, seq, LAG(seq, 1, 0) OVER (PARTITION BY kiosk_id ORDER BY seq) AS prev_seq FROM events\
             ) t WHERE seq > prev_seq + 1 ORDER BY kiosk_id, seq",
        )
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        let mut gaps = Vec::new();
        for row in rows {
            gaps.push(GapRange {
                kiosk_id: row.try_get(0).doing(doing)?,
                first: count(row.try_get(1).doing(doing)?)?,
                last: count(row.try_get(2).doing(doing)?)?,
            });
        }
        Ok(Stats {
            total_events: kiosks.iter().map(|k| k.events).sum(),
            total_missing: kiosks.iter().map(|k| k.missing).sum(),
            kiosks,
            kinds: kinds
                .into_iter()
                .map(|((stream, kind), count)| KindCount {
                    stream,
                    kind,
                    count,
                })
                .collect(),
            gaps,
        })
    }
}
