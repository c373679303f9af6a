//! Store-and-forward uplink and desired-state downlink.
