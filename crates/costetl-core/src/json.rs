//! OpenCost's allocation API JSON, both ways.
//!
//! This is the boundary format: what OpenCost's `/allocation` endpoint
//! returns, so that tools written against OpenCost (dashboards, scripts,
//! `jq` pipelines) read our output unchanged, and so that we can read
//! OpenCost's output back. It mirrors OpenCost's `AllocationJSON`
//! (`core/pkg/opencost/allocation_json.go`) field for field and in order.
//!
//! The model types ([`Allocation`], [`AllocationSet`], …) are deliberately
//! *not* `Serialize`/`Deserialize`: the wire format has computed fields
//! (`minutes`, `cpuCores`, efficiencies, `totalCost`, …), rounding, and
//! OpenCost's naming quirks, none of which belong in the model. Private DTO
//! structs here own the shape and convert to and from the model, so the model
//! can change without silently changing the API, and vice versa.
//!
//! # Shape
//!
//! - An allocation is an object with OpenCost's field names, in OpenCost's
//!   order (see [`set_to_string`]); computed fields are included on output
//!   and ignored on input.
//! - A set is `{"<name>": allocation, …}` in name order; a response is
//!   `{"code":200,"status":"success","data":[set, …]}`.
//! - Every number is rounded to 5 decimals, halves away from zero (OpenCost's
//!   `formatFloat64ForResponse`), except that from 2^36 (≈ 6.9e10) on 15
//!   significant digits are kept (see `round5` for why); integral values
//!   are written as JSON integers as Go does (`12`, not `12.0`); -0 is
//!   written as 0; NaN and ±∞ are written as `null` and read back as NaN.
//!   Rounding is idempotent and every number written reads back exactly
//!   (even with serde_json's default float parser), so write → read →
//!   write is stable.
//! - Times are RFC 3339 in UTC with `Z`, to the second (Go's
//!   `time.RFC3339`). Sub-second precision is lost on a round trip.
//! - Empty `pvs`, `lbAllocations`, `proportionalAssetResourceCosts` and
//!   `sharedCostBreakdown` are `null`, as OpenCost writes nil maps.
//!
//! # What does not survive a round trip
//!
//! - [`Allocation::unmounted_pv_cost`]: OpenCost does not serialise it
//!   either; it reads back as 0.
//! - Precision beyond 5 decimals (15 significant digits from 2^36 on) and
//!   below one second.
//! - A set's `warnings`, `errors` and `metadata` (the wire format is the
//!   bare name → allocation map). A response carries its sets' distinct
//!   warnings in the envelope (`warning`, OpenCost's one string, and
//!   `warnings`, typed), which reading ignores.
//!
//! # Deliberate differences from OpenCost
//!
//! - GPU request/usage averages are written flat as `gpuRequestAverage` and
//!   `gpuUsageAverage` right after `gpuCount`, as OpenCost did before it
//!   moved them into a nested `gpuAllocation` object that we have no data
//!   for. Likewise `cpuCoreLimitAverage`/`ramByteLimitAverage` and
//!   `gpuAllocation` are not written: the model has no limits or device data,
//!   and writing zeros would claim there were none.
//! - Proportional asset resource costs carry their underlying costs
//!   (`cpuProportionalCost`, `cpuTotalCost`, …) after OpenCost's percentage
//!   fields. OpenCost hides them (`json:"-"`), which makes its PARCs
//!   impossible to read back; percentages alone cannot rebuild them. A PARC
//!   read from OpenCost's own output therefore has zero costs.
//! - Floats nested in PVs, load balancers, `rawAllocationOnly`, PARCs and the
//!   shared-cost breakdown are rounded like every other number; OpenCost
//!   writes those unrounded. From 2^36 on, 15 significant digits are kept
//!   where OpenCost writes up to 17, and halves are decided on the exact
//!   value rather than on OpenCost's inexact `x*1e5` (a one-unit difference
//!   in the fifth decimal, rarely).

use std::collections::BTreeMap;
use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::allocation::{
    Allocation, LbAllocation, ProportionalAssetResourceCost, PvAllocation, PvKey,
    RawAllocationOnly, SharedCostBreakdown,
};
use crate::error::{Error, Result};
use crate::properties::{AllocationProperties, ArcStr};
use crate::set::AllocationSet;
use crate::warning::Warning;
use crate::window::Window;

// ---------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------

/// One allocation as OpenCost's `AllocationJSON`, with computed fields.
///
/// The returned [`Value`]'s object keys are sorted (serde_json is built
/// without `preserve_order`); use [`set_to_string`] or
/// [`response_to_string`] when OpenCost's field order matters.
pub fn allocation_to_value(a: &Allocation) -> Value {
    to_value(&AllocationJson::from_model(a))
}

/// A set as OpenCost writes it: `{"<name>": allocation, …}`, in name order.
pub fn set_to_value(set: &AllocationSet) -> Value {
    to_value(&set_dto(set))
}

/// OpenCost's `/allocation` response envelope around `sets` (one per step):
/// `{"code":200,"status":"success","data":[set, …]}`.
pub fn response_to_value(sets: &[AllocationSet]) -> Value {
    to_value(&response_dto(sets))
}

/// A set serialised directly, with every allocation's fields in OpenCost's
/// order (`name`, `properties`, `window`, `start`, `end`, `minutes`, …).
/// Compact, like OpenCost's HTTP responses.
pub fn set_to_string(set: &AllocationSet) -> String {
    to_string(&set_dto(set))
}

/// [`response_to_value`] serialised directly, keeping OpenCost's envelope
/// and field order. Compact, like OpenCost's HTTP responses.
pub fn response_to_string(sets: &[AllocationSet]) -> String {
    to_string(&response_dto(sets))
}

/// Pretty-print a value (two-space indent), e.g. for files meant to be read
/// by people.
pub fn to_string_pretty(v: &Value) -> String {
    serde_json::to_string_pretty(v)
        .expect("a serde_json::Value always serialises: keys are strings")
}

/// Read one allocation written by [`allocation_to_value`] or by OpenCost.
///
/// Computed fields (`minutes`, `cpuCores`, efficiencies, `pvCost`,
/// `totalCost`, PARC percentages, …) are ignored: the model derives them.
/// Missing fields default to 0 or empty, `null` numbers read as NaN, and
/// unknown fields are ignored (newer OpenCost versions add some). A missing
/// `window` defaults to `[start, end)`, a missing `start`/`end` to the
/// window's bounds.
///
/// # Errors
///
/// [`Error::Json`] naming the allocation and the field if the value is not an
/// object, a field has the wrong type, a time or window does not parse (or
/// ends before it starts, or is open), or a `pvs` key is not
/// `cluster=<c>:name=<n>`.
pub fn allocation_from_value(v: &Value) -> Result<Allocation> {
    alloc_from_value(v, None)
}

/// Read a set written by [`set_to_value`] / [`set_to_string`] or by OpenCost.
///
/// The set's window is `window` if given, otherwise the union of the
/// allocations' `window` fields (OpenCost does not write a set's window).
///
/// # Errors
///
/// [`Error::Json`] if `v` is not an object, an allocation does not read (see
/// [`allocation_from_value`]), an allocation's `name` differs from its key,
/// or `window` is `None` and the set is empty so no window can be inferred.
pub fn set_from_value(v: &Value, window: Option<Window>) -> Result<AllocationSet> {
    let obj = v.as_object().ok_or_else(|| {
        json_err(format!(
            "allocation set: expected an object of name -> allocation, found {}",
            kind(v)
        ))
    })?;
    let mut allocs = Vec::with_capacity(obj.len());
    for (key, av) in obj {
        let a = alloc_from_value(av, Some(key))?;
        // The set is keyed by name; silently preferring one of two
        // disagreeing names would rename an allocation behind the reader's
        // back.
        if a.name != *key {
            return Err(json_err(format!(
                "allocation set: entry {key:?} holds an allocation named {:?}; \
                 the key and the name must agree",
                a.name
            )));
        }
        allocs.push(a);
    }
    let window = match window {
        Some(w) => w,
        None => allocs
            .iter()
            .map(|a| a.window)
            .reduce(|acc, w| acc.expand(&w))
            .ok_or_else(|| {
                json_err(
                    "allocation set is empty, so its window cannot be inferred from its \
                     allocations; pass the window explicitly",
                )
            })?,
    };
    let mut set = AllocationSet::new(window);
    for a in allocs {
        set.insert(a);
    }
    Ok(set)
}

