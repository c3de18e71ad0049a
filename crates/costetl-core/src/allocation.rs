//! One allocation: the resources and cost attributed to one thing (a
//! container, or an aggregate of them) over a window, field for field with
//! OpenCost's `Allocation`, its computed values (efficiency, total cost) and
//! how two allocations merge.

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, Utc};

use crate::properties::{
    AllocationProperties, ArcStr, EXTERNAL, IDLE, MetadataMerge, SHARED, UNMOUNTED,
};
use crate::small_map::SmallMap;
use crate::window::Window;

/// Identifies a persistent volume: cluster and PV name. Serialised in JSON
/// as `cluster=<c>:name=<n>`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PvKey {
    /// Cluster of the volume.
    pub cluster: String,
    /// PersistentVolume name.
    pub name: String,
}

impl fmt::Display for PvKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cluster={}:name={}", self.cluster, self.name)
    }
}

/// The part of one persistent volume charged to an allocation.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PvAllocation {
    /// Byte-hours of the volume attributed.
    pub byte_hours: f64,
    /// Cost attributed.
    pub cost: f64,
    /// Cloud provider id of the volume.
    pub provider_id: String,
}

/// The part of one load balancer charged to an allocation, keyed by
/// `cluster/namespace/service`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LbAllocation {
    /// `namespace/service`.
    pub service: ArcStr,
    /// Cost attributed to this allocation from this load balancer (OpenCost
    /// stores the allocation's cumulative LB cost here, wrong for an
    /// allocation behind several LBs; we keep it per LB).
    pub cost: f64,
    /// Whether the LB's ingress IP is private (RFC 1918).
    pub private: bool,
    /// Ingress IP.
    pub ip: ArcStr,
    /// Hours the LB was active and attributed.
    pub hours: f64,
}

/// Raw per-container maxima that cannot be recomputed from averages.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RawAllocationOnly {
    /// Peak CPU usage in cores.
    pub cpu_core_usage_max: f64,
    /// Peak working-set RAM in bytes.
    pub ram_bytes_usage_max: f64,
}

/// One bucket of an allocation's shared cost, by where it came from
/// (`includeSharedCostBreakdown`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct SharedCostBreakdown {
    /// Name of the shared source (namespace, label value, shared cost name).
    pub name: String,
    /// Sum of the parts below.
    pub total_cost: f64,
    /// CPU share.
    pub cpu_cost: f64,
    /// GPU share.
    pub gpu_cost: f64,
    /// RAM share.
    pub ram_cost: f64,
    /// PV share.
    pub pv_cost: f64,
    /// Network share.
    pub network_cost: f64,
    /// Load-balancer share.
    pub lb_cost: f64,
    /// External share.
    pub external_cost: f64,
}

impl SharedCostBreakdown {
    /// Add `scale ×` every cost of `o`.
    pub fn add_scaled(&mut self, o: &Self, scale: f64) {
        self.total_cost += o.total_cost * scale;
        self.cpu_cost += o.cpu_cost * scale;
        self.gpu_cost += o.gpu_cost * scale;
        self.ram_cost += o.ram_cost * scale;
        self.pv_cost += o.pv_cost * scale;
        self.network_cost += o.network_cost * scale;
        self.lb_cost += o.lb_cost * scale;
        self.external_cost += o.external_cost * scale;
    }
}

/// An allocation's proportion of one asset's cost (OpenCost's PARC).
/// Carried and merged here; computed by the engine, which knows the assets.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProportionalAssetResourceCost {
    /// Cluster of the asset.
    pub cluster: String,
    /// Asset name (node or PV), empty for cluster-level PARCs.
    pub name: String,
    /// Asset type (`Node`, `PV`, `LoadBalancer`), empty for cluster level.
    pub asset_type: String,
    /// Provider id of the asset.
    pub provider_id: String,
    /// This allocation's CPU cost of the asset.
    pub cpu_proportional_cost: f64,
    /// The asset's total CPU cost.
    pub cpu_total_cost: f64,
    /// This allocation's GPU cost of the asset.
    pub gpu_proportional_cost: f64,
    /// The asset's total GPU cost.
    pub gpu_total_cost: f64,
    /// This allocation's RAM cost of the asset.
    pub ram_proportional_cost: f64,
    /// The asset's total RAM cost.
    pub ram_total_cost: f64,
    /// This allocation's PV cost of the asset.
    pub pv_proportional_cost: f64,
    /// The asset's total PV cost.
    pub pv_total_cost: f64,
    /// This allocation's LB cost of the asset.
    pub load_balancer_proportional_cost: f64,
    /// The asset's total LB cost.
    pub load_balancer_total_cost: f64,
}

