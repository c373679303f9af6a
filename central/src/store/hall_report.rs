//! What a hall director asks of a period (issue 16 item 7): per business day and window, the
//! calls, tickets served, no-shows (过号) and transfers, the wait before a call and the service
//! time (mean and 90th percentile), the window ratings (一次一评); per day, the tickets issued;
//! and the same as CSV for a spreadsheet.
//!
//! Read from `hall_calls` rather than `tickets`: a ticket put back after a no-show, or sent
//! elsewhere, loses its window, while each call keeps the window, the clerk and what became
//! of it. Calls made before that record existed (migration 0015) have no day and are not
//! counted.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use chrono::{Days, NaiveDate};
use serde::Serialize;
use sqlx::Row as _;

use super::hall::Outcome;
use super::{Doing as _, Store, StoreError};

/// The longest period one report covers, in days: a year and a day, so a leap year fits.
pub const MAX_REPORT_DAYS: u64 = 366;

/// Why a report was not made.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// The period ends before it begins.
    #[error("the period ends ({to}) before it begins ({from})")]
    Backwards {
        /// First day asked for.
        from: NaiveDate,
        /// Last day asked for.
        to: NaiveDate,
    },
    /// More days than [`MAX_REPORT_DAYS`].
    #[error("a report covers at most {MAX_REPORT_DAYS} days; ask for {from} to {to} in parts")]
    TooLong {
        /// First day asked for.
        from: NaiveDate,
        /// Last day asked for.
        to: NaiveDate,
    },
    /// Database failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Durations of a set of calls, in whole seconds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Spread {
    /// Calls measured.
    pub count: u64,
    /// Their mean, rounded to the nearest second; `None` when none was measured.
    pub mean_secs: Option<u64>,
    /// The 90th percentile by nearest rank: nine in ten took at most this long.
    pub p90_secs: Option<u64>,
}

impl Spread {
    /// Of durations in milliseconds; negative ones (clock steps) count as zero.
    pub fn of(mut millis: Vec<i64>) -> Spread {
        if millis.is_empty() {
            return Spread::default();
        }
        millis.iter_mut().for_each(|m| *m = (*m).max(0));
        millis.sort_unstable();
        let n = millis.len();
        let sum: i128 = millis.iter().map(|m| i128::from(*m)).sum();
        let secs = |ms: i128| u64::try_from((ms + 500) / 1000).unwrap_or(u64::MAX);
        // Nearest rank: the smallest value with at least 90 % of the values at or below it.
        let rank = (n * 9).div_ceil(10).max(1);
        Spread {
            count: u64::try_from(n).unwrap_or(u64::MAX),
            mean_secs: Some(secs(sum / i128::try_from(n).unwrap_or(i128::MAX))),
            p90_secs: Some(secs(i128::from(millis[rank - 1]))),
        }
    }
}

/// Window ratings (一次一评) of a set of calls.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RatingCount {
    /// Ratings given.
    pub count: u64,
    /// Their levels added up (5 非常满意 … 1 非常不满意).
    pub level_sum: u64,
    /// Ratings of level 1 or 2, each of which opened a follow-up.
    pub bad: u64,
}

impl RatingCount {
    fn add(&mut self, level: u8) {
        self.count += 1;
        self.level_sum += u64::from(level);
        if level <= 2 {
            self.bad += 1;
        }
    }

    /// The mean level to two decimals, as text (`4.50`); `None` without ratings. Kept as
    /// integers until shown, so that reports compare exactly.
    pub fn mean(&self) -> Option<String> {
        let hundredths = (self.level_sum * 100 + self.count / 2).checked_div(self.count)?;
        Some(format!("{}.{:02}", hundredths / 100, hundredths % 100))
    }
}

/// One window's day, or (`window_no` `None`) the whole hall's.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct WindowDay {
    /// The window; `None` for every window together.
    pub window_no: Option<u32>,
    /// Who called there that day, by console user name.
    pub clerks: Vec<String>,
    /// Tickets called (recalls of a ticket are not counted again).
    pub calls: u64,
    /// Calls that ended in service: 办结, or the next call.
    pub served: u64,
    /// Calls that ended in 过号.
    pub no_shows: u64,
    /// Calls that ended in a transfer to another queue or window.
    pub transferred: u64,
    /// How long the tickets called had waited in their queue.
    pub wait: Spread,
    /// From call to end of service, of the calls served.
    pub service: Spread,
    /// The citizens' ratings of the tickets served there.
    pub ratings: RatingCount,
}

/// One business day of a hall.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportDay {
    /// The business date (hall time).
    pub date: NaiveDate,
    /// Tickets the hall's kiosks issued that day.
    pub issued: u64,
    /// Each window that called that day, by number.
    pub windows: Vec<WindowDay>,
    /// All windows together: the percentiles are of all calls, not of the windows' figures.
    pub hall: WindowDay,
}

/// A hall's report for a period, day by day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HallReport {
    /// Hall.
    pub hall_id: String,
    /// First day.
    pub from: NaiveDate,
    /// Last day.
    pub to: NaiveDate,
    /// Every day of the period, in order, quiet ones too.
    pub days: Vec<ReportDay>,
}

