use chrono::NaiveDate;
use kiosk_api::NumberBand;
use kiosk_api::citizen::Lease;
use uuid::Uuid;

use crate::store::{NoNumber, Store, StoreKey, StoreOptions, TicketFate};

fn open(dir: &std::path::Path) -> Store {
    let key = StoreKey::load_or_create(&dir.join("store.key")).unwrap();
    Store::open(dir, key, StoreOptions::default()).unwrap()
}

const BAND: NumberBand = NumberBand {
    first: 500,
    last: 502,
};

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 26).unwrap()
}

fn key(byte: u8) -> kiosk_api::citizen::HolderKey {
    kiosk_api::citizen::HolderKey {
        id: format!("k{byte}"),
        secret: [byte; 32],
    }
}

#[test]
fn numbers_come_from_the_lease_then_the_band_and_are_never_reused_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let lease = Lease {
        lease_id: Uuid::now_v7(),
        category: "A".into(),
        business_date: day(),
        first: 21,
        last: 22,
    };
    store.add_lease(&lease).unwrap();
    store.add_lease(&lease).unwrap(); // a resent answer adds nothing
    assert_eq!(store.leased_numbers_left("A", day()).unwrap(), 2);
    let first = store
        .allocate_ticket("A", day(), &[], BAND)
        .unwrap()
        .unwrap();
    assert_eq!(first.ticket_no, "A021");
    assert_eq!(first.source, format!("lease:{}", lease.lease_id));
    store.settle_ticket(&first, TicketFate::Voided).unwrap();
    drop(store);

    let store = open(dir.path());
    let numbers: Vec<u32> = (0..4)
        .map(|_| {
            store
                .allocate_ticket("A", day(), &[], BAND)
                .unwrap()
                .unwrap()
        })
        .map(|a| {
            store.settle_ticket(&a, TicketFate::Issued).unwrap();
            a.number
        })
        .collect();
    assert_eq!(numbers, [22, 500, 501, 502], "voided 21 is not given again");
    assert_eq!(
        store.allocate_ticket("A", day(), &[], BAND).unwrap(),
        Err(NoNumber::Exhausted)
    );
    // Another category has its own numbers, band included.
    let b = store
        .allocate_ticket("B", day(), &[], BAND)
        .unwrap()
        .unwrap();
    assert_eq!((b.ticket_no.as_str(), b.source.as_str()), ("B500", "band"));
}

#[test]
fn a_holder_gets_one_ticket_per_category_and_day_unless_it_was_voided() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let holder = key(1).hash("11010519491231002X");
    let first = store
        .allocate_ticket("A", day(), std::slice::from_ref(&holder), BAND)
        .unwrap()
        .unwrap();
    assert_eq!(
        store
            .allocate_ticket("A", day(), std::slice::from_ref(&holder), BAND)
            .unwrap(),
        Err(NoNumber::Duplicate {
            ticket_no: "A500".into()
        }),
        "still printing counts as held"
    );
    store.settle_ticket(&first, TicketFate::Voided).unwrap();
    let second = store
        .allocate_ticket("A", day(), std::slice::from_ref(&holder), BAND)
        .unwrap()
        .unwrap();
    store.settle_ticket(&second, TicketFate::Issued).unwrap();
    assert!(matches!(
        store
            .allocate_ticket("A", day(), std::slice::from_ref(&holder), BAND)
            .unwrap(),
        Err(NoNumber::Duplicate { .. })
    ));
    assert!(
        store
            .allocate_ticket("B", day(), std::slice::from_ref(&holder), BAND)
            .unwrap()
            .is_ok()
    );
    let tomorrow = day().succ_opt().unwrap();
    assert!(
        store
            .allocate_ticket("A", tomorrow, std::slice::from_ref(&holder), BAND)
            .unwrap()
            .is_ok()
    );
    assert_eq!(store.unsettled_tickets().unwrap().len(), 2);
}

#[test]
fn application_counters_and_the_cache_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    assert_eq!(store.next_application_counter(day()).unwrap(), 1);
    assert_eq!(store.next_application_counter(day()).unwrap(), 2);
    store
        .cache_put("queue_state", &serde_json::json!({"waiting": 3}))
        .unwrap();
    drop(store);
    let store = open(dir.path());
    assert_eq!(store.next_application_counter(day()).unwrap(), 3);
    let (value, at) = store.cache_get("queue_state").unwrap().unwrap();
    assert_eq!(value["waiting"], 3);
    assert!(at > 0);
    assert!(store.cache_get("nothing").unwrap().is_none());
}