impl ProportionalAssetResourceCost {
    /// `proportional / total`, 0 when the total is 0.
    pub fn percentage(proportional: f64, total: f64) -> f64 {
        if total == 0.0 {
            0.0
        } else {
            proportional / total
        }
    }

    /// The cost-weighted mix of the CPU, GPU and RAM percentages.
    pub fn node_resource_cost_percentage(&self) -> f64 {
        let total = self.cpu_total_cost + self.gpu_total_cost + self.ram_total_cost;
        Self::percentage(
            self.cpu_proportional_cost + self.gpu_proportional_cost + self.ram_proportional_cost,
            total,
        )
    }

    /// Add `scale ×` the proportional costs of `o`. Proportions of the
    /// same asset add up; the asset's totals do not.
    pub fn add_scaled(&mut self, o: &Self, scale: f64) {
        self.cpu_proportional_cost += o.cpu_proportional_cost * scale;
        self.gpu_proportional_cost += o.gpu_proportional_cost * scale;
        self.ram_proportional_cost += o.ram_proportional_cost * scale;
        self.pv_proportional_cost += o.pv_proportional_cost * scale;
        self.load_balancer_proportional_cost += o.load_balancer_proportional_cost * scale;
    }
}

/// The resources and cost attributed to one thing over a window.
///
/// Field names and meanings follow OpenCost's `Allocation` (JSON names in
/// [`crate::json`]). Hours are resource-hours (core-hours, byte-hours, GPU
/// hours); averages are over the allocation's own running minutes.
#[derive(Clone, Debug, PartialEq)]
pub struct Allocation {
    /// Unique name within its set (`cluster/node/namespace/pod/container`
    /// for computed containers, the aggregation key after aggregation).
    pub name: String,
    /// What the allocation belongs to.
    pub properties: AllocationProperties,
    /// The window of the set the allocation was computed for.
    pub window: Window,
    /// When the allocation started running (inside `window`).
    pub start: DateTime<Utc>,
    /// When it stopped running.
    pub end: DateTime<Utc>,
    /// CPU core-hours charged (max of request and usage).
    pub cpu_core_hours: f64,
    /// Average CPU cores requested over the running minutes.
    pub cpu_core_request_average: f64,
    /// Average CPU cores used over the running minutes.
    pub cpu_core_usage_average: f64,
    /// CPU cost.
    pub cpu_cost: f64,
    /// Reconciliation adjustment to the CPU cost.
    pub cpu_cost_adjustment: f64,
    /// Idle CPU cost attributed (informational).
    pub cpu_cost_idle: f64,
    /// GPU-hours charged.
    pub gpu_hours: f64,
    /// Average GPUs requested.
    pub gpu_request_average: f64,
    /// Average GPU utilisation (0–1 per GPU).
    pub gpu_usage_average: f64,
    /// GPU cost.
    pub gpu_cost: f64,
    /// Reconciliation adjustment to the GPU cost.
    pub gpu_cost_adjustment: f64,
    /// Idle GPU cost attributed (informational).
    pub gpu_cost_idle: f64,
    /// Bytes transmitted.
    pub network_transfer_bytes: f64,
    /// Bytes received.
    pub network_receive_bytes: f64,
    /// Network cost (sum of the three subtypes).
    pub network_cost: f64,
    /// Cross-zone egress cost.
    pub network_cross_zone_cost: f64,
    /// Cross-region egress cost.
    pub network_cross_region_cost: f64,
    /// Internet egress cost.
    pub network_internet_cost: f64,
    /// Reconciliation adjustment to the network cost.
    pub network_cost_adjustment: f64,
    /// Load-balancer cost.
    pub load_balancer_cost: f64,
    /// Reconciliation adjustment to the LB cost.
    pub load_balancer_cost_adjustment: f64,
    /// Per-LB breakdown, keyed `cluster/namespace/service`.
    pub load_balancers: SmallMap<ArcStr, LbAllocation>,
    /// Per-PV breakdown.
    pub pvs: SmallMap<PvKey, PvAllocation>,
    /// Reconciliation adjustment to the PV cost.
    pub pv_cost_adjustment: f64,
    /// RAM byte-hours charged (max of request and usage).
    pub ram_byte_hours: f64,
    /// Average RAM bytes requested.
    pub ram_bytes_request_average: f64,
    /// Average working-set RAM bytes.
    pub ram_bytes_usage_average: f64,
    /// RAM cost.
    pub ram_cost: f64,
    /// Reconciliation adjustment to the RAM cost.
    pub ram_cost_adjustment: f64,
    /// Idle RAM cost attributed (informational).
    pub ram_cost_idle: f64,
    /// Cost shared onto this allocation (shared namespaces, labels, hourly
    /// costs).
    pub shared_cost: f64,
    /// Out-of-cluster cost.
    pub external_cost: f64,
    /// Peak usage, when known for exactly this allocation's constituents.
    pub raw_allocation_only: Option<RawAllocationOnly>,
    /// Proportional asset costs, keyed by asset (`cluster` or
    /// `cluster,node`, `cluster,pv`).
    pub proportional_asset_resource_costs: BTreeMap<String, ProportionalAssetResourceCost>,
    /// Where `shared_cost` came from, when asked for.
    pub shared_cost_breakdown: BTreeMap<String, SharedCostBreakdown>,
    /// Cost of PVCs that were bound but not mounted, included in the PV
    /// costs above (not serialised; excluded from sharing weights).
    pub unmounted_pv_cost: f64,
    /// Some of this allocation's cost used default prices because its node
    /// had no price series (not in OpenCost; serialised as `defaultPriced`
    /// only when true).
    pub default_priced: bool,
}