/// The calls of one window and day, gathered.
#[derive(Default)]
struct Tally {
    clerks: BTreeSet<String>,
    calls: u64,
    served: u64,
    no_shows: u64,
    transferred: u64,
    waits: Vec<i64>,
    services: Vec<i64>,
    ratings: RatingCount,
}

impl Tally {
    fn add(&mut self, call: &Call) {
        if let Some(c) = &call.clerk {
            self.clerks.insert(c.clone());
        }
        self.calls += 1;
        if let Some(w) = call.waited_ms {
            self.waits.push(w);
        }
        match call.outcome.as_deref() {
            Some(o) if o == Outcome::Served.as_str() => {
                self.served += 1;
                if let Some(end) = call.ended_at {
                    self.services.push(end - call.called_at);
                }
            }
            Some(o) if o == Outcome::NoShow.as_str() => self.no_shows += 1,
            Some(o) if o == Outcome::Transferred.as_str() => self.transferred += 1,
            _ => {}
        }
    }

    fn finish(self, window_no: Option<u32>) -> WindowDay {
        WindowDay {
            window_no,
            clerks: self.clerks.into_iter().collect(),
            calls: self.calls,
            served: self.served,
            no_shows: self.no_shows,
            transferred: self.transferred,
            wait: Spread::of(self.waits),
            service: Spread::of(self.services),
            ratings: self.ratings,
        }
    }
}

struct Call {
    window_no: u32,
    clerk: Option<String>,
    called_at: i64,
    waited_ms: Option<i64>,
    outcome: Option<String>,
    ended_at: Option<i64>,
}