/// Read an OpenCost `/allocation` response (or [`response_to_value`]'s
/// output): one set per element of `data`, each with its window inferred
/// from its allocations. `"data": null` reads as no sets.
///
/// # Errors
///
/// [`Error::Json`] if `v` is not an object, `code` is missing or not an
/// integer, `code` is not 200 (the error carries the response's `message`),
/// `data` is missing or not an array, or a set does not read (see
/// [`set_from_value`]; the error names `data[<i>]`). An empty set cannot be
/// read, because its window cannot be inferred.
pub fn response_from_value(v: &Value) -> Result<Vec<AllocationSet>> {
    let obj = v.as_object().ok_or_else(|| {
        json_err(format!(
            "response: expected an object with \"code\" and \"data\", found {}",
            kind(v)
        ))
    })?;
    let code = match obj.get("code") {
        None => return Err(json_err("response: missing \"code\"")),
        Some(c) => c.as_i64().ok_or_else(|| {
            json_err(format!(
                "response: \"code\" must be an integer, found {}",
                kind(c)
            ))
        })?,
    };
    if code != 200 {
        let message = obj
            .get("message")
            .and_then(Value::as_str)
            .filter(|m| !m.is_empty())
            .unwrap_or("(no message)");
        return Err(json_err(format!(
            "response: OpenCost returned code {code}: {message}"
        )));
    }
    let data = match obj.get("data") {
        None => return Err(json_err("response: missing \"data\"")),
        // Go writes a nil slice of sets as null.
        Some(Value::Null) => return Ok(Vec::new()),
        Some(Value::Array(sets)) => sets,
        Some(other) => {
            return Err(json_err(format!(
                "response: \"data\" must be an array of allocation sets, found {}",
                kind(other)
            )));
        }
    };
    data.iter()
        .enumerate()
        .map(|(i, s)| set_from_value(s, None).map_err(within(format_args!("response data[{i}]"))))
        .collect()
}

// ---------------------------------------------------------------------------
// Numbers
// ---------------------------------------------------------------------------

/// 2^53: below this every integer is an exact f64, so writing it as a JSON
/// integer loses nothing (and is what Go's encoder prints for such values).
const EXACT_INT: f64 = 9_007_199_254_740_992.0;

/// 2^36: from here on an f64's spacing exceeds 1e-5, so it has no fifth
/// decimal to round, and 5 decimals would need more than the 16 digits
/// serde_json's default parser reads exactly.
const COARSER_THAN_GRID: f64 = 68_719_476_736.0;

/// OpenCost's `formatFloat64ForResponse` rounding (5 decimals, despite its
/// comment saying 6; halves away from zero), but decided on the exact value
/// and idempotent: `round5(round5(x)) == round5(x)`, which a round trip
/// needs. OpenCost's `math.Round(x*1e5)/1e5` is not: the product's error
/// moves large values by one unit in the fifth decimal on every pass
/// (34419911982.636986 → …63699 → …637). Results differ from OpenCost's only
/// where its product lands on the wrong side of a half.
///
/// From 2^36 on, 15 significant digits are kept instead. serde_json (without
/// its `float_roundtrip` feature) parses a number exactly only when its
/// digits fit in 2^53; OpenCost's 17-digit output there (e.g.
/// `196852667733.33334`) can read back one ulp off and drift on every round
/// trip. Below 2^36 a 5-decimal number has at most 16 digits under 2^53.
fn round5(x: f64) -> f64 {
    if !x.is_finite() {
        return x;
    }
    if x.abs() >= COARSER_THAN_GRID {
        return format!("{x:.14e}")
            .parse()
            .expect("Rust parses the numbers it formats");
    }
    // |p| < 2^53, so it errs by at most half an ulp <= |p|·ε/2. Unless that
    // could move it across a .5, `p.round()` is the correctly rounded result,
    // and dividing it (one correctly rounded division) gives the f64 nearest
    // to that 5-decimal number.
    let p = x * 100_000.0;
    if ((p - p.trunc()).abs() - 0.5).abs() > p.abs() * f64::EPSILON {
        return p.round() / 100_000.0;
    }
    // Near a half: let the exact decimal expansion decide. `{:.5}` breaks
    // exact ties (x = odd/64, the only f64s with a 5 in the sixth decimal
    // and nothing after) to even; Go's math.Round goes away from zero, so
    // nudge those off the tie first.
    let y = x * 64.0; // exact
    let x = if y.fract() == 0.0 && y % 2.0 != 0.0 {
        if x > 0.0 { x.next_up() } else { x.next_down() }
    } else {
        x
    };
    format!("{x:.5}")
        .parse()
        .expect("Rust parses the numbers it formats")
}

/// A float on the wire. Writes rounded, integral values as integers and
/// non-finite values as `null`; reads `null` as NaN so that a value written
/// as `null` is written as `null` again. A missing field is 0 (`Default`).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
struct Num(f64);

impl Num {
    /// For OpenCost's `omitempty` floats: omitted when they would print 0.
    fn is_zero(&self) -> bool {
        round5(self.0) == 0.0
    }
}

impl Serialize for Num {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let x = round5(self.0);
        if !x.is_finite() {
            s.serialize_none()
        } else if x.fract() == 0.0 && x.abs() < EXACT_INT {
            // Also turns -0 into 0, which Go would print as "-0".
            s.serialize_i64(x as i64)
        } else {
            s.serialize_f64(x)
        }
    }
}

impl<'de> Deserialize<'de> for Num {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Num(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN)))
    }
}

// ---------------------------------------------------------------------------
// DTOs: OpenCost's shapes. Field order is output order.
// ---------------------------------------------------------------------------

/// OpenCost's `AllocationJSON`. One type for both directions: the computed
/// fields are filled on output and ignored on input.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct AllocationJson {
    name: String,
    properties: Option<PropertiesJson>,
    window: Option<WindowJson>,
    start: String,
    end: String,
    minutes: Num,
    cpu_cores: Num,
    cpu_core_request_average: Num,
    cpu_core_usage_average: Num,
    cpu_core_hours: Num,
    cpu_cost: Num,
    cpu_cost_adjustment: Num,
    cpu_cost_idle: Num,
    cpu_efficiency: Num,
    gpu_count: Num,
    gpu_request_average: Num,
    gpu_usage_average: Num,
    gpu_hours: Num,
    gpu_cost: Num,
    gpu_cost_adjustment: Num,
    gpu_cost_idle: Num,
    gpu_efficiency: Num,
    network_transfer_bytes: Num,
    network_receive_bytes: Num,
    network_cost: Num,
    network_cross_zone_cost: Num,
    network_cross_region_cost: Num,
    network_internet_cost: Num,
    network_cost_adjustment: Num,
    load_balancer_cost: Num,
    load_balancer_cost_adjustment: Num,
    pv_bytes: Num,
    pv_byte_hours: Num,
    pv_cost: Num,
    pvs: Option<BTreeMap<String, PvJson>>,
    pv_cost_adjustment: Num,
    ram_bytes: Num,
    ram_byte_request_average: Num,
    ram_byte_usage_average: Num,
    ram_byte_hours: Num,
    ram_cost: Num,
    ram_cost_adjustment: Num,
    ram_cost_idle: Num,
    ram_efficiency: Num,
    external_cost: Num,
    shared_cost: Num,
    total_cost: Num,
    total_efficiency: Num,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_allocation_only: Option<RawJson>,
    proportional_asset_resource_costs: Option<BTreeMap<String, ParcJson>>,
    lb_allocations: Option<BTreeMap<ArcStr, LbJson>>,
    shared_cost_breakdown: Option<BTreeMap<String, BreakdownJson>>,
    /// costetl's marker for default-priced cost; absent (as OpenCost
    /// readers expect) unless true.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    default_priced: bool,
}