/// Guarded division: 0 where the denominator is 0 (OpenCost's convention
/// for every derived rate).
fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 { 0.0 } else { num / den }
}

/// What an allocation is: a workload's, or one of the special ones whose
/// names carry a marker (`__idle__`, `__unmounted__`, `__shared__`,
/// `__external__`). ETL rows store it as a column so SQL can tell idle
/// cost from a namespace without parsing names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AllocationKind {
    /// A container's (or an aggregate of containers').
    Allocation,
    /// Unallocated node capacity (`…/__idle__`).
    Idle,
    /// Volume or load-balancer cost without a consumer (`__unmounted__`).
    Unmounted,
    /// Configured shared cost without a recipient (`__shared__`).
    Shared,
    /// Out-of-cluster cost (`__external__`).
    External,
}

impl AllocationKind {
    /// The kind a name says, checked in this order: idle, unmounted,
    /// shared, external, else a workload's.
    pub fn of_name(name: &str) -> Self {
        [
            (IDLE, Self::Idle),
            (UNMOUNTED, Self::Unmounted),
            (SHARED, Self::Shared),
            (EXTERNAL, Self::External),
        ]
        .into_iter()
        .find_map(|(marker, kind)| name.contains(marker).then_some(kind))
        .unwrap_or(Self::Allocation)
    }

    /// `allocation`, `idle`, `unmounted`, `shared` or `external`: the ETL
    /// column's values.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allocation => "allocation",
            Self::Idle => "idle",
            Self::Unmounted => "unmounted",
            Self::Shared => "shared",
            Self::External => "external",
        }
    }
}

impl fmt::Display for AllocationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Allocation {
    /// An empty allocation named `name` running for the whole `window`.
    pub fn new(name: impl Into<String>, window: Window) -> Self {
        Self {
            name: name.into(),
            properties: AllocationProperties::default(),
            window,
            start: window.start(),
            end: window.end(),
            cpu_core_hours: 0.0,
            cpu_core_request_average: 0.0,
            cpu_core_usage_average: 0.0,
            cpu_cost: 0.0,
            cpu_cost_adjustment: 0.0,
            cpu_cost_idle: 0.0,
            gpu_hours: 0.0,
            gpu_request_average: 0.0,
            gpu_usage_average: 0.0,
            gpu_cost: 0.0,
            gpu_cost_adjustment: 0.0,
            gpu_cost_idle: 0.0,
            network_transfer_bytes: 0.0,
            network_receive_bytes: 0.0,
            network_cost: 0.0,
            network_cross_zone_cost: 0.0,
            network_cross_region_cost: 0.0,
            network_internet_cost: 0.0,
            network_cost_adjustment: 0.0,
            load_balancer_cost: 0.0,
            load_balancer_cost_adjustment: 0.0,
            load_balancers: SmallMap::new(),
            pvs: SmallMap::new(),
            pv_cost_adjustment: 0.0,
            ram_byte_hours: 0.0,
            ram_bytes_request_average: 0.0,
            ram_bytes_usage_average: 0.0,
            ram_cost: 0.0,
            ram_cost_adjustment: 0.0,
            ram_cost_idle: 0.0,
            shared_cost: 0.0,
            external_cost: 0.0,
            raw_allocation_only: None,
            proportional_asset_resource_costs: BTreeMap::new(),
            shared_cost_breakdown: BTreeMap::new(),
            unmounted_pv_cost: 0.0,
            default_priced: false,
        }
    }

