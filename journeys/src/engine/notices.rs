//! What a citizen is told when a step cannot be done: the words every effect shares.

use super::blocking::Failed;
use crate::machines::Notice;
use crate::model::Text;

/// A notice that sends the citizen to `window`, or to the hall's help desk.
pub(super) fn notice(desk: &Text, title: Text, message: Text, window: Option<Text>) -> Notice {
    Notice {
        title,
        message,
        window: window.or_else(|| Some(desk.clone())),
    }
}

/// A store failure in the middle of a step, for the citizen: nothing of the step was
/// written, and where to go instead (`to_do` is what they came for, "取号"). The caller
/// re-checks availability: a full disk closes the journeys that create records.
pub(super) fn store_failed(desk: &Text, err: &Failed, title: Text, to_do: Text) -> Notice {
    let window = desk.clone();
    if err.disk_full() {
        Notice {
            title,
            message: Text::new(
                format!(
                    "本终端存储空间已满，未能保存，请到{}{}",
                    window.zh, to_do.zh
                ),
                format!(
                    "This kiosk's storage is full and nothing was saved; please go to {} to {}",
                    window.en, to_do.en
                ),
            ),
            window: Some(window),
        }
    } else {
        Notice {
            title,
            message: Text::new(
                format!("请到{}{}", window.zh, to_do.zh),
                format!("Please go to {} to {}", window.en, to_do.en),
            ),
            window: Some(window),
        }
    }
}
