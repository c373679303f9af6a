//! Front ends of the library's commands: arguments, text and JSON output, exit codes.

pub mod devices;
pub mod provision;
pub mod selftest;
pub mod technician;

/// A single-threaded runtime for one command.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}
