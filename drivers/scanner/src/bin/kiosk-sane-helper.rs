//! `kiosk-sane-helper`: libsane in a process of its own, so that a backend that hangs or
//! crashes can be killed and restarted without the kiosk. Started by `Scanner::start`
//! with its stdin and stdout as the pipe; not meant to be run by hand.

fn main() -> std::process::ExitCode {
    kiosk_scanner::helper_main()
}
