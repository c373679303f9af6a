//! Update agent of the hall kiosk: verify, stage, switch, health gate, rollback.
//!
//! The agent is its own small binary (`kiosk-update`), run by `kiosk-update.timer` as root,
//! beside the unprivileged app: it must replace the app's files, restart it and judge it, which
//! the app cannot do for itself (nor should a crashing new version be the one deciding whether
//! it crashed). See README.md for the layout under `--root`, the state machine and the reasons.

pub mod agent;
pub mod gate;
pub mod layout;
pub mod reason;
pub mod report;
pub mod stage;
pub mod verify;

pub use agent::{Agent, AgentError, AgentState, Pending, Verdict};
pub use gate::{GateOutcome, health_gate};
pub use layout::Layout;
pub use reason::{Reason, Refusal};
pub use report::Reports;
