//! A test hook: stop the process dead at a named point of a write, as
//! `kill -9` or a power cut would, so that the fault-matrix tests
//! (`crates/costetl-cli/tests/faults.rs`) can check that no good file is
//! lost and the next run completes the store. Off unless the environment
//! variable names the point; one lookup per call.

/// The environment variable naming the point to stop at.
pub const FAILPOINT_VAR: &str = "COSTETL_FAILPOINT";

/// Aborts the process (no destructors, no flushing) when
/// [`FAILPOINT_VAR`] is `point`.
pub fn failpoint(point: &str) {
    if std::env::var_os(FAILPOINT_VAR).is_some_and(|v| v == point) {
        std::process::abort();
    }
}
