//! costetl-sim: a synthetic Kubernetes cluster that writes both the
//! Prometheus metrics it would produce and the cost allocations those
//! metrics should yield, exactly.
//!
//! A [`Scenario`] describes clusters, nodes (capacity, prices and price
//! changes, joining and leaving), namespaces, pods (owners, labels,
//! containers with requests, usage over time and restart gaps, mounted
//! claims, network traffic), persistent volumes and their claims, and
//! services with load balancers, in continuous time. From it:
//!
//! - [`Scenario::write_openmetrics`] streams OpenMetrics text with
//!   timestamps, exactly the series `docs/metrics.md` says the engine
//!   reads, ready for `promtool tsdb create-blocks-from openmetrics`;
//! - [`Scenario::expected_allocations`] gives the
//!   [`AllocationSet`](costetl_core::AllocationSet) an engine should
//!   compute for a window, from the continuous times (independent of the
//!   scrape interval and of the engine's resolution), idle included;
//! - [`Scenario::node_costs`] gives every node's capacity × price over the
//!   window, the reference for conservation checks (allocations + idle =
//!   node costs, per resource, per node); [`Scenario::pv_costs`] and
//!   [`Scenario::lb_costs`] do the same for volumes and load balancers.
//!
//! Why a simulator rather than recorded clusters: recordings cannot say
//! what the right answer is. Here the truth is known by construction, so
//! engine tests can assert numbers, not just shapes, including the cases
//! OpenCost gets wrong (pods moving nodes, restarts, spot re-pricing,
//! terminated pods whose requests linger in kube-state-metrics, duplicate
//! exporters).
//!
//! [`generate()`] builds a realistic scenario of any size (clusters, nodes,
//! pods, hours) from a seed, for benchmarks.
//!
//! The `costetl-sim` binary wraps these:
//!
//! ```text
//! costetl-sim generate --clusters 2 --nodes 60 --pods 1000 --hours 24 --seed 1 --out S.json
//! costetl-sim openmetrics --scenario S.json --out metrics.om
//! costetl-sim expected --scenario S.json --window 2023-11-14T00:00:00Z,2023-11-15T00:00:00Z --out expected.json
//! ```
//!
//! # Example
//!
//! ```
//! use costetl_sim::{Cluster, Container, Namespace, Node, Pod, Prices, Scenario, Usage};
//!
//! let t0 = "2023-11-14T00:00:00Z".parse().unwrap();
//! let s = Scenario {
//!     start: t0,
//!     end: costetl_sim::plus_minutes(t0, 60),
//!     clusters: vec![Cluster {
//!         name: "c1".into(),
//!         nodes: vec![Node {
//!             name: "n1".into(),
//!             cpu_cores: 2.0,
//!             ram_bytes: 8.0 * 1024.0 * 1024.0 * 1024.0,
//!             prices: Prices::new(0.04, 0.005, 0.0),
//!             ..Default::default()
//!         }],
//!         namespaces: vec![Namespace { name: "web".into(), ..Default::default() }],
//!         pods: vec![Pod {
//!             namespace: "web".into(),
//!             name: "api".into(),
//!             node: "n1".into(),
//!             containers: vec![Container {
//!                 name: "app".into(),
//!                 cpu_request: 0.5,
//!                 usage: Usage::constant(0.75, 1e8),
//!                 ..Default::default()
//!             }],
//!             ..Default::default()
//!         }],
//!         ..Default::default()
//!     }],
//!     ..Default::default()
//! };
//! s.validate().unwrap();
//!
//! let set = s.expected_allocations(s.window()).unwrap();
//! let api = set.get("c1/n1/web/api/app").unwrap();
//! assert!((api.cpu_core_hours - 0.75).abs() < 1e-12); // usage above request
//! assert!(set.get("c1/n1/__idle__").is_some());
//!
//! let mut text = Vec::new();
//! let stats = s.write_openmetrics(&mut text).unwrap();
//! assert!(String::from_utf8(text).unwrap().ends_with("# EOF\n"));
//! assert!(stats.samples > 0);
//! ```

pub mod error;
pub mod expected;
pub mod generate;
pub mod openmetrics;
pub mod scenario;

pub use error::{Error, Result};
pub use expected::{ALLOCATION_NODE_LABELS, LbCost, NodeCost, PvCost};
pub use generate::{GenerateOptions, generate};
pub use openmetrics::WriteStats;
pub use scenario::{
    Claim, Cluster, Container, Gap, Level, LoadBalancer, Namespace, Network, NetworkPrices, Node,
    Options, Owner, OwnerKind, PersistentVolume, Pod, PriceChange, Prices, Scenario, Service,
    Usage, UsageStep, plus_minutes,
};