impl Store {
    /// The report of `hall` from `from` to `to`, both included.
    pub async fn hall_report(
        &self,
        hall: &str,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<HallReport, ReportError> {
        if to < from {
            return Err(ReportError::Backwards { from, to });
        }
        if from
            .checked_add_days(Days::new(MAX_REPORT_DAYS))
            .is_none_or(|end| to >= end)
        {
            return Err(ReportError::TooLong { from, to });
        }
        let doing = "reading a hall's calls for its report";
        // ISO dates compare as text in both dialects.
        let (first, last) = (from.to_string(), to.to_string());
        let issued_rows = sqlx::query(
            "SELECT business_date, COUNT(*) AS n FROM tickets WHERE hall_id = $1 \
             AND business_date >= $2 AND business_date <= $3 AND source <> '' GROUP BY business_date",
        )
        .bind(hall)
        .bind(&first)
        .bind(&last)
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        let mut issued: BTreeMap<String, u64> = BTreeMap::new();
        for r in issued_rows {
            let n: i64 = r.try_get("n").doing(doing)?;
            issued.insert(
                r.try_get("business_date").doing(doing)?,
                u64::try_from(n).map_err(|_| StoreError::Corrupt("count"))?,
            );
        }
        let rows = sqlx::query(
            "SELECT business_date, window_no, clerk, called_at, waited_ms, outcome, ended_at \
             FROM hall_calls WHERE hall_id = $1 AND business_date >= $2 AND business_date <= $3 \
             AND recall = 0 ORDER BY id",
        )
        .bind(hall)
        .bind(&first)
        .bind(&last)
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        let mut calls: BTreeMap<String, Vec<Call>> = BTreeMap::new();
        for r in rows {
            let window: i64 = r.try_get("window_no").doing(doing)?;
            calls
                .entry(r.try_get("business_date").doing(doing)?)
                .or_default()
                .push(Call {
                    window_no: u32::try_from(window)
                        .map_err(|_| StoreError::Corrupt("window number"))?,
                    clerk: r.try_get("clerk").doing(doing)?,
                    called_at: r.try_get("called_at").doing(doing)?,
                    waited_ms: r.try_get("waited_ms").doing(doing)?,
                    outcome: r.try_get("outcome").doing(doing)?,
                    ended_at: r.try_get("ended_at").doing(doing)?,
                });
        }
        // Window ratings by the ticket's day and window; a kiosk's ratings have no window.
        let rated = sqlx::query(
            "SELECT business_date, window_no, level FROM ratings WHERE hall_id = $1 \
             AND window_no IS NOT NULL AND business_date >= $2 AND business_date <= $3",
        )
        .bind(hall)
        .bind(&first)
        .bind(&last)
        .fetch_all(self.pool())
        .await
        .doing(doing)?;
        let mut ratings: BTreeMap<String, Vec<(u32, u8)>> = BTreeMap::new();
        for r in rated {
            let window: i64 = r.try_get("window_no").doing(doing)?;
            let level: i64 = r.try_get("level").doing(doing)?;
            ratings
                .entry(r.try_get("business_date").doing(doing)?)
                .or_default()
                .push((
                    u32::try_from(window).map_err(|_| StoreError::Corrupt("window number"))?,
                    u8::try_from(level)
                        .ok()
                        .filter(|l| (1..=5).contains(l))
                        .ok_or(StoreError::Corrupt("rating level"))?,
                ));
        }
        let days = from
            .iter_days()
            .take_while(|d| *d <= to)
            .map(|date| {
                let key = date.to_string();
                let mut hall_tally = Tally::default();
                let mut windows: BTreeMap<u32, Tally> = BTreeMap::new();
                for call in calls.get(&key).map_or(&[][..], Vec::as_slice) {
                    hall_tally.add(call);
                    windows.entry(call.window_no).or_default().add(call);
                }
                for (window, level) in ratings.get(&key).map_or(&[][..], Vec::as_slice) {
                    hall_tally.ratings.add(*level);
                    windows.entry(*window).or_default().ratings.add(*level);
                }
                ReportDay {
                    date,
                    issued: issued.get(&key).copied().unwrap_or(0),
                    windows: windows
                        .into_iter()
                        .map(|(n, t)| t.finish(Some(n)))
                        .collect(),
                    hall: hall_tally.finish(None),
                }
            })
            .collect();
        Ok(HallReport {
            hall_id: hall.to_owned(),
            from,
            to,
            days,
        })
    }
}

/// The CSV's columns, named in both languages: a hall director's spreadsheet is Chinese, the
/// province's tools may not be.
const CSV_HEADER: [&str; 17] = [
    "日期 date",
    "窗口 window",
    "工作人员 clerks",
    "取号 issued",
    "叫号 calls",
    "办结 served",
    "过号 no-shows",
    "转出 transferred",
    "平均等候秒 mean wait s",
    "P90等候秒 p90 wait s",
    "平均办理秒 mean service s",
    "P90办理秒 p90 service s",
    "等候样本 waits measured",
    "办理样本 services measured",
    "评价数 ratings",
    "平均评分 mean rating",
    "差评 bad ratings",
];

/// One CSV field: quoted when it holds a separator, a quote or a line break; and a text a
/// spreadsheet would take for a formula (`=`, `+`, `-`, `@`, tab, CR) is made plain text with a
/// leading `'`, since clerk names are typed by people.
fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

fn opt(v: Option<u64>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

impl HallReport {
    /// As CSV (RFC 4180, CRLF line ends) with a UTF-8 byte-order mark, without which Excel as
    /// set up in Chinese offices reads the Chinese headers as GBK. A row per window and day,
    /// then the day's row for the whole hall (`全部 all`), which alone carries the tickets
    /// issued.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("\u{feff}");
        let line = |out: &mut String, fields: &[String]| {
            let joined: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
            let _ = write!(out, "{}\r\n", joined.join(","));
        };
        line(&mut out, &CSV_HEADER.map(str::to_owned));
        for day in &self.days {
            for w in day.windows.iter().chain(std::iter::once(&day.hall)) {
                let (window, issued) = match w.window_no {
                    Some(n) => (n.to_string(), String::new()),
                    None => ("全部 all".to_owned(), day.issued.to_string()),
                };
                line(
                    &mut out,
                    &[
                        day.date.to_string(),
                        window,
                        w.clerks.join(" "),
                        issued,
                        w.calls.to_string(),
                        w.served.to_string(),
                        w.no_shows.to_string(),
                        w.transferred.to_string(),
                        opt(w.wait.mean_secs),
                        opt(w.wait.p90_secs),
                        opt(w.service.mean_secs),
                        opt(w.service.p90_secs),
                        w.wait.count.to_string(),
                        w.service.count.to_string(),
                        w.ratings.count.to_string(),
                        w.ratings.mean().unwrap_or_default(),
                        w.ratings.bad.to_string(),
                    ],
                );
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_by_nearest_rank_and_means_round() {
        let ten: Vec<i64> = (1..=10).map(|s| s * 1000).collect();
        let s = Spread::of(ten);
        assert_eq!(s.count, 10);
        assert_eq!(s.mean_secs, Some(6)); // 5.5 s rounds up
        assert_eq!(s.p90_secs, Some(9));
        let one = Spread::of(vec![61_400]);
        assert_eq!((one.mean_secs, one.p90_secs), (Some(61), Some(61)));
        let eleven: Vec<i64> = (1..=11).map(|s| s * 1000).collect();
        // ceil(0.9 × 11) = 10th value.
        assert_eq!(Spread::of(eleven).p90_secs, Some(10));
        assert_eq!(Spread::of(Vec::new()), Spread::default());
        assert_eq!(Spread::of(vec![-5_000]).mean_secs, Some(0));
    }

    #[test]
    fn mean_ratings_round_to_hundredths() {
        let mut r = RatingCount::default();
        assert_eq!(r.mean(), None);
        for level in [5, 4, 4] {
            r.add(level);
        }
        assert_eq!(r.mean().as_deref(), Some("4.33"));
        r.add(1);
        assert_eq!((r.count, r.bad, r.mean().as_deref()), (4, 1, Some("3.50")));
        let mut two_thirds = RatingCount::default();
        for level in [1, 2, 2] {
            two_thirds.add(level);
        }
        assert_eq!(two_thirds.mean().as_deref(), Some("1.67"));
    }

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        assert_eq!(csv_field("li"), "li");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("=HYPERLINK(1)"), "'=HYPERLINK(1)");
        assert_eq!(csv_field("-1+2,3"), "\"'-1+2,3\"");
    }
}
