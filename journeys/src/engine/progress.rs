//! Progress: "where is my case" from central, kept in the cache for offline answers, and the
//! "as of" that says how old an offline answer is.

use chrono::{DateTime, NaiveDate, Utc};
use kiosk_api::catalog::Catalog;
use kiosk_api::citizen::{ApplicationProgress, business_date_at, hall_offset};
use kiosk_core::store::Store;
use kiosk_core::sync::CentralClient;

use super::Stats;
use super::blocking::blocking;
use crate::machines::{Notice, ProgressQuery};
use crate::model::{ProgressView, Text, TimelineLine};

/// "as of" for a time shown beside figures of `today`: the time alone on the same business
/// day, with the date otherwise, so yesterday's 16:40 never reads as today's.
pub(super) fn as_of(at: DateTime<Utc>, today: NaiveDate) -> (String, String) {
    let local = at.with_timezone(&hall_offset());
    if business_date_at(at) == today {
        let t = local.format("%H:%M").to_string();
        (t.clone(), t)
    } else {
        (
            local.format("%Y年%-m月%-d日 %H:%M").to_string(),
            local.format("%Y-%m-%d %H:%M").to_string(),
        )
    }
}

/// What a progress look-up needs.
pub(super) struct Lookup<'a> {
    /// Central, when enrolled.
    pub(super) client: Option<&'a CentralClient>,
    /// The cache.
    pub(super) store: &'a Store,
    /// Matter names.
    pub(super) catalog: &'a Catalog,
    /// Where to go when nothing is found.
    pub(super) desk: &'a Text,
    /// Now.
    pub(super) now: DateTime<Utc>,
}

/// The applications `query` names, from central (and cached), else from the cache with
/// "as of".
pub(super) async fn progress(
    l: Lookup<'_>,
    query: ProgressQuery,
    stats: &mut Stats,
) -> Result<(Vec<ProgressView>, Option<Text>), Notice> {
    if let Some(list) = from_central(&l, &query).await {
        let holder = match &query {
            ProgressQuery::Holder(h) => h.first().cloned(),
            ProgressQuery::Number(_) => None,
        };
        cache_progress(l.store, l.now, holder.as_deref(), &list).await;
        stats.progress_lookups += 1;
        return Ok((progress_views(l.catalog, &list), None));
    }
    let Some((list, at)) = from_cache(l.store, &query).await else {
        return Err(Notice {
            title: Text::new("未查到办理记录", "No application found"),
            message: Text::new(
                "请核对申请编号；在窗口办理的业务请到窗口查询",
                "Check the number; applications made at a window are answered there",
            ),
            window: Some(l.desk.clone()),
        });
    };
    stats.progress_lookups += 1;
    let today = business_date_at(l.now);
    let (zh, en) = DateTime::from_timestamp_millis(at)
        .map(|t| as_of(t, today))
        .unwrap_or_default();
    Ok((
        progress_views(l.catalog, &list),
        Some(Text::new(
            format!("截至 {zh} 的信息（网络中断）"),
            format!("As of {en} (offline)"),
        )),
    ))
}

/// Central's answer, when it has one: `None` when it is unreachable or does not know the
/// application (a kiosk submission not yet sent is in the cache).
async fn from_central(l: &Lookup<'_>, query: &ProgressQuery) -> Option<Vec<ApplicationProgress>> {
    let client = l.client?;
    let answer = match query {
        ProgressQuery::Number(no) => client
            .application_progress(no)
            .await
            .map(|p| p.into_iter().collect::<Vec<_>>()),
        // Records made before a key rotation carry an older key's hash: ask for every one.
        ProgressQuery::Holder(hashes) => {
            let mut all = Vec::new();
            let mut failed = None;
            for hash in hashes {
                match client.applications_by_holder(hash).await {
                    Ok(list) => all.extend(list),
                    Err(err) => {
                        failed = Some(err);
                        break;
                    }
                }
            }
            match failed {
                Some(err) => Err(err),
                None => Ok(all),
            }
        }
    };
    match answer {
        Ok(list) if !list.is_empty() => Some(list),
        Ok(_) => {
            tracing::debug!("progress not on central");
            None
        }
        Err(err) => {
            tracing::debug!(%err, "progress from the cache");
            None
        }
    }
}