    /// Running minutes (`end − start`).
    pub fn minutes(&self) -> f64 {
        (self.end - self.start).num_milliseconds() as f64 / 60_000.0
    }

    /// Running hours.
    pub fn hours(&self) -> f64 {
        self.minutes() / 60.0
    }

    /// What the allocation is, from its name ([`AllocationKind::of_name`]).
    pub fn kind(&self) -> AllocationKind {
        AllocationKind::of_name(&self.name)
    }

    /// Whether this is an idle allocation (`…/__idle__`).
    pub fn is_idle(&self) -> bool {
        self.name.contains(IDLE)
    }

    /// Whether this holds PV/LB cost without a consumer (`__unmounted__`).
    pub fn is_unmounted(&self) -> bool {
        self.name.contains(UNMOUNTED)
    }

    /// Whether this is an external (out-of-cluster) allocation.
    pub fn is_external(&self) -> bool {
        self.name.contains(EXTERNAL)
    }

    /// Whether this is a synthetic shared-cost allocation (`__shared__`).
    pub fn is_shared(&self) -> bool {
        self.name.contains(SHARED)
    }

    /// Average CPU cores charged.
    pub fn cpu_cores(&self) -> f64 {
        ratio(self.cpu_core_hours, self.hours())
    }

    /// Average RAM bytes charged.
    pub fn ram_bytes(&self) -> f64 {
        ratio(self.ram_byte_hours, self.hours())
    }

    /// Average GPUs charged.
    pub fn gpu_count(&self) -> f64 {
        ratio(self.gpu_hours, self.hours())
    }

    /// Sum of PV byte-hours.
    pub fn pv_byte_hours(&self) -> f64 {
        sum(self.pvs.values().map(|p| p.byte_hours))
    }

    /// Average PV bytes.
    pub fn pv_bytes(&self) -> f64 {
        ratio(self.pv_byte_hours(), self.hours())
    }

    /// Sum of PV costs (before adjustment).
    pub fn pv_cost(&self) -> f64 {
        sum(self.pvs.values().map(|p| p.cost))
    }

    /// CPU cost with its adjustment.
    pub fn cpu_total_cost(&self) -> f64 {
        self.cpu_cost + self.cpu_cost_adjustment
    }

    /// GPU cost with its adjustment.
    pub fn gpu_total_cost(&self) -> f64 {
        self.gpu_cost + self.gpu_cost_adjustment
    }

    /// RAM cost with its adjustment.
    pub fn ram_total_cost(&self) -> f64 {
        self.ram_cost + self.ram_cost_adjustment
    }

    /// PV cost with its adjustment.
    pub fn pv_total_cost(&self) -> f64 {
        self.pv_cost() + self.pv_cost_adjustment
    }

    /// Network cost with its adjustment.
    pub fn network_total_cost(&self) -> f64 {
        self.network_cost + self.network_cost_adjustment
    }

    /// LB cost with its adjustment.
    pub fn load_balancer_total_cost(&self) -> f64 {
        self.load_balancer_cost + self.load_balancer_cost_adjustment
    }

    /// Everything: resources with adjustments, shared and external cost.
    pub fn total_cost(&self) -> f64 {
        self.cpu_total_cost()
            + self.gpu_total_cost()
            + self.ram_total_cost()
            + self.pv_total_cost()
            + self.network_total_cost()
            + self.load_balancer_total_cost()
            + self.shared_cost
            + self.external_cost
    }

