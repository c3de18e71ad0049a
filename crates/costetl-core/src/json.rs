//! OpenCost JSON (placeholder).
