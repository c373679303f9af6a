//! The reader task against the simulated SAM reader: what the kiosk app sees.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use kiosk_hal::HealthState;
use kiosk_idcard::frame::Command;
use kiosk_idcard::{CardKind, FaultKind, IdCard, ReaderConfig, ReaderEvent, ReaderHandle, spawn};
use kiosk_sim::idcard::{Faults, SimConfig, SimulatedReader, load_card};

fn card(kind: &str) -> IdCard {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("cards/{kind}.json"));
    load_card(&path).unwrap()
}

fn start_sim(link: &Path, card: Option<IdCard>, faults: Faults) -> SimulatedReader {
    SimulatedReader::start(
        link,
        SimConfig {
            card,
            faults,
            ..SimConfig::default()
        },
    )
    .unwrap()
}

fn config(link: &Path) -> ReaderConfig {
    let mut config = ReaderConfig::serial(link.to_str().unwrap(), Some(115_200));
    config.reopen_interval = Duration::from_millis(200);
    config.timeout = Duration::from_millis(500);
    config
}

async fn next(handle: &mut ReaderHandle) -> ReaderEvent {
    tokio::time::timeout(Duration::from_secs(5), handle.next_event())
        .await
        .expect("an event within 5 s")
        .expect("the task is running")
}

fn link_in(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("idcard")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tapped_card_is_presented_once_and_removed_once() {
    let dir = tempfile::tempdir().unwrap();
    let link = link_in(&dir);
    let sim = start_sim(&link, None, Faults::default());
    let mut reader = spawn(config(&link));

    sim.set_card(Some(&card("resident"))).unwrap();
    match next(&mut reader).await {
        ReaderEvent::CardPresented(read) => {
            assert_eq!(read.card_type, CardKind::Resident);
            assert_eq!(read.name, "刘晓燕");
        }
        other => panic!("expected the card, got {other:?}"),
    }
    assert_eq!(reader.health().state, HealthState::Ready);

    // Lying on the reader for a while is not a second tap.
    tokio::time::sleep(Duration::from_millis(900)).await;
    sim.set_card(None).unwrap();
    assert_eq!(next(&mut reader).await, ReaderEvent::CardRemoved);

    // Polls never come closer than 300 ms apart. The simulator stamps a request when its
    // thread gets to it, so a single gap may look a little short on a loaded machine; the
    // mean over all gaps may not, and no gap may be anywhere near a faster poll rate.
    let finds: Vec<_> = sim
        .seen()
        .into_iter()
        .filter(|s| s.command == Some(Command::FindCard))
        .map(|s| s.at)
        .collect();
    assert!(finds.len() >= 3, "{} polls", finds.len());
    let mean = (finds[finds.len() - 1] - finds[0]) / (finds.len() as u32 - 1);
    assert!(
        mean >= Duration::from_millis(299),
        "polls {mean:?} apart on average"
    );
    for pair in finds.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(250), "polls {gap:?} apart");
    }
    reader.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_task_survives_unplug_and_replug() {
    let dir = tempfile::tempdir().unwrap();
    let link = link_in(&dir);
    let sim = start_sim(
        &link,
        Some(card("foreign_permanent_2023")),
        Faults::default(),
    );
    let mut reader = spawn(config(&link));
    assert!(matches!(
        next(&mut reader).await,
        ReaderEvent::CardPresented(_)
    ));

    sim.stop();
    assert_eq!(next(&mut reader).await, ReaderEvent::CardRemoved);
    match next(&mut reader).await {
        ReaderEvent::Fault(fault) => {
            assert_eq!(fault.kind, FaultKind::Unplugged);
            assert!(
                fault.message.contains(link.to_str().unwrap()),
                "{}",
                fault.message
            );
        }
        other => panic!("expected a fault, got {other:?}"),
    }
    assert_eq!(reader.health().state, HealthState::Absent);

    // Plugged back in (a new PTY behind the same path), with the card still on it.
    let _sim = start_sim(
        &link,
        Some(card("foreign_permanent_2023")),
        Faults::default(),
    );
    match next(&mut reader).await {
        ReaderEvent::CardPresented(read) => {
            assert_eq!(read.card_type, CardKind::ForeignPermanent2023)
        }
        other => panic!("expected the card again, got {other:?}"),
    }
    assert_eq!(reader.health().state, HealthState::Ready);
    reader.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_sam_makes_the_reader_unusable_and_says_why() {
    let dir = tempfile::tempdir().unwrap();
    let link = link_in(&dir);
    let faults = Faults {
        sam_self_test_fails: true,
        ..Faults::default()
    };
    let _sim = start_sim(&link, None, faults);
    let mut reader = spawn(config(&link));
    match next(&mut reader).await {
        ReaderEvent::Fault(fault) => assert_eq!(fault.kind, FaultKind::Sam),
        other => panic!("expected a fault, got {other:?}"),
    }
    let health = reader.health();
    assert!(!health.state.is_usable(), "{health:?}");
    assert!(matches!(&health.state, HealthState::Fault(why) if why.contains("replace the reader")));
    reader.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_card_that_cannot_be_selected_is_a_fault_reported_once() {
    let dir = tempfile::tempdir().unwrap();
    let link = link_in(&dir);
    let faults = Faults {
        select_fails: true,
        ..Faults::default()
    };
    let sim = start_sim(&link, Some(card("hk_mo_tw_permit")), faults);
    let mut reader = spawn(config(&link));
    match next(&mut reader).await {
        ReaderEvent::Fault(fault) => assert_eq!(fault.kind, FaultKind::CardRead),
        other => panic!("expected a fault, got {other:?}"),
    }
    // Still usable: the reader is fine, the card was not.
    assert!(reader.health().state.is_usable());
    // The same fault is not repeated at every poll; once it clears, the card is read.
    tokio::time::sleep(Duration::from_millis(700)).await;
    sim.set_faults(Faults::default());
    assert!(matches!(
        next(&mut reader).await,
        ReaderEvent::CardPresented(_)
    ));
    reader.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_usb_reader_that_is_absent_is_reported_unplugged_and_the_task_keeps_trying() {
    // No USB reader is attached here (and perhaps no libusb at all): ffff:fffe is nothing.
    let mut config = ReaderConfig::usb(0xffff, 0xfffe, None);
    config.reopen_interval = Duration::from_millis(100);
    let mut reader = spawn(config);
    match next(&mut reader).await {
        ReaderEvent::Fault(fault) => {
            assert_eq!(fault.kind, FaultKind::Unplugged);
            assert!(fault.message.contains("usb ffff:fffe"), "{}", fault.message);
        }
        other => panic!("expected a fault, got {other:?}"),
    }
    assert_eq!(reader.health().state, HealthState::Absent);
    assert_eq!(reader.health().location, "usb ffff:fffe");
    // Still running after several reopen attempts: a failed open does not end the task.
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        tokio::time::timeout(Duration::from_millis(200), reader.next_event())
            .await
            .is_err(),
        "the same fault is not reported again, and the task has not ended"
    );
    reader.shutdown().await;
}
