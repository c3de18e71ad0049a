//! Integration tests of costetl-sim: the bundled scenarios, the
//! OpenMetrics output (structure and content), promtool, the binary.

mod cli;
mod fixtures;
mod openmetrics;
mod promtool;
mod util;
