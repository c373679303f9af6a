//! Document scanner driver on SANE: scanning, page checks, compression, PDF assembly.