    /// Usage over request; with no request, 1 if anything was used and
    /// charged, else 0 (OpenCost's definition; can exceed 1).
    pub fn cpu_efficiency(&self) -> f64 {
        if self.cpu_core_request_average > 0.0 {
            self.cpu_core_usage_average / self.cpu_core_request_average
        } else if self.cpu_core_usage_average == 0.0 || self.cpu_total_cost() == 0.0 {
            0.0
        } else {
            1.0
        }
    }

    /// As [`Self::cpu_efficiency`] for RAM.
    pub fn ram_efficiency(&self) -> f64 {
        if self.ram_bytes_request_average > 0.0 {
            self.ram_bytes_usage_average / self.ram_bytes_request_average
        } else if self.ram_bytes_usage_average == 0.0 || self.ram_total_cost() == 0.0 {
            0.0
        } else {
            1.0
        }
    }

    /// As [`Self::cpu_efficiency`] for GPU, but a ratio only when both
    /// request and usage are positive.
    pub fn gpu_efficiency(&self) -> f64 {
        if self.gpu_request_average > 0.0 && self.gpu_usage_average > 0.0 {
            self.gpu_usage_average / self.gpu_request_average
        } else if self.gpu_usage_average == 0.0 || self.gpu_total_cost() == 0.0 {
            0.0
        } else {
            1.0
        }
    }

    /// CPU and RAM efficiency weighted by their total costs.
    pub fn total_efficiency(&self) -> f64 {
        let cpu = self.cpu_total_cost();
        let ram = self.ram_total_cost();
        ratio(
            self.cpu_efficiency() * cpu + self.ram_efficiency() * ram,
            cpu + ram,
        )
    }

    /// Merge `other` into `self` (OpenCost's `Allocation.add`): hours,
    /// bytes and costs add; request/usage averages are re-weighted by
    /// running minutes over the merged span; start/end/window widen;
    /// properties keep what both share.
    ///
    /// Unlike OpenCost: PV provider ids survive (OpenCost drops them on keys
    /// new to `self`), per-LB costs are summed per LB, and raw maxima are
    /// kept as the maximum of both sides when both are known.
    pub fn add(&mut self, other: &Allocation, metadata: MetadataMerge) {
        let (m_a, m_b) = (self.minutes(), other.minutes());
        self.start = self.start.min(other.start);
        self.end = self.end.max(other.end);
        self.window = self.window.expand(&other.window);
        let m = self.minutes();
        let weigh = |a: f64, b: f64| {
            if m > 0.0 {
                (a * m_a + b * m_b) / m
            } else {
                0.0
            }
        };
        self.cpu_core_request_average = weigh(
            self.cpu_core_request_average,
            other.cpu_core_request_average,
        );
        self.cpu_core_usage_average =
            weigh(self.cpu_core_usage_average, other.cpu_core_usage_average);
        self.ram_bytes_request_average = weigh(
            self.ram_bytes_request_average,
            other.ram_bytes_request_average,
        );
        self.ram_bytes_usage_average =
            weigh(self.ram_bytes_usage_average, other.ram_bytes_usage_average);
        self.gpu_request_average = weigh(self.gpu_request_average, other.gpu_request_average);
        self.gpu_usage_average = weigh(self.gpu_usage_average, other.gpu_usage_average);

        self.add_scaled(other, 1.0);
        self.raw_allocation_only = match (self.raw_allocation_only, other.raw_allocation_only) {
            (Some(a), Some(b)) => Some(RawAllocationOnly {
                cpu_core_usage_max: a.cpu_core_usage_max.max(b.cpu_core_usage_max),
                ram_bytes_usage_max: a.ram_bytes_usage_max.max(b.ram_bytes_usage_max),
            }),
            _ => None,
        };
        self.default_priced |= other.default_priced;
        self.properties.intersect_with(&other.properties, metadata);
    }

