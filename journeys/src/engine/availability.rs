//! Which journeys a kiosk can offer now, and what a citizen is told about the others: one
//! rule, from the devices' health, the disk budget, the holder keys, numbering and the link
//! to central. The engine publishes it; the screenshots and the layout test show its words.

use kiosk_hal::{DeviceHealth, DeviceKind, HealthState};

use crate::model::{Availability, DeviceStatus, JourneyKind, Text, Tile};

/// Whether `journey` creates a record (see [`JourneyKind::records`]).
pub fn records(journey: JourneyKind) -> bool {
    journey.records()
}

/// What besides the devices decides which journeys run.
#[derive(Debug, Clone, Copy)]
pub struct Conditions {
    /// The disk budget still admits records.
    pub accepting_records: bool,
    /// The kiosk has holder keys (cards can be hashed and looked up).
    pub card_lookup: bool,
    /// The kiosk's numbers are its own (enrolled, or simulated): it has a hall code for
    /// application numbers and a band of queue numbers central accepts from it. Before a
    /// technician enrols it, a ticket it printed would carry a number of no hall's band,
    /// which central refuses for good once it is enrolled, and nobody could call it.
    pub numbering: bool,
    /// Central answered lately.
    pub online: bool,
    /// Central refuses this kiosk as revoked by ops: nothing it records would reach the hall.
    pub revoked: bool,
}

/// Which journeys can run with these devices, disk and keys, and what a citizen is told
/// about the others.
pub fn availability(
    healths: &[DeviceHealth],
    conditions: Conditions,
    help_window: &Text,
) -> Availability {
    let usable = |kind: DeviceKind| {
        healths
            .iter()
            .any(|h| h.kind == kind && h.state.is_usable())
    };
    let tiles = JourneyKind::ALL
        .into_iter()
        .map(|journey| {
            let reason = closed_because(journey, &usable, conditions, help_window);
            Tile {
                journey,
                title: journey.title(),
                enabled: reason.is_none(),
                reason,
            }
        })
        .collect();
    Availability {
        tiles,
        devices: healths.iter().map(device_status).collect(),
        online: conditions.online,
        accepting_records: conditions.accepting_records,
    }
}

/// Why `journey` is closed, in the citizen's words; `None` when it is open. A missing
/// device is named first, as it is what staff must fix.
fn closed_because(
    journey: JourneyKind,
    usable: &dyn Fn(DeviceKind) -> bool,
    conditions: Conditions,
    help_window: &Text,
) -> Option<Text> {
    let missing = journey.needs().iter().find(|k| !usable(**k));
    // Without a holder key (never fetched) a journey that matches the card to records at
    // central cannot, and says so on the tile.
    let needs_key = journey.matches_cards();
    if records(journey) && conditions.revoked {
        // Before the devices: no repair makes this kiosk's tickets or applications count.
        Some(Text::new(
            format!("本终端已停止服务，请到{}办理", help_window.zh),
            format!(
                "This kiosk is out of service; please go to {}",
                help_window.en
            ),
        ))
    } else if let Some(kind) = missing {
        Some(device_reason(*kind, help_window))
    } else if records(journey) && !conditions.accepting_records {
        Some(Text::new(
            format!("本终端存储空间不足，暂停此项服务，请到{}", help_window.zh),
            format!(
                "This kiosk is short of storage; please go to {}",
                help_window.en
            ),
        ))
    } else if needs_key && !conditions.card_lookup {
        Some(Text::new(
            format!("本终端暂时无法核验身份证，请到{}办理", help_window.zh),
            format!(
                "This kiosk cannot check ID cards right now; please go to {}",
                help_window.en
            ),
        ))
    } else if matches!(journey, JourneyKind::TakeNumber | JourneyKind::CheckIn)
        && !conditions.numbering
    {
        Some(Text::new(
            format!("本终端尚未完成设置，暂不能取号，请到{}取号", help_window.zh),
            format!(
                "This kiosk is not set up yet and cannot give queue numbers; please go to {}",
                help_window.en
            ),
        ))
    } else if journey == JourneyKind::Apply && !conditions.numbering {
        Some(Text::new(
            format!("本终端尚未开通自助申报，请到{}办理", help_window.zh),
            format!(
                "Applications are not set up on this kiosk yet; please go to {}",
                help_window.en
            ),
        ))
    } else {
        None
    }
}

/// A device as the technician panel shows it.
fn device_status(h: &DeviceHealth) -> DeviceStatus {
    DeviceStatus {
        kind: h.kind,
        usable: h.state.is_usable(),
        detail: match &h.state {
            HealthState::Ready => String::new(),
            HealthState::Degraded(d) | HealthState::Fault(d) => d.clone(),
            HealthState::Absent => format!("absent: {}", h.location),
        },
        location: h.location.clone(),
    }
}

