use super::*;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn a_clock_two_minutes_ahead_of_central_fails_and_says_by_how_much() {
    let check = check_clock(
        Some("Thu, 26 Nov 2026 18:00:00 GMT"),
        at("2026-11-26T18:02:00.400Z"),
        at("2026-11-26T18:02:00.600Z"),
        CLOCK_SKEW_LIMIT,
    );
    assert_eq!(check.outcome, Outcome::Fail);
    assert!(
        check.summary.contains("120 s ahead of"),
        "{}",
        check.summary
    );
    assert!(check.advice.unwrap().contains("timedatectl"));
    let skew = check.detail["skew_secs"].as_f64().unwrap();
    assert!((skew - 120.0).abs() < 0.01, "{skew}");
}

#[test]
fn a_clock_within_a_second_passes_and_one_behind_by_thirty_seconds_warns() {
    let sent = at("2026-11-26T18:00:00.300Z");
    let received = at("2026-11-26T18:00:00.700Z");
    let ok = check_clock(
        Some("Thu, 26 Nov 2026 18:00:00 GMT"),
        sent,
        received,
        CLOCK_SKEW_LIMIT,
    );
    assert_eq!(ok.outcome, Outcome::Pass, "{}", ok.summary);
    let late = check_clock(
        Some("Thu, 26 Nov 2026 18:00:30 GMT"),
        sent,
        received,
        CLOCK_SKEW_LIMIT,
    );
    assert_eq!(late.outcome, Outcome::Warn);
    assert!(late.summary.contains("30 s behind"), "{}", late.summary);
}

#[test]
fn an_answer_without_a_date_cannot_pass_the_clock_check() {
    let now = Utc::now();
    let check = check_clock(None, now, now, CLOCK_SKEW_LIMIT);
    assert_eq!(check.outcome, Outcome::Fail);
    let bad = check_clock(Some("yesterday"), now, now, CLOCK_SKEW_LIMIT);
    assert_eq!(bad.outcome, Outcome::Fail);
}

#[test]
fn an_outbox_whose_last_attempt_failed_with_events_waiting_fails() {
    let status = SyncStatus {
        backlog: Vec::new(),
        total_backlog: 12,
        oldest_pending_age_secs: Some(3600),
        last_attempt_at: Some(at("2026-11-26T18:00:00Z")),
        last_success_at: Some(at("2026-11-26T17:00:00Z")),
        last_error: Some("central at http://x: connection refused".into()),
        last_error_at: Some(at("2026-11-26T18:00:00Z")),
        dropped_telemetry: 0,
        downsampled_telemetry: 0,
        accepting_records: true,
        used_bytes: 1 << 20,
        budget_bytes: 64 << 20,
        free_bytes: Some(1 << 30),
        min_free_bytes: 64 << 20,
        quarantined: 0,
        revoked: None,
    };
    let check = check_outbox(&Ok(Some(status.clone())));
    assert_eq!(check.outcome, Outcome::Fail);
    assert!(
        check.summary.contains("12 events waiting"),
        "{}",
        check.summary
    );
    assert!(
        check.summary.contains("connection refused"),
        "{}",
        check.summary
    );
    let delivering = SyncStatus {
        last_success_at: Some(at("2026-11-26T18:00:01Z")),
        ..status
    };
    assert_eq!(
        check_outbox(&Ok(Some(delivering.clone()))).outcome,
        Outcome::Pass
    );
    assert_eq!(check_outbox(&Ok(None)).outcome, Outcome::Pass);
    // Quarantined events are held back, not lost: a warning that says what to do.
    // A revoked kiosk fails the check and is told how to come back.
    let revoked = check_outbox(&Ok(Some(SyncStatus {
        revoked: Some("kiosk k was revoked by ops: stolen".into()),
        ..delivering.clone()
    })));
    assert_eq!(revoked.outcome, Outcome::Fail);
    assert!(revoked.summary.contains("stolen"), "{}", revoked.summary);
    assert!(
        revoked
            .advice
            .as_deref()
            .unwrap_or("")
            .contains("--reprovision"),
        "{:?}",
        revoked.advice
    );
    let held = check_outbox(&Ok(Some(SyncStatus {
        quarantined: 2,
        revoked: None,
        ..delivering
    })));
    assert_eq!(held.outcome, Outcome::Warn);
    assert!(
        held.summary.contains("2 event(s) in quarantine"),
        "{}",
        held.summary
    );
    assert!(
        held.advice
            .as_deref()
            .unwrap_or("")
            .contains("kioskctl sync retry")
    );
}

#[test]
fn a_store_budget_larger_than_the_free_space_fails_the_disk_check() {
    let dir = tempfile::tempdir().unwrap();
    let status = |budget: u64, accepting: bool| SyncStatus {
        backlog: Vec::new(),
        total_backlog: 0,
        oldest_pending_age_secs: None,
        last_attempt_at: None,
        last_success_at: None,
        last_error: None,
        last_error_at: None,
        dropped_telemetry: 0,
        downsampled_telemetry: 0,
        accepting_records: accepting,
        used_bytes: 0,
        budget_bytes: budget,
        free_bytes: Some(1 << 30),
        min_free_bytes: 64 << 20,
        quarantined: 0,
        revoked: None,
    };
    let small = check_disk(dir.path(), &Ok(Some(status(1 << 20, true))));
    assert_eq!(small.outcome, Outcome::Pass, "{}", small.summary);
    // No disk here has 1 EiB free.
    let huge = check_disk(dir.path(), &Ok(Some(status(1 << 60, true))));
    assert_eq!(huge.outcome, Outcome::Fail);
    assert!(huge.summary.contains("may still grow"), "{}", huge.summary);
    let full = check_disk(dir.path(), &Ok(Some(status(1 << 20, false))));
    assert_eq!(full.outcome, Outcome::Fail);
    assert!(full.summary.contains("near its budget"), "{}", full.summary);
    // The disk itself under the reserve, whatever the store uses.
    let low = check_disk(
        dir.path(),
        &Ok(Some(SyncStatus {
            free_bytes: Some(10 << 20),
            ..status(1 << 20, false)
        })),
    );
    assert_eq!(low.outcome, Outcome::Fail);
    assert!(
        low.summary.contains("under the 64 MiB reserve"),
        "{}",
        low.summary
    );
}

#[test]
fn reported_health_is_judged_without_opening_ports() {
    let reports = vec![
        DeviceHealth::now(
            DeviceKind::Printer,
            "/dev/kiosk/printer",
            HealthState::Ready,
        ),
        DeviceHealth::now(
            DeviceKind::Dispenser,
            "/dev/kiosk/dispenser",
            HealthState::Fault("paper out; load a new roll".into()),
        ),
    ];
    assert_eq!(
        from_report(names::PRINTER, DeviceKind::Printer, &reports).outcome,
        Outcome::Pass
    );
    let dispenser = from_report(names::DISPENSER, DeviceKind::Dispenser, &reports);
    assert_eq!(dispenser.outcome, Outcome::Fail);
    assert!(
        dispenser.summary.contains("paper out"),
        "{}",
        dispenser.summary
    );
    let missing = from_report(names::IDCARD, DeviceKind::IdCardReader, &reports);
    assert_eq!(missing.outcome, Outcome::Fail);
}