    /// Add `scale ×` every additive quantity of `other` (hours, bytes,
    /// costs, adjustments, and the per-PV, per-LB, PARC and breakdown
    /// maps): everything but averages, raw maxima and properties. `scale`
    /// lets callers move a fraction of an allocation (shared idle, the
    /// filtered-out remainder), or take it away with a negative scale.
    pub fn add_scaled(&mut self, other: &Allocation, scale: f64) {
        macro_rules! add {
            ($($f:ident),* $(,)?) => { $( self.$f += other.$f * scale; )* };
        }
        add!(
            cpu_core_hours,
            cpu_cost,
            cpu_cost_adjustment,
            cpu_cost_idle,
            gpu_hours,
            gpu_cost,
            gpu_cost_adjustment,
            gpu_cost_idle,
            network_transfer_bytes,
            network_receive_bytes,
            network_cost,
            network_cross_zone_cost,
            network_cross_region_cost,
            network_internet_cost,
            network_cost_adjustment,
            load_balancer_cost,
            load_balancer_cost_adjustment,
            pv_cost_adjustment,
            ram_byte_hours,
            ram_cost,
            ram_cost_adjustment,
            ram_cost_idle,
            shared_cost,
            external_cost,
            unmounted_pv_cost,
        );
        for (k, pv) in &other.pvs {
            let mine = self.pvs.get_or_insert_with(k, || PvAllocation {
                provider_id: pv.provider_id.clone(),
                ..PvAllocation::default()
            });
            mine.byte_hours += pv.byte_hours * scale;
            mine.cost += pv.cost * scale;
            // Keep the provider id when both sides agree or one side does
            // not know it; OpenCost loses it on every key new to `self`.
            if mine.provider_id.is_empty() {
                mine.provider_id.clone_from(&pv.provider_id);
            } else if !pv.provider_id.is_empty() && mine.provider_id != pv.provider_id {
                mine.provider_id.clear();
            }
        }
        for (k, lb) in &other.load_balancers {
            let mine = self.load_balancers.get_or_insert_with(k, || LbAllocation {
                service: lb.service.clone(),
                private: lb.private,
                ip: lb.ip.clone(),
                ..LbAllocation::default()
            });
            mine.cost += lb.cost * scale;
            mine.hours += lb.hours * scale;
        }
        for (k, p) in &other.proportional_asset_resource_costs {
            self.proportional_asset_resource_costs
                .entry(k.clone())
                .or_insert_with(|| ProportionalAssetResourceCost {
                    cpu_proportional_cost: 0.0,
                    gpu_proportional_cost: 0.0,
                    ram_proportional_cost: 0.0,
                    pv_proportional_cost: 0.0,
                    load_balancer_proportional_cost: 0.0,
                    ..p.clone()
                })
                .add_scaled(p, scale);
        }
        for (k, b) in &other.shared_cost_breakdown {
            self.shared_cost_breakdown
                .entry(k.clone())
                .or_insert_with(|| SharedCostBreakdown {
                    name: b.name.clone(),
                    ..SharedCostBreakdown::default()
                })
                .add_scaled(b, scale);
        }
    }

    /// Zero every reconciliation adjustment (OpenCost's `ResetAdjustments`).
    pub fn reset_adjustments(&mut self) {
        self.cpu_cost_adjustment = 0.0;
        self.gpu_cost_adjustment = 0.0;
        self.ram_cost_adjustment = 0.0;
        self.pv_cost_adjustment = 0.0;
        self.network_cost_adjustment = 0.0;
        self.load_balancer_cost_adjustment = 0.0;
    }

    /// Give `other`'s whole cost to `self` as shared cost (OpenCost's
    /// `Share`): nothing else changes.
    pub fn share(&mut self, other: &Allocation) {
        self.shared_cost += other.total_cost();
    }

    /// Replace NaN and infinities in every float with 0 (OpenCost's
    /// `SanitizeNaN`), returning how many were replaced so callers can warn.
    pub fn sanitize_nan(&mut self) -> usize {
        let mut n = 0;
        let mut fix = |x: &mut f64| {
            if !x.is_finite() {
                *x = 0.0;
                n += 1;
            }
        };
        for x in self.floats_mut() {
            fix(x);
        }
        for pv in self.pvs.values_mut() {
            fix(&mut pv.byte_hours);
            fix(&mut pv.cost);
        }
        for lb in self.load_balancers.values_mut() {
            fix(&mut lb.cost);
            fix(&mut lb.hours);
        }
        if let Some(raw) = &mut self.raw_allocation_only {
            fix(&mut raw.cpu_core_usage_max);
            fix(&mut raw.ram_bytes_usage_max);
        }
        n
    }

