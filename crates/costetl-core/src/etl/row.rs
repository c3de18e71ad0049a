//! The row type of ETL files: [`AllocationRowV2`], one flat row per
//! [`Allocation`], and its conversions to and from the model.
//!
//! This is a boundary DTO, separate from the model on purpose: the model may
//! change freely, a row version never does. A new column or a changed type
//! is a new row version and a [`super::SCHEMA_VERSION`] bump.
//!
//! Version 2 is version 1 made for SQL: `start`/`end` (reserved words in
//! Trino and Athena) became `running_start`/`running_end`, and every row
//! says what it is (`kind`) and what its file is (`complete`, `built_at`).
//! Version-1 rows read into this type too: the old names are aliases, and
//! [`AllocationRowV2::fill_v1`] gives the new columns the values a v1
//! file implies (its name, its meta), so one conversion serves both.
//!
//! Derived columns (`kind`, `minutes`, `cpu_cores`, `ram_bytes`,
//! `gpu_count`, `pv_byte_hours`, `pv_cost`, `total_cost`) are written for
//! SQL users; on read they are checked or ignored and the model recomputes
//! them.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::allocation::{
    Allocation, AllocationKind, LbAllocation, PvAllocation, PvKey, RawAllocationOnly,
};
use crate::error::{Error, Result};
use crate::properties::{AllocationProperties, ArcStr, Labels};
use crate::small_map::SmallMap;
use crate::window::Window;

/// One allocation as a row of a version-2 ETL file (and, read with the
/// aliases, of a version-1 file). Field names are column names; see
/// `docs/etl.md` for each column's meaning.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct AllocationRowV2 {
    /// Unique name within the set (`cluster/node/namespace/pod/container` for containers).
    pub name: String,
    /// Derived: [`AllocationKind`] of the name (`allocation`, `idle`, …).
    /// Absent from version 1 (filled in by [`AllocationRowV2::fill_v1`]).
    #[serde(default)]
    pub kind: String,
    /// Start of the set's window (UTC, inclusive).
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub window_start: DateTime<Utc>,
    /// End of the set's window (UTC, exclusive).
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub window_end: DateTime<Utc>,
    /// When the allocation started running (`start` in version 1).
    #[serde(with = "chrono::serde::ts_milliseconds", alias = "start")]
    pub running_start: DateTime<Utc>,
    /// When it stopped running (`end` in version 1).
    #[serde(with = "chrono::serde::ts_milliseconds", alias = "end")]
    pub running_end: DateTime<Utc>,
    /// Derived: running minutes.
    pub minutes: f64,

    /// Cluster id.
    pub cluster: ArcStr,
    /// Node it ran on.
    pub node: ArcStr,
    /// Container name.
    pub container: ArcStr,
    /// Controller name.
    pub controller: ArcStr,
    /// Controller kind, lower case (`deployment`, `statefulset`, …).
    pub controller_kind: ArcStr,
    /// Namespace.
    pub namespace: ArcStr,
    /// Pod name.
    pub pod: ArcStr,
    /// Cloud provider id of the node.
    pub provider_id: ArcStr,
    /// Services selecting the pod, sorted.
    pub services: Vec<ArcStr>,
    /// Pod labels.
    #[serde(with = "as_map")]
    pub labels: Labels,
    /// Pod annotations.
    #[serde(with = "as_map")]
    pub annotations: Labels,
    /// Labels of the pod's namespace.
    #[serde(with = "as_map")]
    pub namespace_labels: Labels,
    /// Annotations of the pod's namespace.
    #[serde(with = "as_map")]
    pub namespace_annotations: Labels,

    /// Derived: average CPU cores charged.
    pub cpu_cores: f64,
    /// CPU core-hours charged (max of request and usage).
    pub cpu_core_hours: f64,
    /// Average CPU cores requested.
    pub cpu_core_request_average: f64,
    /// Average CPU cores used.
    pub cpu_core_usage_average: f64,
    /// CPU cost.
    pub cpu_cost: f64,
    /// Reconciliation adjustment to the CPU cost.
    pub cpu_cost_adjustment: f64,
    /// Idle CPU cost attributed (informational).
    pub cpu_cost_idle: f64,
    /// Derived: average GPUs charged.
    pub gpu_count: f64,
    /// GPU-hours charged.
    pub gpu_hours: f64,
    /// Average GPUs requested.
    pub gpu_request_average: f64,
    /// Average GPU utilisation.
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
    /// Derived: Σ `pvs.byte_hours`.
    pub pv_byte_hours: f64,
    /// Derived: Σ `pvs.cost`.
    pub pv_cost: f64,
    /// Reconciliation adjustment to the PV cost.
    pub pv_cost_adjustment: f64,
    /// Derived: average RAM bytes charged.
    pub ram_bytes: f64,
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
    /// Cost shared onto this allocation.
    pub shared_cost: f64,
    /// Out-of-cluster cost.
    pub external_cost: f64,
    /// PV cost without a consumer carried by this allocation.
    pub unmounted_pv_cost: f64,
    /// Derived: everything, with adjustments, shared and external cost.
    pub total_cost: f64,
    /// Null when raw maxima are unknown; then so is `ram_bytes_usage_max`.
    pub cpu_core_usage_max: Option<f64>,
    /// Null when raw maxima are unknown; then so is `cpu_core_usage_max`.
    pub ram_bytes_usage_max: Option<f64>,
    /// Whether any resource was priced with default prices.
    pub default_priced: bool,
    /// Per-PV breakdown, in (cluster, name) order.
    pub pvs: Vec<PvRowV1>,
    /// Per-LB breakdown, in key order.
    pub load_balancers: Vec<LbRowV1>,
    /// The file's window was closed when it was built (the meta's
    /// `complete`): a row of an open window is provisional.
    #[serde(default)]
    pub complete: bool,
    /// When the file was built (the meta's `built_at`).
    #[serde(with = "chrono::serde::ts_milliseconds", default)]
    pub built_at: DateTime<Utc>,
}