/// OpenCost's `AllocationProperties`: every field `omitempty`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PropertiesJson {
    #[serde(skip_serializing_if = "str::is_empty")]
    cluster: ArcStr,
    #[serde(skip_serializing_if = "str::is_empty")]
    node: ArcStr,
    #[serde(skip_serializing_if = "str::is_empty")]
    container: ArcStr,
    #[serde(skip_serializing_if = "str::is_empty")]
    controller: ArcStr,
    #[serde(skip_serializing_if = "str::is_empty")]
    controller_kind: ArcStr,
    #[serde(skip_serializing_if = "str::is_empty")]
    namespace: ArcStr,
    #[serde(skip_serializing_if = "str::is_empty")]
    pod: ArcStr,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    services: Vec<ArcStr>,
    #[serde(rename = "providerID", skip_serializing_if = "str::is_empty")]
    provider_id: ArcStr,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    annotations: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    namespace_labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    namespace_annotations: BTreeMap<String, String>,
}

/// OpenCost's `Window` JSON: RFC 3339 strings, `"null"` for an open side.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct WindowJson {
    start: String,
    end: String,
}

/// OpenCost's `PVAllocation`. `adjustment` is always written as 0 (OpenCost
/// writes its never-set per-PV adjustment) and ignored on input.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct PvJson {
    byte_hours: Num,
    cost: Num,
    #[serde(rename = "providerID")]
    provider_id: String,
    adjustment: Num,
}

/// OpenCost's `LbAllocation`; `adjustment` as for [`PvJson`].
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(default)]
struct LbJson {
    service: ArcStr,
    cost: Num,
    private: bool,
    ip: ArcStr,
    hours: Num,
    adjustment: Num,
}

/// OpenCost's `RawAllocationOnlyData` (note `ramByteUsageMax`, singular).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct RawJson {
    cpu_core_usage_max: Num,
    ram_byte_usage_max: Num,
}

/// OpenCost's `ProportionalAssetResourceCost`: its visible fields first, then
/// the costs it hides, which we need to read a PARC back (module docs).
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ParcJson {
    cluster: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(rename = "type", skip_serializing_if = "String::is_empty")]
    asset_type: String,
    #[serde(rename = "providerID", skip_serializing_if = "String::is_empty")]
    provider_id: String,
    cpu_percentage: Num,
    gpu_percentage: Num,
    ram_percentage: Num,
    load_balancer_percentage: Num,
    pv_percentage: Num,
    node_resource_cost_percentage: Num,
    cpu_proportional_cost: Num,
    cpu_total_cost: Num,
    gpu_proportional_cost: Num,
    gpu_total_cost: Num,
    ram_proportional_cost: Num,
    ram_total_cost: Num,
    pv_proportional_cost: Num,
    pv_total_cost: Num,
    load_balancer_proportional_cost: Num,
    load_balancer_total_cost: Num,
}

/// OpenCost's `SharedCostBreakdown`: the per-resource parts are `omitempty`.
#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct BreakdownJson {
    name: String,
    total_cost: Num,
    #[serde(skip_serializing_if = "Num::is_zero")]
    cpu_cost: Num,
    #[serde(skip_serializing_if = "Num::is_zero")]
    gpu_cost: Num,
    #[serde(skip_serializing_if = "Num::is_zero")]
    ram_cost: Num,
    #[serde(skip_serializing_if = "Num::is_zero")]
    pv_cost: Num,
    #[serde(skip_serializing_if = "Num::is_zero")]
    network_cost: Num,
    #[serde(skip_serializing_if = "Num::is_zero")]
    load_balancer_cost: Num,
    #[serde(skip_serializing_if = "Num::is_zero")]
    external_cost: Num,
}

/// OpenCost's HTTP envelope (`message` and `warning` are `omitempty`).
/// `warning` is OpenCost's one string, for its clients; `warnings` (ours)
/// the same, typed.
#[derive(Serialize)]
struct ResponseJson {
    code: u16,
    status: &'static str,
    data: Vec<BTreeMap<String, AllocationJson>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    warning: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    warnings: Vec<Warning>,
}

// ---------------------------------------------------------------------------
// Model -> DTO
// ---------------------------------------------------------------------------

