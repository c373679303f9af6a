//! Telling a full disk apart from other store failures: a journey step that meets one has
//! written nothing (its transaction rolled back) and sends the citizen to a window instead of
//! offering to try again. Where kiosk-core's `StoreError::is_disk_full` exists, that inherent
//! method is the one called.

use kiosk_core::store::StoreError;

/// Whether a store error says the data filesystem is full.
pub(crate) trait DiskFull {
    /// SQLite's `SQLITE_FULL`, or `ENOSPC` on a spool file.
    fn is_disk_full(&self) -> bool;
}

impl DiskFull for StoreError {
    fn is_disk_full(&self) -> bool {
        match self {
            StoreError::Sqlite(e) => e.sqlite_error_code() == Some(rusqlite::ErrorCode::DiskFull),
            StoreError::Io { source, .. } => source.kind() == std::io::ErrorKind::StorageFull,
            _ => false,
        }
    }
}