/// One persistent volume's part of an allocation (`pvs` list element),
/// unchanged since version 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PvRowV1 {
    /// Cluster of the volume.
    pub cluster: String,
    /// PersistentVolume name.
    pub name: String,
    /// Byte-hours attributed.
    pub byte_hours: f64,
    /// Cost attributed.
    pub cost: f64,
    /// Cloud provider id of the volume.
    pub provider_id: String,
}

/// One load balancer's part of an allocation (`load_balancers` list
/// element), unchanged since version 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LbRowV1 {
    /// `cluster/namespace/service`, the allocation's key for this LB.
    pub key: ArcStr,
    /// `namespace/service`.
    pub service: ArcStr,
    /// Cost attributed.
    pub cost: f64,
    /// Whether the ingress IP is private.
    pub private: bool,
    /// Ingress IP.
    pub ip: ArcStr,
    /// Hours attributed.
    pub hours: f64,
}

/// A label map in a row: the file holds the map itself; the row shares
/// the allocation's (the model's [`Labels`] is not `Serialize`).
mod as_map {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::properties::Labels;

    pub(super) fn serialize<S: Serializer>(labels: &Labels, s: S) -> Result<S::Ok, S::Error> {
        (**labels).serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Labels, D::Error> {
        BTreeMap::<String, String>::deserialize(d).map(Labels::from)
    }
}

impl AllocationRowV2 {
    /// `a`'s row in a file built at `built_at`, `complete` or not (the
    /// meta's values). Proportional asset resource costs and the
    /// shared-cost breakdown are query-time outputs and not stored; times
    /// keep whole milliseconds.
    pub fn new(a: &Allocation, complete: bool, built_at: DateTime<Utc>) -> Self {
        let p = &a.properties;
        Self {
            name: a.name.clone(),
            kind: a.kind().as_str().to_owned(),
            window_start: a.window.start(),
            window_end: a.window.end(),
            running_start: a.start,
            running_end: a.end,
            minutes: a.minutes(),
            cluster: p.cluster.clone(),
            node: p.node.clone(),
            container: p.container.clone(),
            controller: p.controller.clone(),
            controller_kind: p.controller_kind.clone(),
            namespace: p.namespace.clone(),
            pod: p.pod.clone(),
            provider_id: p.provider_id.clone(),
            services: p.services.clone(),
            // Shared, not copied: a row is written and dropped at once.
            labels: p.labels.clone(),
            annotations: p.annotations.clone(),
            namespace_labels: p.namespace_labels.clone(),
            namespace_annotations: p.namespace_annotations.clone(),
            cpu_cores: a.cpu_cores(),
            cpu_core_hours: a.cpu_core_hours,
            cpu_core_request_average: a.cpu_core_request_average,
            cpu_core_usage_average: a.cpu_core_usage_average,
            cpu_cost: a.cpu_cost,
            cpu_cost_adjustment: a.cpu_cost_adjustment,
            cpu_cost_idle: a.cpu_cost_idle,
            gpu_count: a.gpu_count(),
            gpu_hours: a.gpu_hours,
            gpu_request_average: a.gpu_request_average,
            gpu_usage_average: a.gpu_usage_average,
            gpu_cost: a.gpu_cost,
            gpu_cost_adjustment: a.gpu_cost_adjustment,
            gpu_cost_idle: a.gpu_cost_idle,
            network_transfer_bytes: a.network_transfer_bytes,
            network_receive_bytes: a.network_receive_bytes,
            network_cost: a.network_cost,
            network_cross_zone_cost: a.network_cross_zone_cost,
            network_cross_region_cost: a.network_cross_region_cost,
            network_internet_cost: a.network_internet_cost,
            network_cost_adjustment: a.network_cost_adjustment,
            load_balancer_cost: a.load_balancer_cost,
            load_balancer_cost_adjustment: a.load_balancer_cost_adjustment,
            pv_byte_hours: a.pv_byte_hours(),
            pv_cost: a.pv_cost(),
            pv_cost_adjustment: a.pv_cost_adjustment,
            ram_bytes: a.ram_bytes(),
            ram_byte_hours: a.ram_byte_hours,
            ram_bytes_request_average: a.ram_bytes_request_average,
            ram_bytes_usage_average: a.ram_bytes_usage_average,
            ram_cost: a.ram_cost,
            ram_cost_adjustment: a.ram_cost_adjustment,
            ram_cost_idle: a.ram_cost_idle,
            shared_cost: a.shared_cost,
            external_cost: a.external_cost,
            unmounted_pv_cost: a.unmounted_pv_cost,
            total_cost: a.total_cost(),
            cpu_core_usage_max: a.raw_allocation_only.map(|r| r.cpu_core_usage_max),
            ram_bytes_usage_max: a.raw_allocation_only.map(|r| r.ram_bytes_usage_max),
            default_priced: a.default_priced,
            pvs: a
                .pvs
                .iter()
                .map(|(k, pv)| PvRowV1 {
                    cluster: k.cluster.clone(),
                    name: k.name.clone(),
                    byte_hours: pv.byte_hours,
                    cost: pv.cost,
                    provider_id: pv.provider_id.clone(),
                })
                .collect(),
            load_balancers: a
                .load_balancers
                .iter()
                .map(|(k, lb)| LbRowV1 {
                    key: k.clone(),
                    service: lb.service.clone(),
                    cost: lb.cost,
                    private: lb.private,
                    ip: lb.ip.clone(),
                    hours: lb.hours,
                })
                .collect(),
            complete,
            built_at,
        }
    }

