//! The holder keys and help status as the engine reaches them: kiosk-core's
//! `Store::holder_keys` / `Store::save_holder_keys` (sealed with the store key) and
//! `CentralClient::holder_keys` / `CentralClient::help_status`. These traits give the same
//! calls over what kiosk-core offers on its own (a sealed journey-cache row, signed GETs);
//! where kiosk-core has the inherent methods, those are the ones called.

use kiosk_api::citizen::{HelpStatus, HolderKeys};
use kiosk_api::routes;
use kiosk_core::store::{Store, StoreError};
use kiosk_core::sync::{CentralClient, SyncError};
use uuid::Uuid;
use zeroize::Zeroizing;

/// Where the holder keys are kept in the store (sealed).
const HOLDER_KEYS_KEY: &str = "holder_keys";

/// The holder keys in the store.
pub(crate) trait HolderKeyStore {
    /// The keys central gave, if they were ever fetched.
    fn holder_keys(&self) -> Result<Option<HolderKeys>, StoreError>;
    /// Keeps `keys` (sealed), replacing what was kept.
    fn save_holder_keys(&self, keys: &HolderKeys) -> Result<(), StoreError>;
}

impl HolderKeyStore for Store {
    fn holder_keys(&self) -> Result<Option<HolderKeys>, StoreError> {
        match self.sealed_get(HOLDER_KEYS_KEY)? {
            Some((plain, _)) => {
                let plain = Zeroizing::new(plain);
                Ok(Some(serde_json::from_slice(&plain)?))
            }
            None => Ok(None),
        }
    }

    fn save_holder_keys(&self, keys: &HolderKeys) -> Result<(), StoreError> {
        let plain = Zeroizing::new(serde_json::to_vec(keys)?);
        self.sealed_put(HOLDER_KEYS_KEY, &plain)
    }
}

/// Central's holder keys and help status.
pub(crate) trait CentralKeys {
    /// `GET /v1/holder-keys`.
    async fn holder_keys(&self) -> Result<HolderKeys, SyncError>;
    /// `GET /v1/help/{event_id}`: `None` until central has the event.
    async fn help_status(&self, event_id: Uuid) -> Result<Option<HelpStatus>, SyncError>;
}

impl CentralKeys for CentralClient {
    async fn holder_keys(&self) -> Result<HolderKeys, SyncError> {
        self.get_signed_json(routes::HOLDER_KEYS).await
    }

    async fn help_status(&self, event_id: Uuid) -> Result<Option<HelpStatus>, SyncError> {
        self.get_optional(&routes::help(event_id)).await
    }
}
