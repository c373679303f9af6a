//! Ratings: one per subject, the local table and the event in one transaction.

use kiosk_api::citizen::{CitizenEvent, RatingGiven};
use kiosk_core::store::Store;

use super::Stats;
use super::blocking::blocking;
use super::notices::{notice, store_failed};
use crate::machines::Notice;
use crate::model::Text;

/// Records `rating`, or says why not (already rated, not saved).
pub(super) async fn rate(
    store: &Store,
    desk: &Text,
    rating: RatingGiven,
    stats: &mut Stats,
) -> Result<(), Notice> {
    let store = store.clone();
    let subject = rating.subject.clone();
    let payload = rating.to_payload();
    match blocking(move || store.record_rating(&subject, RatingGiven::KIND, &payload)).await {
        Ok(true) => {
            stats.ratings += 1;
            Ok(())
        }
        Ok(false) => Err(Notice {
            title: Text::new("该服务已评价过", "Already rated"),
            message: Text::new(
                "每项服务只能评价一次，感谢您的参与",
                "Each service can be rated once; thank you",
            ),
            window: None,
        }),
        Err(err) if err.disk_full() => {
            tracing::error!(%err, "rating not stored");
            Err(store_failed(
                desk,
                &err,
                Text::new("评价未能保存", "The rating was not saved"),
                Text::new("评价", "rate our service"),
            ))
        }
        Err(err) => {
            tracing::error!(%err, "rating not stored");
            Err(notice(
                desk,
                Text::new("评价未能保存", "The rating was not saved"),
                Text::new("请稍后再试", "Please try again later"),
                None,
            ))
        }
    }
}
