//! Integration tests of the core crate: OpenCost's test vectors and the
//! property tests of the allocation math. One binary, one link step.

mod opencost_vectors;
mod properties;