/// The cached answers for `query` and when the oldest of them was fetched (ms).
async fn from_cache(
    store: &Store,
    query: &ProgressQuery,
) -> Option<(Vec<ApplicationProgress>, i64)> {
    let keys: Vec<String> = match query {
        ProgressQuery::Number(no) => vec![format!("progress:{no}")],
        ProgressQuery::Holder(hashes) => {
            hashes.iter().map(|h| format!("progress_of:{h}")).collect()
        }
    };
    let store = store.clone();
    let cached = blocking(move || {
        let mut found = Vec::new();
        for key in &keys {
            if let Some(entry) = store.cache_get(key)? {
                found.push(entry);
            }
        }
        Ok(found)
    })
    .await
    .unwrap_or_default();
    let mut list: Vec<ApplicationProgress> = Vec::new();
    let mut oldest: Option<i64> = None;
    for (value, at) in cached {
        let entries: Vec<ApplicationProgress> = match query {
            ProgressQuery::Number(_) => serde_json::from_value(value)
                .map(|p| vec![p])
                .unwrap_or_default(),
            ProgressQuery::Holder(_) => serde_json::from_value(value).unwrap_or_default(),
        };
        if !entries.is_empty() {
            oldest = Some(oldest.map_or(at, |o| o.min(at)));
            list.extend(entries);
        }
    }
    oldest.map(|at| (list, at))
}

/// Keeps answers for offline look-ups: each application under its number, and the holder's
/// list (merged with what was known) under the holder's hash.
pub(super) async fn cache_progress(
    store: &Store,
    now: DateTime<Utc>,
    holder: Option<&str>,
    list: &[ApplicationProgress],
) {
    let fetched_ms = now.timestamp_millis();
    let store = store.clone();
    let entries: Vec<(String, serde_json::Value)> = list
        .iter()
        .map(|p| {
            (
                format!("progress:{}", p.application_no),
                serde_json::to_value(p).unwrap_or_default(),
            )
        })
        .collect();
    let holder_key = holder.map(|h| format!("progress_of:{h}"));
    let list = list.to_vec();
    let _ = blocking(move || {
        for (k, v) in &entries {
            store.cache_put_at(k, v, fetched_ms)?;
        }
        if let Some(key) = holder_key {
            let mut known: Vec<ApplicationProgress> = store
                .cache_get(&key)?
                .and_then(|(v, _)| serde_json::from_value(v).ok())
                .unwrap_or_default();
            for p in list {
                known.retain(|k| k.application_no != p.application_no);
                known.push(p);
            }
            store.cache_put_at(
                &key,
                &serde_json::to_value(&known).unwrap_or_default(),
                fetched_ms,
            )?;
        }
        Ok(())
    })
    .await;
}

/// The applications as the page shows them, newest first.
fn progress_views(catalog: &Catalog, list: &[ApplicationProgress]) -> Vec<ProgressView> {
    let mut list = list.to_vec();
    // Newest first: by the date and the day's sequence in the number.
    list.sort_by_key(|p| std::cmp::Reverse((p.application_no.date(), p.application_no.seq())));
    list.dedup_by_key(|p| p.application_no);
    list.iter()
        .map(|p| ProgressView {
            application_no: p.application_no.grouped(),
            matter: crate::catalog::matter(catalog, &p.matter_code)
                .map(|m| Text::new(&m.name_zh, &m.name_en))
                .unwrap_or_else(|| Text::same(p.matter_code.clone())),
            status: Text::new(p.status.label_zh(), p.status.label_en()),
            timeline: p
                .timeline
                .iter()
                .map(|t| TimelineLine {
                    at: t
                        .at
                        .with_timezone(&hall_offset())
                        .format("%Y-%m-%d %H:%M")
                        .to_string(),
                    status: Text::new(t.status.label_zh(), t.status.label_en()),
                    note: Text::new(
                        t.note_zh.clone().unwrap_or_default(),
                        t.note_en.clone().unwrap_or_default(),
                    ),
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn as_of_gives_the_date_only_when_it_is_not_today() {
        let today = NaiveDate::from_ymd_opt(2026, 12, 2).unwrap();
        let this_morning: DateTime<Utc> = "2026-12-02T01:15:00Z".parse().unwrap();
        assert_eq!(as_of(this_morning, today), ("09:15".into(), "09:15".into()));
        let yesterday: DateTime<Utc> = "2026-12-01T08:40:00Z".parse().unwrap();
        assert_eq!(
            as_of(yesterday, today),
            ("2026年12月1日 16:40".into(), "2026-12-01 16:40".into())
        );
    }
}
