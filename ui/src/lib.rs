//! Slint user interface of the hall kiosk.