fn rfc3339(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `None` for an empty map: OpenCost's nil maps are written as `null`.
fn non_empty<K: Ord, V>(m: BTreeMap<K, V>) -> Option<BTreeMap<K, V>> {
    (!m.is_empty()).then_some(m)
}

impl AllocationJson {
    fn from_model(a: &Allocation) -> Self {
        Self {
            name: a.name.clone(),
            properties: Some(PropertiesJson::from_model(&a.properties)),
            window: Some(WindowJson {
                start: rfc3339(a.window.start()),
                end: rfc3339(a.window.end()),
            }),
            start: rfc3339(a.start),
            end: rfc3339(a.end),
            minutes: Num(a.minutes()),
            cpu_cores: Num(a.cpu_cores()),
            cpu_core_request_average: Num(a.cpu_core_request_average),
            cpu_core_usage_average: Num(a.cpu_core_usage_average),
            cpu_core_hours: Num(a.cpu_core_hours),
            cpu_cost: Num(a.cpu_cost),
            cpu_cost_adjustment: Num(a.cpu_cost_adjustment),
            cpu_cost_idle: Num(a.cpu_cost_idle),
            cpu_efficiency: Num(a.cpu_efficiency()),
            gpu_count: Num(a.gpu_count()),
            gpu_request_average: Num(a.gpu_request_average),
            gpu_usage_average: Num(a.gpu_usage_average),
            gpu_hours: Num(a.gpu_hours),
            gpu_cost: Num(a.gpu_cost),
            gpu_cost_adjustment: Num(a.gpu_cost_adjustment),
            gpu_cost_idle: Num(a.gpu_cost_idle),
            gpu_efficiency: Num(a.gpu_efficiency()),
            network_transfer_bytes: Num(a.network_transfer_bytes),
            network_receive_bytes: Num(a.network_receive_bytes),
            network_cost: Num(a.network_cost),
            network_cross_zone_cost: Num(a.network_cross_zone_cost),
            network_cross_region_cost: Num(a.network_cross_region_cost),
            network_internet_cost: Num(a.network_internet_cost),
            network_cost_adjustment: Num(a.network_cost_adjustment),
            load_balancer_cost: Num(a.load_balancer_cost),
            load_balancer_cost_adjustment: Num(a.load_balancer_cost_adjustment),
            pv_bytes: Num(a.pv_bytes()),
            pv_byte_hours: Num(a.pv_byte_hours()),
            pv_cost: Num(a.pv_cost()),
            pvs: non_empty(
                a.pvs
                    .iter()
                    .map(|(k, pv)| (k.to_string(), PvJson::from_model(pv)))
                    .collect(),
            ),
            pv_cost_adjustment: Num(a.pv_cost_adjustment),
            ram_bytes: Num(a.ram_bytes()),
            ram_byte_request_average: Num(a.ram_bytes_request_average),
            ram_byte_usage_average: Num(a.ram_bytes_usage_average),
            ram_byte_hours: Num(a.ram_byte_hours),
            ram_cost: Num(a.ram_cost),
            ram_cost_adjustment: Num(a.ram_cost_adjustment),
            ram_cost_idle: Num(a.ram_cost_idle),
            ram_efficiency: Num(a.ram_efficiency()),
            external_cost: Num(a.external_cost),
            shared_cost: Num(a.shared_cost),
            total_cost: Num(a.total_cost()),
            total_efficiency: Num(a.total_efficiency()),
            raw_allocation_only: a.raw_allocation_only.map(|r| RawJson {
                cpu_core_usage_max: Num(r.cpu_core_usage_max),
                ram_byte_usage_max: Num(r.ram_bytes_usage_max),
            }),
            proportional_asset_resource_costs: non_empty(
                a.proportional_asset_resource_costs
                    .iter()
                    .map(|(k, p)| (k.clone(), ParcJson::from_model(p)))
                    .collect(),
            ),
            lb_allocations: non_empty(
                a.load_balancers
                    .iter()
                    .map(|(k, lb)| (k.clone(), LbJson::from_model(lb)))
                    .collect(),
            ),
            shared_cost_breakdown: non_empty(
                a.shared_cost_breakdown
                    .iter()
                    .map(|(k, b)| (k.clone(), BreakdownJson::from_model(b)))
                    .collect(),
            ),
            default_priced: a.default_priced,
        }
    }
}

impl PropertiesJson {
    fn from_model(p: &AllocationProperties) -> Self {
        Self {
            cluster: p.cluster.clone(),
            node: p.node.clone(),
            container: p.container.clone(),
            controller: p.controller.clone(),
            controller_kind: p.controller_kind.clone(),
            namespace: p.namespace.clone(),
            pod: p.pod.clone(),
            services: p.services.clone(),
            provider_id: p.provider_id.clone(),
            labels: (*p.labels).clone(),
            annotations: (*p.annotations).clone(),
            namespace_labels: (*p.namespace_labels).clone(),
            namespace_annotations: (*p.namespace_annotations).clone(),
        }
    }
}

impl PvJson {
    fn from_model(pv: &PvAllocation) -> Self {
        Self {
            byte_hours: Num(pv.byte_hours),
            cost: Num(pv.cost),
            provider_id: pv.provider_id.clone(),
            adjustment: Num(0.0),
        }
    }
}

impl LbJson {
    fn from_model(lb: &LbAllocation) -> Self {
        Self {
            service: lb.service.clone(),
            cost: Num(lb.cost),
            private: lb.private,
            ip: lb.ip.clone(),
            hours: Num(lb.hours),
            adjustment: Num(0.0),
        }
    }
}

impl BreakdownJson {
    fn from_model(b: &SharedCostBreakdown) -> Self {
        Self {
            name: b.name.clone(),
            total_cost: Num(b.total_cost),
            cpu_cost: Num(b.cpu_cost),
            gpu_cost: Num(b.gpu_cost),
            ram_cost: Num(b.ram_cost),
            pv_cost: Num(b.pv_cost),
            network_cost: Num(b.network_cost),
            load_balancer_cost: Num(b.lb_cost),
            external_cost: Num(b.external_cost),
        }
    }
}

impl ParcJson {
    fn from_model(p: &ProportionalAssetResourceCost) -> Self {
        let pct = ProportionalAssetResourceCost::percentage;
        Self {
            cluster: p.cluster.clone(),
            name: p.name.clone(),
            asset_type: p.asset_type.clone(),
            provider_id: p.provider_id.clone(),
            cpu_percentage: Num(pct(p.cpu_proportional_cost, p.cpu_total_cost)),
            gpu_percentage: Num(pct(p.gpu_proportional_cost, p.gpu_total_cost)),
            ram_percentage: Num(pct(p.ram_proportional_cost, p.ram_total_cost)),
            load_balancer_percentage: Num(pct(
                p.load_balancer_proportional_cost,
                p.load_balancer_total_cost,
            )),
            pv_percentage: Num(pct(p.pv_proportional_cost, p.pv_total_cost)),
            node_resource_cost_percentage: Num(p.node_resource_cost_percentage()),
            cpu_proportional_cost: Num(p.cpu_proportional_cost),
            cpu_total_cost: Num(p.cpu_total_cost),
            gpu_proportional_cost: Num(p.gpu_proportional_cost),
            gpu_total_cost: Num(p.gpu_total_cost),
            ram_proportional_cost: Num(p.ram_proportional_cost),
            ram_total_cost: Num(p.ram_total_cost),
            pv_proportional_cost: Num(p.pv_proportional_cost),
            pv_total_cost: Num(p.pv_total_cost),
            load_balancer_proportional_cost: Num(p.load_balancer_proportional_cost),
            load_balancer_total_cost: Num(p.load_balancer_total_cost),
        }
    }
}

fn set_dto(set: &AllocationSet) -> BTreeMap<String, AllocationJson> {
    set.iter()
        .map(|a| (a.name.clone(), AllocationJson::from_model(a)))
        .collect()
}

fn response_dto(sets: &[AllocationSet]) -> ResponseJson {
    // Each distinct warning once, in the order first seen.
    let mut seen = std::collections::HashSet::new();
    let warnings: Vec<Warning> = (sets.iter().flat_map(|s| &s.warnings))
        .filter(|w| seen.insert(*w))
        .cloned()
        .collect();
    let texts: Vec<&str> = warnings.iter().map(|w| w.message.as_str()).collect();
    ResponseJson {
        code: 200,
        status: "success",
        data: sets.iter().map(set_dto).collect(),
        warning: (!texts.is_empty()).then(|| texts.join("; ")),
        warnings,
    }
}

fn to_value<T: Serialize>(dto: &T) -> Value {
    serde_json::to_value(dto)
        .expect("the JSON DTOs always serialise: string keys, infallible fields")
}

fn to_string<T: Serialize>(dto: &T) -> String {
    serde_json::to_string(dto)
        .expect("the JSON DTOs always serialise: string keys, infallible fields")
}

// ---------------------------------------------------------------------------
// DTO -> model
// ---------------------------------------------------------------------------

fn json_err(reason: impl Into<String>) -> Error {
    Error::Json {
        reason: reason.into(),
    }
}

/// Prefix a JSON error's reason with where it happened.
fn within(ctx: impl fmt::Display) -> impl FnOnce(Error) -> Error {
    move |e| match e {
        Error::Json { reason } => json_err(format!("{ctx}: {reason}")),
        other => other,
    }
}

/// "a string", "an array", … for error messages.
fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `key` is the allocation's key in its set, used when the allocation has no
/// `name` of its own and to name it in errors.
fn alloc_from_value(v: &Value, key: Option<&str>) -> Result<Allocation> {
    let label = v
        .get("name")
        .and_then(Value::as_str)
        .filter(|n| !n.is_empty())
        .or(key)
        .unwrap_or_default()
        .to_owned();
    let Some(obj) = v.as_object() else {
        return Err(json_err(format!(
            "allocation {label:?}: expected an object, found {}",
            kind(v)
        )));
    };
    let dto = AllocationJson::deserialize(v).map_err(|e| {
        // serde's messages say what was wrong but not where; find the
        // top-level field by reading each on its own (every field defaults,
        // so only the bad one fails). Only runs on the error path.
        let field = obj.iter().find_map(|(k, fv)| {
            let one = Value::Object([(k.clone(), fv.clone())].into_iter().collect());
            AllocationJson::deserialize(&one)
                .is_err()
                .then_some(k.as_str())
        });
        match field {
            Some(f) => json_err(format!("allocation {label:?}: field {f:?}: {e}")),
            None => json_err(format!("allocation {label:?}: {e}")),
        }
    })?;
    dto.into_model(key)
        .map_err(within(format_args!("allocation {label:?}")))
}

fn parse_time(s: &str, field: &str) -> Result<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| {
            json_err(format!(
                "field {field:?}: {s:?} is not an RFC 3339 time: {e}"
            ))
        })
}

fn parse_window(w: &WindowJson) -> Result<Window> {
    let side = |s: &str, name: &str| {
        if s == "null" {
            // OpenCost writes an open side as the string "null"; a window
            // here is always closed.
            Err(json_err(format!(
                "field \"window\": open windows ({name} \"null\") are not supported"
            )))
        } else {
            parse_time(s, &format!("window.{name}"))
        }
    };
    let (start, end) = (side(&w.start, "start")?, side(&w.end, "end")?);
    Window::new(start, end).map_err(|e| json_err(format!("field \"window\": {e}")))
}

/// Parse `cluster=<c>:name=<n>`. Splits at the *last* `:name=` because PV
/// names cannot contain `:` but cluster ids can (EKS ARNs); OpenCost splits
/// at every `:` and so cannot read those back.
fn parse_pv_key(key: &str) -> Result<PvKey> {
    key.strip_prefix("cluster=")
        .and_then(|rest| rest.rsplit_once(":name="))
        .map(|(cluster, name)| PvKey {
            cluster: cluster.to_owned(),
            name: name.to_owned(),
        })
        .ok_or_else(|| {
            json_err(format!(
                "field \"pvs\": key {key:?} is not of the form \"cluster=<cluster>:name=<pv name>\""
            ))
        })
}

