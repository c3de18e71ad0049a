//! Adapter from any Prometheus-compatible backend (Prometheus, VictoriaMetrics,
//! Thanos, Mimir/Cortex, Amazon Managed Service for Prometheus, …) to the
//! core crate's metrics source.
//!
//! Empty for now: the metrics source trait and the adapter arrive with the
//! engine and adapter issues.
