//! Integration tests of the ETL codec: round trips, corrupt and foreign
//! files, the golden schemas and the checked-in files of every version.
//! One binary (a `main.rs`, which is also where proptest anchors
//! `tests/proptest-regressions/`).

mod codec;