impl AllocationJson {
    fn into_model(self, key: Option<&str>) -> Result<Allocation> {
        let (window, start, end) = self.span()?;
        let name = match (self.name.is_empty(), key) {
            (true, Some(k)) => k.to_owned(),
            _ => self.name,
        };
        let mut a = Allocation::new(name, window);
        a.start = start;
        a.end = end;
        if let Some(p) = self.properties {
            a.properties = p.into_model();
        }

        a.cpu_core_hours = self.cpu_core_hours.0;
        a.cpu_core_request_average = self.cpu_core_request_average.0;
        a.cpu_core_usage_average = self.cpu_core_usage_average.0;
        a.cpu_cost = self.cpu_cost.0;
        a.cpu_cost_adjustment = self.cpu_cost_adjustment.0;
        a.cpu_cost_idle = self.cpu_cost_idle.0;
        a.gpu_hours = self.gpu_hours.0;
        a.gpu_request_average = self.gpu_request_average.0;
        a.gpu_usage_average = self.gpu_usage_average.0;
        a.gpu_cost = self.gpu_cost.0;
        a.gpu_cost_adjustment = self.gpu_cost_adjustment.0;
        a.gpu_cost_idle = self.gpu_cost_idle.0;
        a.network_transfer_bytes = self.network_transfer_bytes.0;
        a.network_receive_bytes = self.network_receive_bytes.0;
        a.network_cost = self.network_cost.0;
        a.network_cross_zone_cost = self.network_cross_zone_cost.0;
        a.network_cross_region_cost = self.network_cross_region_cost.0;
        a.network_internet_cost = self.network_internet_cost.0;
        a.network_cost_adjustment = self.network_cost_adjustment.0;
        a.load_balancer_cost = self.load_balancer_cost.0;
        a.load_balancer_cost_adjustment = self.load_balancer_cost_adjustment.0;
        a.pv_cost_adjustment = self.pv_cost_adjustment.0;
        a.ram_byte_hours = self.ram_byte_hours.0;
        a.ram_bytes_request_average = self.ram_byte_request_average.0;
        a.ram_bytes_usage_average = self.ram_byte_usage_average.0;
        a.ram_cost = self.ram_cost.0;
        a.ram_cost_adjustment = self.ram_cost_adjustment.0;
        a.ram_cost_idle = self.ram_cost_idle.0;
        a.shared_cost = self.shared_cost.0;
        a.external_cost = self.external_cost.0;

        for (k, pv) in self.pvs.unwrap_or_default() {
            a.pvs.insert(parse_pv_key(&k)?, pv.into_model());
        }
        a.load_balancers = values_into(self.lb_allocations, LbJson::into_model);
        a.default_priced = self.default_priced;
        a.raw_allocation_only = self.raw_allocation_only.map(|r| RawAllocationOnly {
            cpu_core_usage_max: r.cpu_core_usage_max.0,
            ram_bytes_usage_max: r.ram_byte_usage_max.0,
        });
        a.proportional_asset_resource_costs =
            values_into(self.proportional_asset_resource_costs, ParcJson::into_model);
        a.shared_cost_breakdown =
            values_into(self.shared_cost_breakdown, BreakdownJson::into_model);
        Ok(a)
    }

    /// The window, start and end: a missing `start` or `end` is the
    /// window's, a missing window is `[start, end)`.
    fn span(&self) -> Result<(Window, DateTime<Utc>, DateTime<Utc>)> {
        let window = self.window.as_ref().map(parse_window).transpose()?;
        let time = |s: &str, field: &str, from_window: Option<DateTime<Utc>>| {
            if s.is_empty() {
                from_window
                    .ok_or_else(|| json_err(format!("missing field {field:?} (and no \"window\")")))
            } else {
                parse_time(s, field)
            }
        };
        let start = time(&self.start, "start", window.map(|w| w.start()))?;
        let end = time(&self.end, "end", window.map(|w| w.end()))?;
        if end < start {
            return Err(json_err(format!(
                "field \"end\": {} is before \"start\" {}",
                rfc3339(end),
                rfc3339(start)
            )));
        }
        let window = match window {
            Some(w) => w,
            None => Window::new(start, end).map_err(|e| json_err(e.to_string()))?,
        };
        Ok((window, start, end))
    }
}

/// A nullable map (OpenCost's nil maps are `null`) with its values
/// converted.
fn values_into<K: Ord, T, U, M: FromIterator<(K, U)>>(
    m: Option<BTreeMap<K, T>>,
    f: impl Fn(T) -> U,
) -> M {
    m.unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (k, f(v)))
        .collect()
}

impl PropertiesJson {
    fn into_model(self) -> AllocationProperties {
        let mut services = self.services;
        // The model keeps services sorted; OpenCost does not promise to.
        services.sort();
        AllocationProperties {
            cluster: self.cluster,
            node: self.node,
            container: self.container,
            controller: self.controller,
            controller_kind: self.controller_kind,
            namespace: self.namespace,
            pod: self.pod,
            services,
            provider_id: self.provider_id,
            labels: self.labels.into(),
            annotations: self.annotations.into(),
            namespace_labels: self.namespace_labels.into(),
            namespace_annotations: self.namespace_annotations.into(),
        }
    }
}

impl PvJson {
    fn into_model(self) -> PvAllocation {
        PvAllocation {
            byte_hours: self.byte_hours.0,
            cost: self.cost.0,
            provider_id: self.provider_id,
        }
    }
}

impl LbJson {
    fn into_model(self) -> LbAllocation {
        LbAllocation {
            service: self.service,
            cost: self.cost.0,
            private: self.private,
            ip: self.ip,
            hours: self.hours.0,
        }
    }
}

impl ParcJson {
    fn into_model(self) -> ProportionalAssetResourceCost {
        ProportionalAssetResourceCost {
            cluster: self.cluster,
            name: self.name,
            asset_type: self.asset_type,
            provider_id: self.provider_id,
            cpu_proportional_cost: self.cpu_proportional_cost.0,
            cpu_total_cost: self.cpu_total_cost.0,
            gpu_proportional_cost: self.gpu_proportional_cost.0,
            gpu_total_cost: self.gpu_total_cost.0,
            ram_proportional_cost: self.ram_proportional_cost.0,
            ram_total_cost: self.ram_total_cost.0,
            pv_proportional_cost: self.pv_proportional_cost.0,
            pv_total_cost: self.pv_total_cost.0,
            load_balancer_proportional_cost: self.load_balancer_proportional_cost.0,
            load_balancer_total_cost: self.load_balancer_total_cost.0,
        }
    }
}

