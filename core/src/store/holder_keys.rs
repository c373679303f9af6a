//! The platform's holder keys (`GET /v1/holder-keys`), kept so that the kiosk can hash an ID
//! number offline: sealed under the store key like personal data, since with a key and a
//! stolen table of hashes the ID numbers behind them could be enumerated.

use kiosk_api::citizen::HolderKeys;
use rusqlite::{OptionalExtension as _, params};
use zeroize::Zeroizing;

use super::{Store, StoreError, now_ms};

const CONTEXT: &str = "holder_keys";

impl Store {
    /// Keeps `keys` (replacing the ones kept before), sealed, durably.
    pub fn save_holder_keys(&self, keys: &HolderKeys) -> Result<(), StoreError> {
        let plain = Zeroizing::new(serde_json::to_vec(keys)?);
        let sealed = self.inner.key.seal(CONTEXT, &plain)?;
        let conn = self.conn();
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.execute(
            "INSERT INTO holder_keys (id, sealed, saved_ms) VALUES (1, ?1, ?2)
             ON CONFLICT (id) DO UPDATE SET sealed = ?1, saved_ms = ?2",
            params![sealed, now_ms()],
        )?;
        Ok(())
    }

    /// The holder keys kept, if central ever gave them; `Crypto` if they no longer open.
    pub fn holder_keys(&self) -> Result<Option<HolderKeys>, StoreError> {
        let sealed: Option<Vec<u8>> = self
            .conn()
            .query_row("SELECT sealed FROM holder_keys WHERE id = 1", [], |row| {
                row.get(0)
            })
            .optional()?;
        let Some(sealed) = sealed else {
            return Ok(None);
        };
        let plain = Zeroizing::new(self.inner.key.open(CONTEXT, &sealed)?);
        Ok(Some(serde_json::from_slice(&plain)?))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use kiosk_api::citizen::{HolderKey, HolderKeys};

    use crate::store::{DB_FILE, Store, StoreKey, StoreOptions};

    #[test]
    fn holder_keys_are_kept_sealed_and_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let key = StoreKey::load_or_create(&dir.path().join("store.key")).unwrap();
        let store = Store::open(dir.path(), key, StoreOptions::default()).unwrap();
        assert_eq!(store.holder_keys().unwrap(), None);
        let first = HolderKeys {
            keys: vec![HolderKey {
                id: "2026a".into(),
                secret: [0x5a; 32],
            }],
        };
        store.save_holder_keys(&first).unwrap();
        assert_eq!(store.holder_keys().unwrap(), Some(first.clone()));

        let rotated = HolderKeys {
            keys: vec![HolderKey::generate("2026b"), first.keys[0].clone()],
        };
        store.save_holder_keys(&rotated).unwrap();
        assert_eq!(store.holder_keys().unwrap(), Some(rotated.clone()));
        let id = "11010519491231002X";
        assert_eq!(
            store.holder_keys().unwrap().unwrap().all_hashes(id),
            rotated.all_hashes(id)
        );

        // Neither the secret nor its base64 is in the database file.
        drop(store);
        let raw = std::fs::read(dir.path().join(DB_FILE)).unwrap();
        let secret = [0x5au8; 32];
        assert!(!raw.windows(32).any(|w| w == secret));
        let b64 = "WlpaWlpaWlpa";
        assert!(!raw.windows(b64.len()).any(|w| w == b64.as_bytes()));
    }
}
