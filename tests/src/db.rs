//! What central stored, read straight from its database on either backend: a SQLite file
//! through rusqlite, PostgreSQL through `psql` (installed with the `postgresql` package the
//! tests already need). Tests read rows as text and parse them in Rust, so one query serves
//! both backends.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};
use rusqlite::OpenFlags;
use rusqlite::types::ValueRef;

/// One row: each column as text, `None` for SQL NULL.
pub type Row = Vec<Option<String>>;

/// Central's database, by the URL `central --db` takes.
#[derive(Debug, Clone)]
pub struct CentralDb {
    url: String,
}

/// Whether `url` names a PostgreSQL database (as `central --db` reads it).
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

// Separators psql prints between fields and rows, and for NULL: control characters that no
// payload, number or name holds.
const FIELD: &str = "\u{1f}";
const RECORD: &str = "\u{1e}";
const NULL: &str = "\u{1}";

impl CentralDb {
    /// The database at `url` (`postgres://…`, or a SQLite file path).
    pub fn new(url: &str) -> CentralDb {
        CentralDb {
            url: url.to_owned(),
        }
    }

    /// Which backend: `"postgres"` or `"sqlite"`.
    pub fn backend(&self) -> &'static str {
        if is_postgres(&self.url) {
            "postgres"
        } else {
            "sqlite"
        }
    }

    /// Runs `sql` (one SELECT, portable between SQLite and PostgreSQL) and returns its rows.
    pub fn rows(&self, sql: &str) -> anyhow::Result<Vec<Row>> {
        if is_postgres(&self.url) {
            self.psql_rows(sql)
        } else {
            self.sqlite_rows(sql)
        }
    }

    /// The first column of the first row as a number (`SELECT COUNT(*) …`).
    pub fn count(&self, sql: &str) -> anyhow::Result<i64> {
        let rows = self.rows(sql)?;
        let text = rows
            .first()
            .and_then(|r| r.first().cloned().flatten())
            .with_context(|| format!("{sql} returned no value"))?;
        text.trim()
            .parse()
            .with_context(|| format!("{sql} returned {text:?}"))
    }

    fn sqlite_rows(&self, sql: &str) -> anyhow::Result<Vec<Row>> {
        let conn = rusqlite::Connection::open_with_flags(
            Path::new(&self.url),
            OpenFlags::SQLITE_OPEN_READ_ONLY,
        )
        .with_context(|| format!("opening central's database {}", self.url))?;
        let mut stmt = conn.prepare(sql).with_context(|| sql.to_owned())?;
        let columns = stmt.column_count();
        let rows = stmt.query_map([], |row| {
            (0..columns)
                .map(|i| {
                    Ok(match row.get_ref(i)? {
                        ValueRef::Null => None,
                        ValueRef::Integer(n) => Some(n.to_string()),
                        ValueRef::Real(x) => Some(x.to_string()),
                        ValueRef::Text(t) | ValueRef::Blob(t) => {
                            Some(String::from_utf8_lossy(t).into_owned())
                        }
                    })
                })
                .collect::<Result<Row, rusqlite::Error>>()
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    fn psql_rows(&self, sql: &str) -> anyhow::Result<Vec<Row>> {
        let out = Command::new("psql")
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1"])
            .args(["-F", FIELD, "-R", RECORD, "-P"])
            .arg(format!("null={NULL}"))
            .args(["-c", sql, &self.url])
            .output()
            .context("running psql (install the postgresql package)")?;
        if !out.status.success() {
            bail!(
                "psql: {sql}: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let text = String::from_utf8_lossy(&out.stdout);
        let text = text.strip_suffix('\n').unwrap_or(&text);
        if text.is_empty() {
            return Ok(Vec::new());
        }
        Ok(text
            .split(RECORD)
            .map(|row| {
                row.split(FIELD)
                    .map(|field| (field != NULL).then(|| field.to_owned()))
                    .collect()
            })
            .collect())
    }
}

/// A new, empty PostgreSQL database on the server of `base` (a `postgres://…/db` URL, as
/// `.ci/start-postgres` exports in `KIOSK_TEST_PG_URL`), named after `label`; its URL.
pub fn fresh_postgres(base: &str, label: &str) -> anyhow::Result<String> {
    let name = format!("{label}_{}_{}", std::process::id(), rand::random::<u32>());
    let out = Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-c"])
        .arg(format!("CREATE DATABASE {name}"))
        .arg(base)
        .output()
        .context("running psql (install the postgresql package)")?;
    if !out.status.success() {
        bail!(
            "creating database {name}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let (prefix, _) = base
        .rsplit_once('/')
        .with_context(|| format!("{base} names no database"))?;
    Ok(format!("{prefix}/{name}"))
}

/// `KIOSK_TEST_PG_URL`, or `None` after saying loudly that the PostgreSQL half is skipped
/// (and failing instead when `CI=true`: CI always tests both backends).
pub fn postgres_or_skip(test: &str) -> Option<String> {
    match std::env::var("KIOSK_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "KIOSK_TEST_PG_URL is not set but CI=true: start PostgreSQL with `eval \"$(.ci/start-postgres)\"`"
            );
            eprintln!(
                "\n!!!! SKIPPING {test}: KIOSK_TEST_PG_URL is not set.\n!!!! Run `eval \"$(.ci/start-postgres)\"` first to test PostgreSQL too.\n"
            );
            None
        }
    }
}