#[test]
fn a_settled_ticket_and_its_event_are_one_commit_and_a_subject_is_rated_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let a = store
        .allocate_ticket("A", day(), &[], BAND)
        .unwrap()
        .unwrap();
    let before = store.last_seq().unwrap();
    store
        .settle_ticket_with_event(
            &a,
            TicketFate::Issued,
            "ticket_issued",
            &serde_json::json!({"ticket_no": "A500"}),
        )
        .unwrap();
    assert_eq!(store.last_seq().unwrap(), before + 1);
    assert!(store.unsettled_tickets().unwrap().is_empty());
    let batch = store.next_batch(10, 1 << 20).unwrap();
    assert_eq!(batch.last().unwrap().payload["ticket_no"], "A500");

    let rating = serde_json::json!({"subject": "ticket:A500:2026-11-26", "level": 5});
    assert!(!store.is_rated("ticket:A500:2026-11-26").unwrap());
    assert!(
        store
            .record_rating("ticket:A500:2026-11-26", "rating_given", &rating)
            .unwrap()
    );
    assert!(
        !store
            .record_rating("ticket:A500:2026-11-26", "rating_given", &rating)
            .unwrap()
    );
    assert!(store.is_rated("ticket:A500:2026-11-26").unwrap());
    assert_eq!(
        store.last_seq().unwrap(),
        before + 2,
        "the second rating queued nothing"
    );
}

#[test]
fn a_ticket_taken_before_a_key_rotation_still_blocks_a_second_one() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let id = "11010519491231002X";
    let before = store
        .allocate_ticket("A", day(), &[key(1).hash(id)], BAND)
        .unwrap()
        .unwrap();
    store.settle_ticket(&before, TicketFate::Issued).unwrap();
    assert_eq!(before.holder_hash, Some(key(1).hash(id)));
    // Rotated: the new key first, the old one still tried.
    let after = [key(2).hash(id), key(1).hash(id)];
    assert_eq!(
        store.allocate_ticket("A", day(), &after, BAND).unwrap(),
        Err(NoNumber::Duplicate {
            ticket_no: "A500".into()
        })
    );
    let other = store
        .allocate_ticket("B", day(), &after, BAND)
        .unwrap()
        .unwrap();
    assert_eq!(
        other.holder_hash,
        Some(key(2).hash(id)),
        "new tickets carry the current key's hash"
    );
}

#[test]
fn a_print_intent_survives_a_restart_until_the_ticket_is_settled() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    let printing = store
        .allocate_ticket("A", day(), &[], BAND)
        .unwrap()
        .unwrap();
    let never_printed = store
        .allocate_ticket("A", day(), &[], BAND)
        .unwrap()
        .unwrap();
    let intent = serde_json::json!({"ticket_no": "A500", "unconfirmed": false});
    store.record_print_intent(&printing, &intent).unwrap();
    drop(store);

    let store = open(dir.path());
    let unsettled = store.unsettled_tickets().unwrap();
    assert_eq!(unsettled, [printing.clone(), never_printed.clone()]);
    assert_eq!(
        store.print_intent(&unsettled[0]).unwrap(),
        Some(intent.clone())
    );
    assert_eq!(store.print_intent(&unsettled[1]).unwrap(), None);
    store
        .settle_ticket_with_event(&printing, TicketFate::Issued, "ticket_issued", &intent)
        .unwrap();
    assert_eq!(
        store.print_intent(&printing).unwrap(),
        None,
        "settling removes the intent in the same commit"
    );
    assert_eq!(store.unsettled_tickets().unwrap(), [never_printed]);
}

#[test]
fn a_print_intent_written_by_the_previous_schema_is_kept_on_its_ticket() {
    let dir = tempfile::tempdir().unwrap();
    {
        // A database as version 3 of the schema left it: the intent in the cache table.
        let mut conn = rusqlite::Connection::open(dir.path().join(crate::store::DB_FILE)).unwrap();
        for (index, sql) in crate::store::schema::MIGRATIONS[..3].iter().enumerate() {
            let tx = conn.transaction().unwrap();
            tx.execute_batch(sql).unwrap();
            tx.pragma_update(None, "user_version", (index + 1) as i64)
                .unwrap();
            tx.commit().unwrap();
        }
        conn.execute_batch(
            "INSERT INTO queue_tickets (business_date, category, number, ticket_no, source,
                                        holder_hash, fate, allocated_ms)
             VALUES ('2026-11-26', 'A', 500, 'A500', 'band', NULL, 'allocated', 1),
                    ('2026-11-26', 'A', 501, 'A501', 'band', NULL, 'allocated', 2);
             INSERT INTO journey_cache (key, value, fetched_ms)
             VALUES ('print_intent:2026-11-26:A:500', '{\"ticket_no\":\"A500\"}', 1),
                    ('queue_state', '{\"open\":true}', 5);",
        )
        .unwrap();
    }
    let store = open(dir.path());
    let unsettled = store.unsettled_tickets().unwrap();
    assert_eq!(unsettled.len(), 2);
    assert_eq!(
        store.print_intent(&unsettled[0]).unwrap(),
        Some(serde_json::json!({"ticket_no": "A500"}))
    );
    assert_eq!(store.print_intent(&unsettled[1]).unwrap(), None);
    assert_eq!(
        store.cache_get("queue_state").unwrap(),
        Some((serde_json::json!({"open": true}), 5)),
        "what central said is kept under the cache's new name"
    );
    assert_eq!(
        store.cache_get("print_intent:2026-11-26:A:500").unwrap(),
        None,
        "the intent is no longer a cache entry"
    );
}
