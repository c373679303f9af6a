//! Store calls off the async threads: SQLite and the spool's fsyncs run in `spawn_blocking`,
//! and a failure stays typed so that a full disk can be told apart from other refusals.

use kiosk_core::store::StoreError;

/// Why a store call failed.
#[derive(Debug)]
pub(super) enum Failed {
    /// The store said no.
    Store(StoreError),
    /// The blocking task did not finish (the runtime is stopping).
    Task(String),
}

impl Failed {
    /// Whether the disk (or the store's budget) is full: the citizen is then sent to a desk
    /// and the journeys that create records close.
    pub(super) fn disk_full(&self) -> bool {
        match self {
            Failed::Store(e) => e.is_disk_full(),
            Failed::Task(_) => false,
        }
    }
}

impl std::fmt::Display for Failed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failed::Store(e) => e.fmt(f),
            Failed::Task(e) => f.write_str(e),
        }
    }
}

/// Runs a store call on the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, Failed> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(Failed::Store(e)),
        Err(e) => Err(Failed::Task(e.to_string())),
    }
}
