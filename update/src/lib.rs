//! Update agent of the hall kiosk: verify, stage, switch, health gate, rollback.
