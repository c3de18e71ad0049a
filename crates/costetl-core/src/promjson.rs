//! Prometheus HTTP API JSON decoding (being written).
