//! ESC/POS thermal printer driver: commands, status decoding, transports.