    /// Every scalar float field, for whole-record checks and fixes.
    fn floats_mut(&mut self) -> [&mut f64; 31] {
        [
            &mut self.cpu_core_hours,
            &mut self.cpu_core_request_average,
            &mut self.cpu_core_usage_average,
            &mut self.cpu_cost,
            &mut self.cpu_cost_adjustment,
            &mut self.cpu_cost_idle,
            &mut self.gpu_hours,
            &mut self.gpu_request_average,
            &mut self.gpu_usage_average,
            &mut self.gpu_cost,
            &mut self.gpu_cost_adjustment,
            &mut self.gpu_cost_idle,
            &mut self.network_transfer_bytes,
            &mut self.network_receive_bytes,
            &mut self.network_cost,
            &mut self.network_cross_zone_cost,
            &mut self.network_cross_region_cost,
            &mut self.network_internet_cost,
            &mut self.network_cost_adjustment,
            &mut self.load_balancer_cost,
            &mut self.load_balancer_cost_adjustment,
            &mut self.pv_cost_adjustment,
            &mut self.ram_byte_hours,
            &mut self.ram_bytes_request_average,
            &mut self.ram_bytes_usage_average,
            &mut self.ram_cost,
            &mut self.ram_cost_adjustment,
            &mut self.ram_cost_idle,
            &mut self.shared_cost,
            &mut self.external_cost,
            &mut self.unmounted_pv_cost,
        ]
    }
}

/// Σ `xs`, 0.0 when empty. `Iterator::sum` of no f64 is -0.0, which
/// prints as "-0" in files, JSON and SQL engines.
pub(crate) fn sum(xs: impl IntoIterator<Item = f64>) -> f64 {
    xs.into_iter().fold(0.0, |a, b| a + b)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};

    fn day() -> Window {
        let s = Utc.with_ymd_and_hms(2023, 11, 14, 0, 0, 0).unwrap();
        Window::new(s, s + TimeDelta::days(1)).unwrap()
    }

    #[test]
    fn sums_of_nothing_are_positive_zero() {
        // `Iterator::sum` of no f64 is -0.0: files and JSON showed "-0".
        let a = Allocation::new("a", day());
        for v in [a.pv_byte_hours(), a.pv_cost()] {
            assert!(v == 0.0 && v.is_sign_positive(), "{v}");
        }
        let empty = crate::set::AllocationSet::new(day());
        assert!(empty.total_cost().is_sign_positive());
    }

    #[test]
    fn sanitize_nan_zeroes_every_non_finite_float_and_counts_them() {
        let mut a = Allocation::new("a", day());
        a.cpu_cost = f64::NAN;
        a.ram_cost = f64::INFINITY;
        a.unmounted_pv_cost = f64::NEG_INFINITY;
        a.gpu_cost = 2.0;
        a.pvs.insert(
            PvKey {
                cluster: "c".into(),
                name: "pv".into(),
            },
            PvAllocation {
                byte_hours: f64::NAN,
                cost: 1.0,
                provider_id: String::new(),
            },
        );
        a.load_balancers.insert(
            "c/ns/svc".into(),
            LbAllocation {
                cost: f64::NAN,
                ..LbAllocation::default()
            },
        );
        a.raw_allocation_only = Some(RawAllocationOnly {
            cpu_core_usage_max: f64::NAN,
            ram_bytes_usage_max: 1.0,
        });
        assert_eq!(a.sanitize_nan(), 6);
        assert_eq!(
            (a.cpu_cost, a.ram_cost, a.unmounted_pv_cost, a.gpu_cost),
            (0.0, 0.0, 0.0, 2.0)
        );
        assert_eq!(a.pvs.values().next().unwrap().byte_hours, 0.0);
        assert_eq!(a.load_balancers["c/ns/svc"].cost, 0.0);
        assert_eq!(a.raw_allocation_only.unwrap().cpu_core_usage_max, 0.0);
        assert_eq!(a.total_cost(), 3.0);
        assert_eq!(a.sanitize_nan(), 0);
    }

    #[test]
    fn reset_adjustments_removes_them_from_the_total() {
        let mut a = Allocation::new("a", day());
        a.cpu_cost = 1.0;
        a.cpu_cost_adjustment = 0.5;
        a.gpu_cost_adjustment = 0.25;
        a.ram_cost_adjustment = 0.125;
        a.pv_cost_adjustment = 2.0;
        a.network_cost_adjustment = 4.0;
        a.load_balancer_cost_adjustment = 8.0;
        assert_eq!(a.total_cost(), 15.875);
        a.reset_adjustments();
        assert_eq!(a.total_cost(), 1.0);
    }
}