    /// Gives a row read from a version-1 file the columns version 2 added,
    /// with the values that file implies: the kind its name says, and its
    /// meta's completeness and build time.
    pub fn fill_v1(&mut self, complete: bool, built_at: DateTime<Utc>) {
        self.kind = AllocationKind::of_name(&self.name).as_str().to_owned();
        self.complete = complete;
        self.built_at = built_at;
    }

    /// Whether the row's file columns agree with its file and its kind
    /// with its name: `None`, or what disagrees. A writer bug (or a hand
    /// edit) caught on read, as a wrong total is.
    pub fn disagreement(&self, complete: bool, built_at: DateTime<Utc>) -> Option<String> {
        let kind = AllocationKind::of_name(&self.name);
        if self.kind != kind.as_str() {
            return Some(format!("kind is {:?}, its name says {kind}", self.kind));
        }
        if self.complete != complete {
            return Some(format!(
                "complete is {}, the file's metadata says {complete}",
                self.complete
            ));
        }
        // The column keeps whole milliseconds, the meta all of the clock's.
        (self.built_at.timestamp_millis() != built_at.timestamp_millis()).then(|| {
            format!(
                "built_at is {}, the file's metadata says {built_at}",
                self.built_at
            )
        })
    }

    /// The row's total cost as versions 1 and 2 define it, from the stored
    /// columns, in the order [`Allocation::total_cost`] adds them (so equal
    /// to the bit). A frozen copy on purpose: if the model's total ever
    /// changes meaning, stored files must still check against the meaning
    /// they were written with (and a new row version is due).
    pub fn summed_total_cost(&self) -> f64 {
        let pv_cost: f64 = self.pvs.iter().map(|pv| pv.cost).sum();
        (self.cpu_cost + self.cpu_cost_adjustment)
            + (self.gpu_cost + self.gpu_cost_adjustment)
            + (self.ram_cost + self.ram_cost_adjustment)
            + (pv_cost + self.pv_cost_adjustment)
            + (self.network_cost + self.network_cost_adjustment)
            + (self.load_balancer_cost + self.load_balancer_cost_adjustment)
            + self.shared_cost
            + self.external_cost
    }
}

impl TryFrom<AllocationRowV2> for Allocation {
    type Error = Error;

