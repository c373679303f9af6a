//! Whole-system tests: central, kiosk and simulators as separate processes.