impl BreakdownJson {
    fn into_model(self) -> SharedCostBreakdown {
        SharedCostBreakdown {
            name: self.name,
            total_cost: self.total_cost.0,
            cpu_cost: self.cpu_cost.0,
            gpu_cost: self.gpu_cost.0,
            ram_cost: self.ram_cost.0,
            pv_cost: self.pv_cost.0,
            network_cost: self.network_cost.0,
            lb_cost: self.load_balancer_cost.0,
            external_cost: self.external_cost.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde::de::{IgnoredAny, MapAccess, Visitor};
    use serde_json::json;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn day() -> Window {
        Window::new(t("2021-01-01T00:00:00Z"), t("2021-01-02T00:00:00Z")).unwrap()
    }

    fn labels(kv: &[(&str, &str)]) -> crate::properties::Labels {
        kv.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// Every field set, every value already on the 5-decimal grid so that a
    /// round trip is exact.
    fn full() -> Allocation {
        let mut a = Allocation::new("cluster1/node1/ns1/pod1/c1", day());
        a.start = t("2021-01-01T01:00:00Z");
        a.end = t("2021-01-01T23:00:00Z");
        a.properties = full_properties();
        a.cpu_core_hours = 44.0;
        a.cpu_core_request_average = 2.0;
        a.cpu_core_usage_average = 1.5;
        a.cpu_cost = 1.25;
        a.cpu_cost_adjustment = 0.5;
        a.cpu_cost_idle = 0.125;
        a.gpu_hours = 22.0;
        a.gpu_request_average = 1.0;
        a.gpu_usage_average = 0.75;
        a.gpu_cost = 3.5;
        a.gpu_cost_adjustment = -0.25;
        a.gpu_cost_idle = 0.0625;
        a.network_transfer_bytes = 1_000_000.0;
        a.network_receive_bytes = 2_000_000.0;
        a.network_cost = 0.3;
        a.network_cross_zone_cost = 0.1;
        a.network_cross_region_cost = 0.05;
        a.network_internet_cost = 0.15;
        a.network_cost_adjustment = 0.01;
        a.load_balancer_cost = 0.4;
        a.load_balancer_cost_adjustment = 0.02;
        a.pv_cost_adjustment = 0.03;
        a.ram_byte_hours = 188_978_561_024.0;
        a.ram_bytes_request_average = 8_589_934_592.0;
        a.ram_bytes_usage_average = 4_294_967_296.0;
        a.ram_cost = 2.5;
        a.ram_cost_adjustment = 0.04;
        a.ram_cost_idle = 0.5;
        a.shared_cost = 1.0;
        a.external_cost = 0.6;
        a.raw_allocation_only = Some(RawAllocationOnly {
            cpu_core_usage_max: 3.25,
            ram_bytes_usage_max: 5_000_000_000.0,
        });
        add_full_maps(&mut a);
        a
    }

    fn full_properties() -> AllocationProperties {
        AllocationProperties {
            cluster: "cluster1".into(),
            node: "node1".into(),
            container: "c1".into(),
            controller: "web".into(),
            controller_kind: "deployment".into(),
            namespace: "ns1".into(),
            pod: "pod1".into(),
            services: vec!["svc-a".into(), "svc-b".into()],
            provider_id: "i-123".into(),
            labels: labels(&[("app", "web"), ("team", "t1")]),
            annotations: labels(&[("owner", "me")]),
            namespace_labels: labels(&[("env", "prod")]),
            namespace_annotations: labels(&[("cost_center", "42")]),
        }
    }

    /// [`full`]'s PV, load balancer, PARC and shared-cost maps: one entry
    /// each.
    fn add_full_maps(a: &mut Allocation) {
        a.load_balancers.insert(
            "cluster1/ns1/svc-a".into(),
            LbAllocation {
                service: "ns1/svc-a".into(),
                cost: 0.4,
                private: true,
                ip: "10.0.0.1".into(),
                hours: 22.0,
            },
        );
        a.pvs.insert(
            PvKey {
                cluster: "cluster1".into(),
                name: "pv1".into(),
            },
            PvAllocation {
                byte_hours: 2_362_232_012_800.0,
                cost: 0.75,
                provider_id: "vol-1".into(),
            },
        );
        a.proportional_asset_resource_costs.insert(
            "cluster1,node1".into(),
            ProportionalAssetResourceCost {
                cluster: "cluster1".into(),
                name: "node1".into(),
                asset_type: "Node".into(),
                provider_id: "i-123".into(),
                cpu_proportional_cost: 1.25,
                cpu_total_cost: 5.0,
                gpu_proportional_cost: 3.5,
                gpu_total_cost: 7.0,
                ram_proportional_cost: 2.5,
                ram_total_cost: 10.0,
                pv_proportional_cost: 0.75,
                pv_total_cost: 3.0,
                load_balancer_proportional_cost: 0.4,
                load_balancer_total_cost: 0.8,
            },
        );
        a.shared_cost_breakdown.insert(
            "kube-system".into(),
            SharedCostBreakdown {
                name: "kube-system".into(),
                total_cost: 1.0,
                cpu_cost: 0.5,
                gpu_cost: 0.0,
                ram_cost: 0.5,
                pv_cost: 0.0,
                network_cost: 0.0,
                lb_cost: 0.0,
                external_cost: 0.0,
            },
        );
    }

    fn set_of(allocs: impl IntoIterator<Item = Allocation>) -> AllocationSet {
        let mut s = AllocationSet::new(day());
        for a in allocs {
            s.insert(a);
        }
        s
    }

    /// Top-level keys of a JSON object in document order (serde_json's
    /// `Value` sorts them).
    struct OrderedKeys(Vec<String>);

    impl<'de> Deserialize<'de> for OrderedKeys {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct V;
            impl<'de> Visitor<'de> for V {
                type Value = OrderedKeys;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("an object")
                }
                fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<OrderedKeys, A::Error> {
                    let mut keys = Vec::new();
                    while let Some((k, IgnoredAny)) = m.next_entry::<String, IgnoredAny>()? {
                        keys.push(k);
                    }
                    Ok(OrderedKeys(keys))
                }
            }
            d.deserialize_map(V)
        }
    }

    fn reason(e: Error) -> String {
        match e {
            Error::Json { reason } => reason,
            other => panic!("expected a JSON error, got {other:?}"),
        }
    }

    #[test]
    fn json_allocation_fields_and_numbers() {
        let mut a = full();
        a.cpu_cost = 1.234567;
        a.cpu_cost_adjustment = -0.0;
        a.network_cost_adjustment = -0.000001; // rounds to -0
        a.external_cost = f64::NAN;
        let v = allocation_to_value(&a);

        assert_eq!(v["name"], "cluster1/node1/ns1/pod1/c1");
        assert_eq!(
            v["window"],
            json!({"start": "2021-01-01T00:00:00Z", "end": "2021-01-02T00:00:00Z"})
        );
        assert_eq!(v["start"], "2021-01-01T01:00:00Z");
        assert_eq!(v["end"], "2021-01-01T23:00:00Z");
        assert_eq!(v["minutes"], json!(1320));
        assert!(v["minutes"].is_i64(), "integral values are integers");
        assert_eq!(v["cpuCoreHours"], json!(44));
        assert!(v["cpuCoreHours"].is_i64());
        assert_eq!(v["cpuCores"], json!(2));
        assert_eq!(v["cpuCost"], json!(1.23457));
        assert_eq!(v["cpuCostAdjustment"], json!(0));
        assert!(v["cpuCostAdjustment"].is_u64(), "-0 is written as 0");
        assert_eq!(v["networkCostAdjustment"], json!(0));
        assert!(v["externalCost"].is_null(), "NaN is null");
        assert!(v["totalCost"].is_null(), "NaN propagates into the total");
        assert_eq!(v["cpuEfficiency"], json!(0.75));
        assert_eq!(v["gpuCount"], json!(1));
        assert_eq!(v["gpuRequestAverage"], json!(1));
        assert_eq!(v["gpuUsageAverage"], json!(0.75));
        assert_eq!(v["gpuEfficiency"], json!(0.75));
        assert_eq!(v["ramEfficiency"], json!(0.5));
        assert_eq!(v["ramByteRequestAverage"], json!(8_589_934_592_u64));
        assert_eq!(v["cpuCostIdle"], json!(0.125));
        assert_eq!(v["gpuCostIdle"], json!(0.0625));
        assert_eq!(v["ramCostIdle"], json!(0.5));

        let p = &v["properties"];
        assert_eq!(p["cluster"], "cluster1");
        assert_eq!(p["controllerKind"], "deployment");
        assert_eq!(p["providerID"], "i-123");
        assert_eq!(p["services"], json!(["svc-a", "svc-b"]));
        assert_eq!(p["labels"], json!({"app": "web", "team": "t1"}));
        assert_eq!(p["namespaceLabels"], json!({"env": "prod"}));
        assert_eq!(p["namespaceAnnotations"], json!({"cost_center": "42"}));

        assert_eq!(
            v["pvs"],
            json!({"cluster=cluster1:name=pv1": {
                "byteHours": 2_362_232_012_800_u64, "cost": 0.75, "providerID": "vol-1", "adjustment": 0
            }})
        );
        assert_eq!(v["pvCost"], json!(0.75));
        assert_eq!(v["pvByteHours"], json!(2_362_232_012_800_u64));
        assert_eq!(
            v["lbAllocations"],
            json!({"cluster1/ns1/svc-a": {
                "service": "ns1/svc-a", "cost": 0.4, "private": true, "ip": "10.0.0.1",
                "hours": 22, "adjustment": 0
            }})
        );
        assert_eq!(
            v["rawAllocationOnly"],
            json!({"cpuCoreUsageMax": 3.25, "ramByteUsageMax": 5_000_000_000_u64})
        );
        let parc = &v["proportionalAssetResourceCosts"]["cluster1,node1"];
        assert_eq!(parc["type"], "Node");
        assert_eq!(parc["cpuPercentage"], json!(0.25));
        assert_eq!(parc["gpuPercentage"], json!(0.5));
        assert_eq!(parc["ramPercentage"], json!(0.25));
        assert_eq!(parc["pvPercentage"], json!(0.25));
        assert_eq!(parc["loadBalancerPercentage"], json!(0.5));
        // (1.25 + 3.5 + 2.5) / (5 + 7 + 10)
        assert_eq!(parc["nodeResourceCostPercentage"], json!(0.32955));
        assert_eq!(parc["gpuTotalCost"], json!(7));
        // omitempty parts of the breakdown are left out
        assert_eq!(
            v["sharedCostBreakdown"],
            json!({"kube-system": {"name": "kube-system", "totalCost": 1, "cpuCost": 0.5, "ramCost": 0.5}})
        );
    }

    #[test]
    fn json_rounding_is_idempotent_and_reads_back_exactly() {
        assert_eq!(round5(1.234567), 1.23457);
        assert_eq!(round5(14.1234567), 14.12346);
        // Exact ties go away from zero, as Go's math.Round does.
        assert_eq!(round5(0.015625), 0.01563);
        assert_eq!(round5(-0.015625), -0.01563);
        assert_eq!(round5(0.000004), 0.0);
        assert_eq!(round5(34_419_911_982.636_986), 34_419_911_982.636_99);
        assert_eq!(round5(196_852_667_733.333_34), 196_852_667_733.333);
        let mut x = 1e-7_f64;
        while x < 1e19 {
            for m in [1.0, 1.123_456_789, 3.333_333_7, 7.777_777_7, 9.876_543_21] {
                for v in [x * m, -x * m] {
                    let r = round5(v);
                    assert_eq!(round5(r), r, "{v}");
                    let text = serde_json::to_string(&Num(v)).unwrap();
                    let back: Num = serde_json::from_str(&text).unwrap();
                    assert_eq!(back.0, r, "{v} -> {text}");
                }
            }
            x *= 1.37;
        }
        assert_eq!(serde_json::to_string(&Num(12.0)).unwrap(), "12");
        assert_eq!(serde_json::to_string(&Num(-0.0)).unwrap(), "0");
        assert_eq!(
            serde_json::to_string(&Num(f64::NEG_INFINITY)).unwrap(),
            "null"
        );
        assert!(serde_json::from_str::<Num>("null").unwrap().0.is_nan());
    }

    #[test]
    fn json_empty_maps_are_null_and_raw_is_omitted() {
        let a = Allocation::new("a", day());
        let v = allocation_to_value(&a);
        let o = v.as_object().unwrap();
        assert!(!o.contains_key("rawAllocationOnly"));
        for k in [
            "pvs",
            "lbAllocations",
            "proportionalAssetResourceCosts",
            "sharedCostBreakdown",
        ] {
            assert!(o.contains_key(k) && o[k].is_null(), "{k}");
        }
        assert_eq!(v["properties"], json!({}));
        assert_eq!(v["totalCost"], json!(0));
    }

    #[test]
    fn json_value_round_trip_is_identical() {
        let v = allocation_to_value(&full());
        let back = allocation_from_value(&v).unwrap();
        assert_eq!(back, full());
        assert_eq!(allocation_to_value(&back), v);

        // Off the grid, one pass rounds the stored fields; from then on the
        // output is fixed, NaN included.
        let mut a = full();
        a.cpu_cost = 1.234567;
        a.ram_byte_hours = 1.0 / 3.0;
        a.shared_cost = f64::INFINITY;
        a.raw_allocation_only = Some(RawAllocationOnly {
            cpu_core_usage_max: f64::NAN,
            ram_bytes_usage_max: 0.1234567,
        });
        let v1 = allocation_to_value(&a);
        let v2 = allocation_to_value(&allocation_from_value(&v1).unwrap());
        let v3 = allocation_to_value(&allocation_from_value(&v2).unwrap());
        assert_eq!(v2, v3);
        assert_eq!(v2["cpuCost"], json!(1.23457));
        assert!(v2["sharedCost"].is_null());
        assert!(v2["rawAllocationOnly"]["cpuCoreUsageMax"].is_null());
    }

    #[test]
    fn json_unmounted_pv_cost_is_lost() {
        let mut a = full();
        a.unmounted_pv_cost = 0.5;
        let back = allocation_from_value(&allocation_to_value(&a)).unwrap();
        assert_eq!(back.unmounted_pv_cost, 0.0);
    }

    #[test]
    fn json_set_string_round_trip() {
        let mut b = full();
        b.name = "cluster1/node1/ns1/pod2/c1".into();
        b.window = Window::new(t("2021-01-01T00:00:00Z"), t("2021-01-01T12:00:00Z")).unwrap();
        b.start = t("2021-01-01T00:00:00Z");
        b.end = t("2021-01-01T12:00:00Z");
        b.raw_allocation_only = None;
        let set = set_of([full(), b]);

        let s = set_to_string(&set);
        let v: Value = serde_json::from_str(&s).unwrap();
        assert_eq!(v, set_to_value(&set));
        assert_eq!(set_from_value(&v, Some(set.window())).unwrap(), set);
        // Without a window the union of the allocations' windows is used.
        assert_eq!(set_from_value(&v, None).unwrap(), set);
        let names: Vec<_> = v.as_object().unwrap().keys().cloned().collect();
        assert_eq!(
            names,
            ["cluster1/node1/ns1/pod1/c1", "cluster1/node1/ns1/pod2/c1"]
        );
    }

    #[test]
    fn json_set_string_follows_opencost_field_order() {
        let s = set_to_string(&set_of([full()]));
        assert!(
            s.starts_with(
                r#"{"cluster1/node1/ns1/pod1/c1":{"name":"cluster1/node1/ns1/pod1/c1","properties":{"cluster":"cluster1","node":"node1","#
            ),
            "{s}"
        );
        assert!(
            s.contains(
                r#"},"window":{"start":"2021-01-01T00:00:00Z","end":"2021-01-02T00:00:00Z"},"start":"2021-01-01T01:00:00Z","end":"2021-01-01T23:00:00Z","minutes":1320,"cpuCores":2,"#
            ),
            "{s}"
        );
        let sets: BTreeMap<String, OrderedKeys> = serde_json::from_str(&s).unwrap();
        let keys = &sets["cluster1/node1/ns1/pod1/c1"].0;
        let expected = [
            "name",
            "properties",
            "window",
            "start",
            "end",
            "minutes",
            "cpuCores",
            "cpuCoreRequestAverage",
            "cpuCoreUsageAverage",
            "cpuCoreHours",
            "cpuCost",
            "cpuCostAdjustment",
            "cpuCostIdle",
            "cpuEfficiency",
            "gpuCount",
            "gpuRequestAverage",
            "gpuUsageAverage",
            "gpuHours",
            "gpuCost",
            "gpuCostAdjustment",
            "gpuCostIdle",
            "gpuEfficiency",
            "networkTransferBytes",
            "networkReceiveBytes",
            "networkCost",
            "networkCrossZoneCost",
            "networkCrossRegionCost",
            "networkInternetCost",
            "networkCostAdjustment",
            "loadBalancerCost",
            "loadBalancerCostAdjustment",
            "pvBytes",
            "pvByteHours",
            "pvCost",
            "pvs",
            "pvCostAdjustment",
            "ramBytes",
            "ramByteRequestAverage",
            "ramByteUsageAverage",
            "ramByteHours",
            "ramCost",
            "ramCostAdjustment",
            "ramCostIdle",
            "ramEfficiency",
            "externalCost",
            "sharedCost",
            "totalCost",
            "totalEfficiency",
            "rawAllocationOnly",
            "proportionalAssetResourceCosts",
            "lbAllocations",
            "sharedCostBreakdown",
        ];
        assert_eq!(keys, &expected);
    }

    #[test]
    fn json_response_round_trip() {
        let sets = vec![set_of([full()]), AllocationSet::new(day())];
        let v = response_to_value(&sets);
        assert_eq!(v["code"], json!(200));
        assert_eq!(v["status"], "success");
        assert_eq!(v["data"].as_array().unwrap().len(), 2);
        let s = response_to_string(&sets[..1]);
        assert!(
            s.starts_with(r#"{"code":200,"status":"success","data":[{"#),
            "{s}"
        );
        let back = response_from_value(&serde_json::from_str(&s).unwrap()).unwrap();
        assert_eq!(back, sets[..1]);
        assert!(
            response_from_value(&json!({"code": 200, "data": null}))
                .unwrap()
                .is_empty()
        );
        // An empty step set has no window to infer.
        let e = reason(response_from_value(&v).unwrap_err());
        assert!(e.contains("data[1]") && e.contains("empty"), "{e}");
        assert!(to_string_pretty(&v).contains("\n  \"code\": 200"));
        assert!(v.get("warning").is_none() && v.get("warnings").is_none());
    }

    #[test]
    fn json_response_carries_warnings_once() {
        use crate::warning::WarningKind;
        let w = |m: &str| Warning::new(WarningKind::DefaultPrices, m).node("c", "n");
        let mut a = set_of([full()]);
        a.warnings = vec![w("one"), w("two")];
        let mut b = a.clone();
        b.warnings = vec![w("two")];
        let v = response_to_value(&[a, b]);
        assert_eq!(v["warning"], "one; two");
        assert_eq!(
            v["warnings"],
            json!([
                {"kind": "default_prices", "cluster": "c", "node": "n", "message": "one"},
                {"kind": "default_prices", "cluster": "c", "node": "n", "message": "two"},
            ])
        );
        // Readers (ours, OpenCost's clients) take the sets as before.
        assert_eq!(response_from_value(&v).unwrap().len(), 2);
    }

    #[test]
    fn json_reads_opencost_output() {
        // As OpenCost writes it: extra fields from newer versions, no PARC
        // costs, an offset time, nil maps, GPU averages nested elsewhere.
        let v = json!({
            "code": 200,
            "status": "success",
            "data": [{
                "ns1": {
                    "name": "ns1",
                    "properties": {"cluster": "c1", "namespace": "ns1", "services": ["b", "a"]},
                    "window": {"start": "2021-01-01T00:00:00Z", "end": "2021-01-02T00:00:00Z"},
                    "start": "2021-01-01T02:00:00+02:00",
                    "end": "2021-01-02T00:00:00Z",
                    "minutes": 1440,
                    "cpuCores": 1,
                    "cpuCoreRequestAverage": 1,
                    "cpuCoreLimitAverage": 2,
                    "cpuCoreHours": 24,
                    "cpuCost": 0.5,
                    "cpuEfficiency": 0,
                    "pvs": null,
                    "ramCost": 1.25,
                    "totalCost": 99,
                    "proportionalAssetResourceCosts": {"c1": {"cluster": "c1", "cpuPercentage": 0.5}},
                    "lbAllocations": null,
                    "sharedCostBreakdown": null,
                    "gpuAllocation": null
                }
            }]
        });
        let sets = response_from_value(&v).unwrap();
        assert_eq!(sets.len(), 1);
        assert_eq!(sets[0].window(), day());
        let a = sets[0].get("ns1").unwrap();
        assert_eq!(a.start, t("2021-01-01T00:00:00Z"));
        assert_eq!(a.cpu_core_hours, 24.0);
        assert_eq!(a.total_cost(), 1.75, "computed totalCost is ignored");
        assert_eq!(a.properties.services, ["a", "b"]);
        assert!(a.pvs.is_empty() && a.raw_allocation_only.is_none());
        assert_eq!(
            a.proportional_asset_resource_costs["c1"].cpu_total_cost,
            0.0
        );
    }

    #[test]
    fn json_pv_keys() {
        let mut a = Allocation::new("a", day());
        let key = PvKey {
            cluster: "arn:aws:eks:us-east-1:1:cluster/x".into(),
            name: "pv1".into(),
        };
        a.pvs.insert(key.clone(), PvAllocation::default());
        let v = allocation_to_value(&a);
        assert!(v["pvs"]["cluster=arn:aws:eks:us-east-1:1:cluster/x:name=pv1"].is_object());
        let back = allocation_from_value(&v).unwrap();
        assert!(back.pvs.contains_key(&key));

        let mut bad = allocation_to_value(&full());
        bad["pvs"] = json!({"c1/pv1": {"byteHours": 1, "cost": 1}});
        let e = reason(allocation_from_value(&bad).unwrap_err());
        assert!(e.contains("\"c1/pv1\"") && e.contains("pvs"), "{e}");
        assert!(e.contains("cluster1/node1/ns1/pod1/c1"), "{e}");
    }

    #[test]
    fn json_bad_times_name_field_and_allocation() {
        let mut v = allocation_to_value(&full());
        v["start"] = json!("yesterday-ish");
        let e = reason(allocation_from_value(&v).unwrap_err());
        assert!(
            e.contains("\"start\"") && e.contains("yesterday-ish"),
            "{e}"
        );
        assert!(e.contains("cluster1/node1/ns1/pod1/c1"), "{e}");

        let mut v = allocation_to_value(&full());
        v["window"]["end"] = json!("2021-13-01T00:00:00Z");
        let e = reason(allocation_from_value(&v).unwrap_err());
        assert!(e.contains("window.end"), "{e}");

        let mut v = allocation_to_value(&full());
        v["window"]["start"] = json!("null");
        let e = reason(allocation_from_value(&v).unwrap_err());
        assert!(e.contains("open window"), "{e}");

        let mut v = allocation_to_value(&full());
        v["end"] = json!("2021-01-01T00:30:00Z");
        let e = reason(allocation_from_value(&v).unwrap_err());
        assert!(e.contains("\"end\"") && e.contains("before"), "{e}");
    }

    #[test]
    fn json_wrong_types_name_the_field() {
        let mut v = allocation_to_value(&full());
        v["cpuCost"] = json!("cheap");
        let e = reason(allocation_from_value(&v).unwrap_err());
        assert!(e.contains("field \"cpuCost\""), "{e}");
        assert!(e.contains("cluster1/node1/ns1/pod1/c1"), "{e}");

        let e = reason(allocation_from_value(&json!([1])).unwrap_err());
        assert!(e.contains("expected an object"), "{e}");
        let e = reason(set_from_value(&json!([]), None).unwrap_err());
        assert!(e.contains("allocation set"), "{e}");
    }

    #[test]
    fn json_set_errors() {
        let v = json!({"other": allocation_to_value(&full())});
        let e = reason(set_from_value(&v, None).unwrap_err());
        assert!(e.contains("\"other\"") && e.contains("must agree"), "{e}");

        let e = reason(set_from_value(&json!({}), None).unwrap_err());
        assert!(e.contains("empty"), "{e}");
        let empty = set_from_value(&json!({}), Some(day())).unwrap();
        assert!(empty.is_empty() && empty.window() == day());

        // A nameless allocation takes its key.
        let mut a = allocation_to_value(&full());
        a.as_object_mut().unwrap().remove("name");
        let set = set_from_value(&json!({"k": a}), None).unwrap();
        assert_eq!(set.get("k").unwrap().name, "k");
    }

    #[test]
    fn json_response_errors() {
        let e = reason(
            response_from_value(&json!({"code": 500, "message": "Error: boom"})).unwrap_err(),
        );
        assert!(e.contains("500") && e.contains("Error: boom"), "{e}");
        let e = reason(response_from_value(&json!({"data": []})).unwrap_err());
        assert!(e.contains("\"code\""), "{e}");
        let e = reason(response_from_value(&json!({"code": "200", "data": []})).unwrap_err());
        assert!(e.contains("\"code\""), "{e}");
        let e = reason(response_from_value(&json!({"code": 200})).unwrap_err());
        assert!(e.contains("\"data\""), "{e}");
        let e = reason(response_from_value(&json!({"code": 200, "data": {}})).unwrap_err());
        assert!(e.contains("\"data\"") && e.contains("an object"), "{e}");
        let e = reason(response_from_value(&json!({"code": 200, "data": [[]]})).unwrap_err());
        assert!(e.contains("data[0]"), "{e}");
        let e = reason(response_from_value(&json!("nope")).unwrap_err());
        assert!(e.contains("response"), "{e}");
    }
}
