//! State that never diverges: all-or-nothing operations, journal order, disk full, kill -9.
