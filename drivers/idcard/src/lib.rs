//! GA 467 SAM ID-card reader driver: codec, transports, reader task.