fn device_reason(kind: DeviceKind, window: &Text) -> Text {
    let (zh, en) = match kind {
        DeviceKind::IdCardReader => ("身份证阅读器故障", "The ID-card reader is out of order"),
        DeviceKind::Dispenser => ("取号机暂停出票", "The ticket printer is out of order"),
        DeviceKind::Printer => ("打印机故障", "The printer is out of order"),
        DeviceKind::Scanner => ("扫描仪故障", "The scanner is out of order"),
        DeviceKind::NumberDisplay => ("显示屏故障", "The display is out of order"),
    };
    Text::new(
        format!("{zh}，请到{}办理", window.zh),
        format!("{en}; please go to {}", window.en),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ready(kind: DeviceKind) -> DeviceHealth {
        DeviceHealth::now(kind, "test".to_owned(), HealthState::Ready)
    }

    fn all_ready() -> Vec<DeviceHealth> {
        [
            DeviceKind::IdCardReader,
            DeviceKind::Dispenser,
            DeviceKind::Printer,
            DeviceKind::Scanner,
        ]
        .into_iter()
        .map(ready)
        .collect()
    }

    fn tile(a: &Availability, journey: JourneyKind) -> &Tile {
        a.tiles.iter().find(|t| t.journey == journey).unwrap()
    }

    const FINE: Conditions = Conditions {
        accepting_records: true,
        card_lookup: true,
        numbering: true,
        online: true,
        revoked: false,
    };

    #[test]
    fn a_revoked_kiosk_closes_every_journey_that_records_before_naming_any_device() {
        let desk = Text::new("3号窗口", "window 3");
        let mut healths = all_ready();
        healths[0].state = HealthState::Fault("no answer".into());
        let a = availability(
            &healths,
            Conditions {
                revoked: true,
                ..FINE
            },
            &desk,
        );
        for journey in JourneyKind::ALL {
            let t = tile(&a, journey);
            if records(journey) {
                assert!(!t.enabled, "{journey:?}");
                let reason = t.reason.as_ref().unwrap();
                assert!(
                    reason.zh.contains("已停止服务") && reason.zh.contains("3号窗口"),
                    "{reason:?}"
                );
                assert!(
                    reason.en.contains("out of service; please go to window 3"),
                    "{reason:?}"
                );
            }
        }
        assert!(tile(&a, JourneyKind::Help).enabled, "help stays open");
    }

    #[test]
    fn near_a_full_disk_every_journey_that_creates_a_record_is_closed_and_says_why() {
        let desk = Text::new("1号综合咨询台", "Information desk 1");
        let a = availability(
            &all_ready(),
            Conditions {
                accepting_records: false,
                ..FINE
            },
            &desk,
        );
        for journey in JourneyKind::ALL {
            let t = tile(&a, journey);
            assert_eq!(t.enabled, !records(journey), "{journey:?}");
            if records(journey) {
                let reason = t.reason.as_ref().unwrap();
                assert!(reason.zh.contains("存储空间不足"), "{reason:?}");
                assert!(reason.en.contains("Information desk 1"), "{reason:?}");
            }
        }
        assert!(
            tile(&a, JourneyKind::Help).enabled,
            "help always stays open"
        );
        assert!(
            availability(&all_ready(), FINE, &desk)
                .tiles
                .iter()
                .all(|t| t.enabled)
        );
    }

    #[test]
    fn without_holder_keys_check_in_and_apply_are_closed_with_the_reason() {
        let desk = Text::new("1号综合咨询台", "Information desk 1");
        let a = availability(
            &all_ready(),
            Conditions {
                card_lookup: false,
                ..FINE
            },
            &desk,
        );
        for journey in [JourneyKind::CheckIn, JourneyKind::Apply] {
            let t = tile(&a, journey);
            assert!(!t.enabled);
            assert!(
                t.reason
                    .as_ref()
                    .unwrap()
                    .en
                    .contains("cannot check ID cards")
            );
        }
        assert!(tile(&a, JourneyKind::TakeNumber).enabled);
        assert!(
            tile(&a, JourneyKind::Progress).enabled,
            "the number keypad still works"
        );
        let a = availability(
            &all_ready(),
            Conditions {
                numbering: false,
                ..FINE
            },
            &desk,
        );
        assert!(!tile(&a, JourneyKind::Apply).enabled);
        // Nor does it hand out queue numbers that no hall could call.
        for journey in [JourneyKind::TakeNumber, JourneyKind::CheckIn] {
            let t = tile(&a, journey);
            assert!(!t.enabled);
            assert!(t.reason.as_ref().unwrap().en.contains("not set up yet"));
            assert!(t.reason.as_ref().unwrap().zh.contains("1号综合咨询台"));
        }
        assert!(tile(&a, JourneyKind::Guide).enabled);
        assert!(tile(&a, JourneyKind::Progress).enabled);
    }
}
