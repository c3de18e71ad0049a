//! Node cost and idle: per node and resource, idle = node cost − Σ
//! allocated. Negative idle is kept (and warned about as over-allocation),
//! never clamped, so allocations + idle = node cost exactly.

use std::collections::BTreeMap;

use crate::allocation::Allocation;
use crate::plan::EngineConfig;
use crate::properties::IDLE;
use crate::warning::{Warning, WarningKind};
use crate::window::Window;

use super::inputs::Node;
use super::keys::{GIB, JoinMap, NodeKey, NodeName, step_hours};

/// The idle allocation of every node with capacity, and warnings.
///
/// Node cost per resource is the average capacity × Σ price over the steps
/// priced (exact when the capacity is constant, whatever the price does);
/// a node with no price series is priced with the defaults.
pub(crate) fn idle(
    window: Window,
    cfg: &EngineConfig,
    nodes: &BTreeMap<NodeKey, Node>,
    mut allocated: BTreeMap<NodeKey, [f64; 6]>,
    provider_ids: &JoinMap<NodeName<'_>, &str>,
    warnings: &mut Vec<Warning>,
) -> Vec<Allocation> {
    let r_hours = step_hours(cfg);
    let pricing = cfg.default_pricing;
    let mut out = Vec::new();
    for (node, n) in nodes {
        let hours = n.capacity.map(|c| c * r_hours);
        let cost = if n.is_priced() {
            // A resource with no price at all (a node without GPUs) is not
            // a gap.
            for (what, priced) in ["CPU", "RAM", "GPU"].into_iter().zip(n.priced_steps) {
                if priced > 0.0 && priced < n.steps {
                    warnings.push(node.warn(
                        WarningKind::PartialPrice,
                        format!(
                            "node {}/{} has a {what} price for {priced} of its {} steps (the \
                             others missing, or NaN, ±Inf, negative or above $1e6/h); those \
                             steps cost nothing",
                            node.cluster, node.node, n.steps
                        ),
                    ));
                }
            }
            let avg = n.capacity.map(|c| c / n.steps);
            [
                avg[0] * n.price_sum[0] * r_hours,
                avg[1] / GIB * n.price_sum[1] * r_hours,
                avg[2] * n.price_sum[2] * r_hours,
            ]
        } else {
            [
                hours[0] * pricing.cpu,
                hours[1] / GIB * pricing.ram_gib,
                hours[2] * pricing.gpu,
            ]
        };
        let used = allocated.remove(node).unwrap_or_default();
        let mut idle = Allocation::new(format!("{}/{}/{IDLE}", node.cluster, node.node), window);
        idle.properties.cluster = node.cluster.as_str().into();
        idle.properties.node = node.node.as_str().into();
        idle.properties.provider_id = provider_ids
            .get(&(node.cluster.as_str(), node.node.as_str()))
            .map(|&p| p.into())
            .unwrap_or_default();
        idle.cpu_cost = cost[0] - used[0];
        idle.ram_cost = cost[1] - used[1];
        idle.gpu_cost = cost[2] - used[2];
        // Allocations and node alike are priced without the bad steps
        // (follow-ups), so they still add up to the node's finite cost.
        for (what, broken) in ["CPU", "RAM", "GPU"].into_iter().zip(n.price_broken) {
            if broken {
                warnings.push(node.warn(
                    WarningKind::NonFinitePrice,
                    format!(
                        "node {}/{}: its {what} price has NaN or ±Inf samples in the window; \
                         those steps cost nothing, for its allocations and its idle alike",
                        node.cluster, node.node
                    ),
                ));
            }
        }
        idle.cpu_core_hours = hours[0] - used[3];
        idle.ram_byte_hours = hours[1] - used[4];
        idle.gpu_hours = hours[2] - used[5];
        idle.default_priced = !n.is_priced();
        // A few cents of float noise is not over-allocation.
        let tolerance = 1e-9 * (cost[0] + cost[1] + cost[2]).abs().max(1.0);
        for (what, v) in [
            ("CPU", idle.cpu_cost),
            ("RAM", idle.ram_cost),
            ("GPU", idle.gpu_cost),
        ] {
            if v < -tolerance {
                warnings.push(node.warn(
                    WarningKind::OverAllocated,
                    format!(
                        "node {}/{} is over-allocated: {what} idle is {v:.6} (more requested or \
                         used than its capacity)",
                        node.cluster, node.node
                    ),
                ));
            }
        }
        out.push(idle);
    }
    for node in allocated.keys() {
        warnings.push(node.warn(
            WarningKind::UnknownCapacity,
            format!(
                "allocations on node {}/{} whose capacity is unknown: no idle computed for it",
                node.cluster, node.node
            ),
        ));
    }
    out
}
