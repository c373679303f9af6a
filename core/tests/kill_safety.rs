#![allow(clippy::unwrap_used)]
//! Kill-safety: a child process commits journey records in a loop and reports each commit only
//! after `commit_record` returned; it is SIGKILLed at a random moment (usually mid-commit);
//! the store is reopened and every commit the child reported must be there, whole and
//! readable, with sequence numbers contiguous. Repeated on the same store.

use std::io::{BufRead as _, BufReader, Write as _};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use kiosk_core::store::{NewRecord, Store, StoreKey, StoreOptions, Stream};
use rand::Rng as _;
use serde_json::json;

const CHILD_ENV: &str = "KIOSK_CORE_KILL_CHILD_DIR";
const TEST_NAME: &str = "a_sigkill_mid_commit_loses_nothing_the_caller_was_told_is_committed";

fn open(dir: &Path) -> Store {
    let key = StoreKey::load_or_create(&dir.join("store.key")).unwrap();
    Store::open(dir, key, StoreOptions::default()).unwrap()
}

/// The child: commit forever, print `acked <seq> <event id>` after each commit returns.
fn child(dir: &Path) -> ! {
    let store = open(dir);
    let mut out = std::io::stdout();
    let mut n = 0u64;
    loop {
        n += 1;
        let attachments = if n.is_multiple_of(7) {
            vec![
                store
                    .spool_attachment(format!("scan {n} {}", "x".repeat(20_000)).as_bytes())
                    .unwrap(),
            ]
        } else {
            vec![]
        };
        let c = store
            .commit_record(NewRecord {
                stream: Stream::Records,
                kind: "application.submitted".into(),
                summary: json!({ "matter": "M-1", "n": n }),
                personal: Some(json!({ "name": "李雷", "form": "y".repeat(500) })),
                attachments,
            })
            .unwrap();
        writeln!(out, "acked {} {}", c.seq, c.event_id).unwrap();
        out.flush().unwrap();
    }
}

#[test]
fn a_sigkill_mid_commit_loses_nothing_the_caller_was_told_is_committed() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        child(Path::new(&dir));
    }
    let dir = tempfile::tempdir().unwrap();
    let mut rng = rand::thread_rng();
    let mut acked = Vec::new();
    for round in 0..4 {
        let mut proc = Command::new(std::env::current_exe().unwrap())
            .args(["--exact", TEST_NAME, "--nocapture", "--test-threads=1"])
            .env(CHILD_ENV, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(proc.stdout.take().unwrap()).lines();
        let commits_before_kill = rng.gen_range(20..120);
        let mut seen = 0;
        while seen < commits_before_kill {
            let line = lines.next().unwrap().unwrap();
            if let Some(rest) = line.strip_prefix("acked ") {
                let (seq, id) = rest.split_once(' ').unwrap();
                acked.push((
                    seq.parse::<u64>().unwrap(),
                    id.parse::<uuid::Uuid>().unwrap(),
                ));
                seen += 1;
            }
        }
        // Land the kill somewhere inside the following commits (each takes about an fsync).
        std::thread::sleep(Duration::from_micros(rng.gen_range(0..3000)));
        proc.kill().unwrap();
        // Lines the child wrote before dying still count: it was told those were committed.
        for line in lines.map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("acked ") {
                let (seq, id) = rest.split_once(' ').unwrap();
                acked.push((seq.parse().unwrap(), id.parse().unwrap()));
            }
        }
        proc.wait().unwrap();

        let store = open(dir.path());
        let last = store.last_seq().unwrap();
        let backlog = store.backlog().unwrap();
        assert!(
            last >= acked.last().unwrap().0,
            "round {round}: store lost acknowledged commits"
        );
        assert_eq!(
            backlog, last,
            "round {round}: a seq was skipped or half-written"
        );
        for (seq, id) in &acked {
            let (summary, personal) = store
                .record(*id)
                .unwrap()
                .unwrap_or_else(|| panic!("round {round}: acknowledged seq {seq} is gone"));
            assert!(summary["n"].is_u64());
            assert_eq!(personal.unwrap()["name"], "李雷");
        }
        let batch = store.next_batch(500, usize::MAX).unwrap();
        let seqs: Vec<u64> = batch.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=last.min(500)).collect::<Vec<_>>());
        for event in &batch {
            for attachment in &event.attachments {
                store.read_attachment(attachment).unwrap();
            }
        }
    }
}