    /// The allocation back; derived columns are ignored.
    ///
    /// # Errors
    ///
    /// [`Error::EtlRows`] naming the allocation when its window or running
    /// span is reversed, only one raw maximum is null, or a PV or load
    /// balancer appears twice.
    fn try_from(r: AllocationRowV2) -> Result<Self> {
        let bad = |what: String| Error::EtlRows {
            reason: format!("allocation {:?}: {what}", r.name),
        };
        let window = Window::new(r.window_start, r.window_end)
            .map_err(|e| bad(format!("window_start/window_end: {e}")))?;
        if r.running_end < r.running_start {
            return Err(bad(format!(
                "running_end {} is before running_start {}",
                r.running_end, r.running_start
            )));
        }
        let raw_allocation_only =
            raw_maxima(r.cpu_core_usage_max, r.ram_bytes_usage_max).map_err(bad)?;
        let pvs = pvs(&r.pvs).map_err(bad)?;
        let load_balancers = load_balancers(&r.load_balancers).map_err(bad)?;
        let mut services = r.services;
        // The model keeps services sorted; a hand-made file may not.
        services.sort();

        let mut a = Allocation::new(r.name, window);
        a.properties = AllocationProperties {
            cluster: r.cluster,
            node: r.node,
            container: r.container,
            controller: r.controller,
            controller_kind: r.controller_kind,
            namespace: r.namespace,
            pod: r.pod,
            services,
            provider_id: r.provider_id,
            labels: r.labels,
            annotations: r.annotations,
            namespace_labels: r.namespace_labels,
            namespace_annotations: r.namespace_annotations,
        };
        a.start = r.running_start;
        a.end = r.running_end;
        a.cpu_core_hours = r.cpu_core_hours;
        a.cpu_core_request_average = r.cpu_core_request_average;
        a.cpu_core_usage_average = r.cpu_core_usage_average;
        a.cpu_cost = r.cpu_cost;
        a.cpu_cost_adjustment = r.cpu_cost_adjustment;
        a.cpu_cost_idle = r.cpu_cost_idle;
        a.gpu_hours = r.gpu_hours;
        a.gpu_request_average = r.gpu_request_average;
        a.gpu_usage_average = r.gpu_usage_average;
        a.gpu_cost = r.gpu_cost;
        a.gpu_cost_adjustment = r.gpu_cost_adjustment;
        a.gpu_cost_idle = r.gpu_cost_idle;
        a.network_transfer_bytes = r.network_transfer_bytes;
        a.network_receive_bytes = r.network_receive_bytes;
        a.network_cost = r.network_cost;
        a.network_cross_zone_cost = r.network_cross_zone_cost;
        a.network_cross_region_cost = r.network_cross_region_cost;
        a.network_internet_cost = r.network_internet_cost;
        a.network_cost_adjustment = r.network_cost_adjustment;
        a.load_balancer_cost = r.load_balancer_cost;
        a.load_balancer_cost_adjustment = r.load_balancer_cost_adjustment;
        a.load_balancers = load_balancers;
        a.pvs = pvs;
        a.pv_cost_adjustment = r.pv_cost_adjustment;
        a.ram_byte_hours = r.ram_byte_hours;
        a.ram_bytes_request_average = r.ram_bytes_request_average;
        a.ram_bytes_usage_average = r.ram_bytes_usage_average;
        a.ram_cost = r.ram_cost;
        a.ram_cost_adjustment = r.ram_cost_adjustment;
        a.ram_cost_idle = r.ram_cost_idle;
        a.shared_cost = r.shared_cost;
        a.external_cost = r.external_cost;
        a.raw_allocation_only = raw_allocation_only;
        a.unmounted_pv_cost = r.unmounted_pv_cost;
        a.default_priced = r.default_priced;
        Ok(a)
    }
}

/// The raw per-container usage maxima: both set or both null.
fn raw_maxima(
    cpu_core_usage_max: Option<f64>,
    ram_bytes_usage_max: Option<f64>,
) -> Result<Option<RawAllocationOnly>, String> {
    match (cpu_core_usage_max, ram_bytes_usage_max) {
        (Some(cpu_core_usage_max), Some(ram_bytes_usage_max)) => Ok(Some(RawAllocationOnly {
            cpu_core_usage_max,
            ram_bytes_usage_max,
        })),
        (None, None) => Ok(None),
        _ => Err(
            "cpu_core_usage_max and ram_bytes_usage_max must both be null or both set".to_owned(),
        ),
    }
}

/// The PV breakdown by key; a PV may appear once.
fn pvs(rows: &[PvRowV1]) -> Result<SmallMap<PvKey, PvAllocation>, String> {
    let mut pvs = SmallMap::new();
    for pv in rows {
        let key = PvKey {
            cluster: pv.cluster.clone(),
            name: pv.name.clone(),
        };
        let value = PvAllocation {
            byte_hours: pv.byte_hours,
            cost: pv.cost,
            provider_id: pv.provider_id.clone(),
        };
        if pvs.insert(key, value).is_some() {
            return Err(format!("PV {} appears twice in pvs", pv.name));
        }
    }
    Ok(pvs)
}

/// The load balancer breakdown by key; a key may appear once.
fn load_balancers(rows: &[LbRowV1]) -> Result<SmallMap<ArcStr, LbAllocation>, String> {
    let mut load_balancers = SmallMap::new();
    for lb in rows {
        let value = LbAllocation {
            service: lb.service.clone(),
            cost: lb.cost,
            private: lb.private,
            ip: lb.ip.clone(),
            hours: lb.hours,
        };
        if load_balancers.insert(lb.key.clone(), value).is_some() {
            return Err(format!(
                "load balancer {:?} appears twice in load_balancers",
                lb.key
            ));
        }
    }
    Ok(load_balancers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::test_day;

    fn row(a: &Allocation) -> AllocationRowV2 {
        AllocationRowV2::new(a, true, test_day().end())
    }

    /// An allocation with every stored field set to a distinct value.
    fn full() -> Allocation {
        let w = test_day();
        let mut a = Allocation::new("c/n/ns/pod/ctr", w);
        a.start = w.start() + chrono::TimeDelta::minutes(90);
        a.end = w.end() - chrono::TimeDelta::milliseconds(1500);
        a.properties = AllocationProperties {
            cluster: "c".into(),
            node: "n".into(),
            container: "ctr".into(),
            controller: "d".into(),
            controller_kind: "deployment".into(),
            namespace: "ns".into(),
            pod: "pod".into(),
            services: vec!["a".into(), "b".into()],
            provider_id: "i-1".into(),
            labels: [("app".to_owned(), "x".to_owned())].into(),
            annotations: [("team".to_owned(), "t".to_owned())].into(),
            namespace_labels: [("env".to_owned(), "prod".to_owned())].into(),
            namespace_annotations: [("owner".to_owned(), "o".to_owned())].into(),
        };
        // Distinct values so a swapped pair of fields fails the test.
        let mut v = 0.0;
        let mut next = || {
            v += 1.25;
            v
        };
        a.cpu_core_hours = next();
        a.cpu_core_request_average = next();
        a.cpu_core_usage_average = next();
        a.cpu_cost = next();
        a.cpu_cost_adjustment = next();
        a.cpu_cost_idle = next();
        a.gpu_hours = next();
        a.gpu_request_average = next();
        a.gpu_usage_average = next();
        a.gpu_cost = next();
        a.gpu_cost_adjustment = next();
        a.gpu_cost_idle = next();
        a.network_transfer_bytes = next();
        a.network_receive_bytes = next();
        a.network_cost = next();
        a.network_cross_zone_cost = next();
        a.network_cross_region_cost = next();
        a.network_internet_cost = next();
        a.network_cost_adjustment = next();
        a.load_balancer_cost = next();
        a.load_balancer_cost_adjustment = next();
        a.pv_cost_adjustment = next();
        a.ram_byte_hours = next();
        a.ram_bytes_request_average = next();
        a.ram_bytes_usage_average = next();
        a.ram_cost = next();
        a.ram_cost_adjustment = next();
        a.ram_cost_idle = next();
        a.shared_cost = next();
        a.external_cost = next();
        a.unmounted_pv_cost = next();
        a.raw_allocation_only = Some(RawAllocationOnly {
            cpu_core_usage_max: next(),
            ram_bytes_usage_max: next(),
        });
        a.default_priced = true;
        a.pvs.insert(
            PvKey {
                cluster: "c".into(),
                name: "pv".into(),
            },
            PvAllocation {
                byte_hours: next(),
                cost: next(),
                provider_id: "vol-1".into(),
            },
        );
        a.load_balancers.insert(
            "c/ns/svc".into(),
            LbAllocation {
                service: "ns/svc".into(),
                cost: next(),
                private: true,
                ip: "10.0.0.1".into(),
                hours: next(),
            },
        );
        a
    }

    #[test]
    fn row_round_trip_keeps_every_stored_field() {
        let a = full();
        let row = row(&a);
        assert_eq!(row.total_cost, a.total_cost());
        assert_eq!(row.minutes, a.minutes());
        assert_eq!(row.pv_cost, a.pv_cost());
        assert_eq!(row.cpu_cores, a.cpu_cores());
        let back = Allocation::try_from(row).unwrap();
        assert_eq!(back, a);
    }

    #[test]
    fn kind_and_file_columns_are_checked_and_v1_rows_filled() {
        let built = test_day().end();
        let mut idle = full();
        idle.name = "c/n/__idle__".into();
        let r = AllocationRowV2::new(&idle, false, built);
        assert_eq!(
            (r.kind.as_str(), r.complete, r.built_at),
            ("idle", false, built)
        );
        assert_eq!(r.disagreement(false, built), None);
        assert_eq!(
            r.disagreement(true, built).unwrap(),
            "complete is false, the file's metadata says true"
        );
        assert!(
            r.disagreement(false, built - chrono::TimeDelta::hours(1))
                .is_some()
        );
        let mut wrong = r.clone();
        wrong.kind = "allocation".into();
        assert_eq!(
            wrong.disagreement(false, built).unwrap(),
            "kind is \"allocation\", its name says idle"
        );
        // A v1 row has none of the three columns: filled from name and meta.
        let mut v1 = wrong;
        v1.kind = String::new();
        v1.complete = true;
        v1.fill_v1(false, built);
        assert_eq!(v1, r);
        for (name, kind) in [
            ("c/n/ns/p/ctr", "allocation"),
            ("c/__unmounted__/__unmounted__/__unmounted__", "unmounted"),
            ("__shared__", "shared"),
            ("ns/__external__", "external"),
        ] {
            assert_eq!(AllocationKind::of_name(name).as_str(), kind, "{name}");
        }
    }

    #[test]
    fn summed_total_cost_is_the_models_to_the_bit() {
        let mut a = full();
        // Awkward values, where a different order of addition rounds
        // differently.
        a.cpu_cost = 0.1;
        a.gpu_cost = 0.2;
        a.ram_cost = 1e16;
        a.shared_cost = -1e16;
        a.external_cost = 0.3;
        let row = row(&a);
        assert_eq!(row.summed_total_cost().to_bits(), a.total_cost().to_bits());
        assert_eq!(row.total_cost.to_bits(), a.total_cost().to_bits());
    }

    #[test]
    fn derived_columns_are_ignored_on_read() {
        let a = full();
        let mut row = row(&a);
        row.total_cost = -1.0;
        row.minutes = -1.0;
        row.pv_cost = -1.0;
        row.cpu_cores = -1.0;
        row.ram_bytes = -1.0;
        row.gpu_count = -1.0;
        row.pv_byte_hours = -1.0;
        assert_eq!(Allocation::try_from(row).unwrap(), a);
    }

    #[test]
    fn unsorted_services_are_sorted() {
        let mut row = row(&full());
        row.services = vec!["b".into(), "a".into()];
        let a = Allocation::try_from(row).unwrap();
        assert_eq!(a.properties.services, vec!["a", "b"]);
    }

    #[test]
    fn inconsistent_rows_are_errors_naming_the_allocation() {
        let reason = |row: AllocationRowV2| match Allocation::try_from(row) {
            Err(Error::EtlRows { reason }) => reason,
            other => panic!("expected EtlRows, got {other:?}"),
        };
        let row = row(&full());

        let mut r = row.clone();
        r.window_end = r.window_start - chrono::TimeDelta::hours(1);
        assert!(reason(r).starts_with("allocation \"c/n/ns/pod/ctr\": window_start/window_end"));

        let mut r = row.clone();
        r.running_end = r.running_start - chrono::TimeDelta::seconds(1);
        assert!(reason(r).contains("is before running_start"));

        let mut r = row.clone();
        r.ram_bytes_usage_max = None;
        assert!(reason(r).contains("both be null or both set"));

        let mut r = row.clone();
        r.pvs.push(r.pvs[0].clone());
        assert!(reason(r).contains("PV pv appears twice"));

        let mut r = row.clone();
        r.load_balancers.push(r.load_balancers[0].clone());
        assert!(reason(r).contains("\"c/ns/svc\" appears twice"));

        let mut r = row;
        r.cpu_core_usage_max = None;
        r.ram_bytes_usage_max = None;
        assert_eq!(Allocation::try_from(r).unwrap().raw_allocation_only, None);
    }
}
