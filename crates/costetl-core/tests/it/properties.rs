//! Invariants of the allocation math over random allocation sets.

use chrono::TimeDelta;
use costetl_core::aggregate::{AggregationOptions, ShareSplit};
use costetl_core::testing::{arb_container, arb_idle, arb_set, test_day};
use costetl_core::{
    Accumulate, AggregationProperty, Allocation, AllocationSet, AllocationSetRange, Filter,
    MetadataMerge, Window, json,
};
use proptest::prelude::*;
use std::collections::BTreeMap;

/// `a ≈ b` relative to the larger magnitude (absolute near zero).
fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * a.abs().max(b.abs()).max(1.0)
}

const KEYS: [&str; 13] = [
    "cluster",
    "node",
    "namespace",
    "controllerKind",
    "controller",
    "pod",
    "container",
    "service",
    "label:app",
    "annotation:team",
    "deployment",
    "team",
    "product",
];

fn arb_keys() -> impl Strategy<Value = Vec<AggregationProperty>> {
    prop::sample::subsequence(KEYS.to_vec(), 0..4).prop_map(|ks| {
        ks.into_iter()
            .map(|k| AggregationProperty::parse(k).unwrap())
            .collect()
    })
}

fn arb_filter() -> impl Strategy<Value = Filter> {
    let atom = prop::sample::select(vec![
        r#"namespace:"ns1""#,
        r#"namespace:"ns1","ns2""#,
        r#"cluster!:"cluster0""#,
        r#"label[app]:"app1""#,
        r#"controllerKind:"deployment""#,
        r#"team:"team0""#,
        r#"services~:"svc1""#,
        r#"pod<~:"pod1""#,
        r#"node~>:"node2""#,
    ]);
    (prop::collection::vec(atom, 1..3), any::<bool>()).prop_map(|(atoms, and)| {
        let text = atoms.join(if and { " + " } else { " | " });
        Filter::parse(&text).unwrap()
    })
}

fn arb_options() -> impl Strategy<Value = AggregationOptions> {
    (
        prop::option::of(arb_filter()),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::sample::subsequence(vec!["ns0", "ns3"], 0..2),
        any::<bool>(),
        prop::option::of(0.0..10.0f64),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(
                filter,
                idle_by_node,
                share_idle,
                split_idle,
                shared_ns,
                even,
                hourly,
                merge_unalloc,
                breakdown,
            )| {
                AggregationOptions {
                    filter,
                    idle_by_node,
                    share_idle,
                    split_idle,
                    share_namespaces: shared_ns.into_iter().map(str::to_owned).collect(),
                    share_labels: Vec::new(),
                    share_split: if even {
                        ShareSplit::Even
                    } else {
                        ShareSplit::Weighted
                    },
                    shared_hourly_costs: hourly
                        .map(|h| BTreeMap::from([("support".to_owned(), h)]))
                        .unwrap_or_default(),
                    include_shared_cost_breakdown: breakdown,
                    merge_unallocated: merge_unalloc,
                    ..AggregationOptions::default()
                }
            },
        )
}

fn by_name(set: &AllocationSet) -> BTreeMap<String, f64> {
    set.iter()
        .map(|a| (a.name.clone(), a.total_cost()))
        .collect()
}

fn every_cost(a: &Allocation) -> Vec<(&'static str, f64)> {
    vec![
        ("cpu", a.cpu_cost),
        ("gpu", a.gpu_cost),
        ("ram", a.ram_cost),
        ("pv", a.pv_cost()),
        ("network", a.network_cost),
        ("lb", a.load_balancer_cost),
        ("shared", a.shared_cost),
        ("external", a.external_cost),
        ("cpu adj", a.cpu_cost_adjustment),
        ("total", a.total_cost()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Every dollar in (plus shared hourly costs) comes out, in the
    /// aggregated set or in the filtered-out report, whatever the options.
    #[test]
    fn aggregation_conserves_cost(
        set in arb_set(40),
        keys in prop::option::of(arb_keys()),
        opts in arb_options(),
    ) {
        let hourly: f64 = opts.shared_hourly_costs.values().sum::<f64>() * set.window().hours();
        let input = set.total_cost() + hourly;
        let got = set.aggregate_by(keys.as_deref(), &opts).unwrap();
        let output = got.set.total_cost() + got.filtered_out.total_cost();
        prop_assert!(close(input, output, 1e-9), "in {input} out {output}");
        // Per resource too when nothing is shared (sharing turns a shared
        // namespace's CPU cost into shared cost): idle moves CPU to CPU.
        if !opts.share_namespaces.is_empty() || !opts.shared_hourly_costs.is_empty() {
            return Ok(());
        }
        let cpu_in: f64 = set.iter().map(Allocation::cpu_total_cost).sum();
        let cpu_out: f64 = got.set.iter().chain([&got.filtered_out]).map(Allocation::cpu_total_cost).sum();
        prop_assert!(close(cpu_in, cpu_out, 1e-9), "cpu in {cpu_in} out {cpu_out}");
    }

    /// Non-negative input never produces a negative cost anywhere.
    #[test]
    fn no_negative_cost_from_non_negative_input(
        set in arb_set(30),
        keys in prop::option::of(arb_keys()),
        opts in arb_options(),
    ) {
        let got = set.aggregate_by(keys.as_deref(), &opts).unwrap();
        for a in got.set.iter().chain([&got.filtered_out]) {
            for (what, v) in every_cost(a) {
                prop_assert!(v >= 0.0, "{} has negative {what} cost {v}", a.name);
            }
        }
    }

    /// Aggregating by a finer key first, then by a coarser one, gives the
    /// same as aggregating by the coarser key directly.
    #[test]
    fn aggregation_is_compositional(
        set in arb_set(40),
        coarse in arb_keys(),
        extra in arb_keys(),
        share_idle in any::<bool>(),
        idle_by_node in any::<bool>(),
    ) {
        // With idle shared, idle ids must survive the first pass.
        let mut fine = coarse.clone();
        if share_idle {
            fine.push(AggregationProperty::Cluster);
            if idle_by_node {
                fine.push(AggregationProperty::Node);
            }
        }
        fine.extend(extra.iter().filter(|k| !coarse.contains(k)).cloned());
        let opts = AggregationOptions { share_idle, idle_by_node, ..AggregationOptions::default() };
        let direct = set.aggregate_by(Some(&coarse), &opts).unwrap().set;
        let first = set.aggregate_by(Some(&fine), &opts).unwrap().set;
        let second = first.aggregate_by(Some(&coarse), &AggregationOptions::default()).unwrap().set;
        let (d, s) = (by_name(&direct), by_name(&second));
        prop_assert_eq!(d.keys().collect::<Vec<_>>(), s.keys().collect::<Vec<_>>());
        for (k, v) in &d {
            prop_assert!(close(*v, s[k], 1e-9), "{k}: direct {v}, two-step {}", s[k]);
        }
    }

    /// Merging is commutative and associative on totals and averages.
    #[test]
    fn merge_is_commutative_and_associative(
        a in arb_container(test_day()),
        b in arb_container(test_day()),
        c in arb_container(test_day()),
        metadata in prop::sample::select(vec![MetadataMerge::Drop, MetadataMerge::Intersect, MetadataMerge::Union]),
    ) {
        let add = |x: &Allocation, y: &Allocation| {
            let mut z = x.clone();
            z.add(y, metadata);
            z
        };
        let ab = add(&a, &b);
        let ba = add(&b, &a);
        let ab_c = add(&ab, &c);
        let a_bc = add(&a, &add(&b, &c));
        let fields = |x: &Allocation| {
            [
                x.total_cost(),
                x.cpu_core_hours,
                x.ram_byte_hours,
                x.cpu_core_request_average,
                x.ram_bytes_usage_average,
                x.pv_byte_hours(),
                x.minutes(),
            ]
        };
        for (l, r) in [(&ab, &ba), (&ab_c, &a_bc)] {
            for (x, y) in fields(l).into_iter().zip(fields(r)) {
                prop_assert!(close(x, y, 1e-9), "{x} vs {y}");
            }
            prop_assert_eq!(&l.properties, &r.properties);
            prop_assert_eq!(l.start, r.start);
            prop_assert_eq!(l.end, r.end);
        }
    }

    /// 24 hourly sets accumulated by day equal the day: same names, summed
    /// costs and hours, minute-weighted averages.
    #[test]
    fn accumulating_24_hours_gives_the_day(
        hours in prop::collection::vec(prop::collection::vec(arb_container(test_day()), 0..6), 24),
    ) {
        let day = test_day();
        let mut sets = Vec::new();
        let mut want_cost: BTreeMap<String, f64> = BTreeMap::new();
        let mut want_cpu_hours: BTreeMap<String, f64> = BTreeMap::new();
        for (h, allocs) in hours.into_iter().enumerate() {
            let start = day.start() + TimeDelta::hours(h as i64);
            let w = Window::new(start, start + TimeDelta::hours(1)).unwrap();
            let mut set = AllocationSet::new(w);
            for mut a in allocs {
                // Put each allocation inside its hour.
                a.window = w;
                a.start = start;
                a.end = start + TimeDelta::minutes(1 + (a.cpu_cost as i64 % 60));
                *want_cost.entry(a.name.clone()).or_default() += a.total_cost();
                *want_cpu_hours.entry(a.name.clone()).or_default() += a.cpu_core_hours;
                set.insert(a);
            }
            sets.push(set);
        }
        let acc = AllocationSetRange::new(sets).accumulate(Accumulate::Day).unwrap();
        prop_assert_eq!(acc.sets.len(), 1);
        let got = &acc.sets[0];
        prop_assert_eq!(got.window(), day);
        let names = by_name(got);
        prop_assert_eq!(names.keys().collect::<Vec<_>>(), want_cost.keys().collect::<Vec<_>>());
        for a in got.iter() {
            prop_assert!(close(a.total_cost(), want_cost[&a.name], 1e-9));
            prop_assert!(close(a.cpu_core_hours, want_cpu_hours[&a.name], 1e-9));
        }
    }

    /// JSON is a faithful boundary: one trip puts every stored value on
    /// OpenCost's 5-decimal grid, after which trips change nothing (text or
    /// model), and what is read back matches the original to that precision.
    /// (Derived fields such as efficiency are recomputed from rounded
    /// inputs, so the first trip's text may differ in its last decimal.)
    #[test]
    fn json_round_trip(set in arb_set(20)) {
        let trip = |s: &AllocationSet| {
            let text = json::set_to_string(s);
            let value: serde_json::Value = serde_json::from_str(&text).unwrap();
            (json::set_from_value(&value, Some(s.window())).unwrap(), text)
        };
        let (once, _) = trip(&set);
        let (twice, text_once) = trip(&once);
        let (_, text_twice) = trip(&twice);
        prop_assert_eq!(&once, &twice);
        prop_assert_eq!(&text_once, &text_twice);
        prop_assert_eq!(once.len(), set.len());
        for (a, b) in set.iter().zip(once.iter()) {
            prop_assert_eq!(&a.name, &b.name);
            prop_assert_eq!(&a.properties, &b.properties);
            prop_assert_eq!((a.start, a.end), (b.start, b.end));
            for ((what, x), (_, y)) in every_cost(a).into_iter().zip(every_cost(b)) {
                // Each field is rounded to 5 decimals; the total sums ~10.
                prop_assert!((x - y).abs() <= 1e-4, "{}: {what} {x} vs {y}", a.name);
            }
        }
    }
}

/// Options for [`share_idle_moves_cost_only_within_the_filter`]: a
/// namespace filter, a shared namespace, sometimes a shared label and a
/// shared hourly cost, either split.
fn arb_filter_and_sharing() -> impl Strategy<Value = AggregationOptions> {
    let namespaces = vec!["ns0", "ns1", "ns2", "ns3"];
    (
        prop::sample::subsequence(namespaces.clone(), 1..4),
        prop::sample::select(namespaces),
        prop::option::of(prop::sample::select(vec!["app0", "app1"])),
        prop::option::of(0.0..10.0f64),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(keep, shared_ns, shared_app, hourly, even, split_idle)| {
            let quoted: Vec<String> = keep.iter().map(|n| format!("\"{n}\"")).collect();
            AggregationOptions {
                filter: Some(Filter::parse(&format!("namespace:{}", quoted.join(","))).unwrap()),
                split_idle,
                share_namespaces: vec![shared_ns.to_owned()],
                share_labels: shared_app
                    .map(|v| vec![("app".to_owned(), v.to_owned())])
                    .unwrap_or_default(),
                share_split: if even {
                    ShareSplit::Even
                } else {
                    ShareSplit::Weighted
                },
                shared_hourly_costs: hourly
                    .map(|h| BTreeMap::from([("support".to_owned(), h)]))
                    .unwrap_or_default(),
                ..AggregationOptions::default()
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Sharing idle or not moves cost between the visible keys and idle,
    /// never across the filter line: with a filter and shared costs, what
    /// is filtered out is the same with `share_idle` on and off, both
    /// conserve, and the same non-idle keys are visible. (Without idle
    /// shared, the idle of a shared namespace once stayed visible in full,
    /// though part of that namespace's cost goes to what is filtered out.)
    #[test]
    fn share_idle_moves_cost_only_within_the_filter(
        containers in prop::collection::vec(arb_container(test_day()), 1..30),
        (idle_by_node, idle) in any::<bool>()
            .prop_flat_map(|by_node| (Just(by_node), arb_idle(test_day(), by_node))),
        opts in arb_filter_and_sharing(),
    ) {
        let mut set = AllocationSet::new(test_day());
        for a in containers.into_iter().chain(idle) {
            set.insert(a);
        }
        let by = [AggregationProperty::Namespace];
        let hourly: f64 = opts.shared_hourly_costs.values().sum::<f64>() * set.window().hours();
        let input = set.total_cost() + hourly;
        let run = |share_idle: bool| {
            let o = AggregationOptions { share_idle, idle_by_node, ..opts.clone() };
            set.aggregate_by(Some(&by), &o).unwrap()
        };
        let (on, off) = (run(true), run(false));
        for (what, got) in [("on", &on), ("off", &off)] {
            let output = got.set.total_cost() + got.filtered_out.total_cost();
            prop_assert!(close(input, output, 1e-9), "share_idle {what}: in {input} out {output}");
        }
        let (f_on, f_off) = (on.filtered_out.total_cost(), off.filtered_out.total_cost());
        prop_assert!(close(f_on, f_off, 1e-9), "filtered out: share_idle on {f_on}, off {f_off}");
        let visible = |s: &AllocationSet| {
            s.iter().filter(|a| !a.is_idle()).map(|a| a.name.clone()).collect::<Vec<_>>()
        };
        prop_assert_eq!(visible(&on.set), visible(&off.set));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// A window read cluster by cluster (a fleet's files one at a time,
    /// `QueryRun::push_part`) gives what the merged window gives, key by
    /// key and in what the filter removed, whenever the query says it may
    /// (`per_cluster`: no cost shared across clusters); and the query says
    /// it may not whenever costs are shared across allocations.
    #[test]
    fn a_window_pushed_cluster_by_cluster_is_the_whole_window(
        set in arb_set(40),
        options in arb_options(),
        keys in arb_keys(),
    ) {
        let query = costetl_core::AllocationQuery {
            include_idle: true,
            aggregate: Some(keys),
            options,
            ..costetl_core::AllocationQuery::default()
        };
        let shares = !query.options.share_namespaces.is_empty()
            || !query.options.shared_hourly_costs.is_empty();
        prop_assert_eq!(query.per_cluster(), !shares);
        prop_assume!(query.per_cluster());
        let whole = query.run(vec![set.clone()]).unwrap();

        let mut parts: BTreeMap<String, AllocationSet> = BTreeMap::new();
        for a in set.iter() {
            (parts.entry(a.properties.cluster.to_string()))
                .or_insert_with(|| AllocationSet::new(set.window()))
                .insert(a.clone());
        }
        if parts.is_empty() {
            parts.insert(String::new(), AllocationSet::new(set.window()));
        }
        let mut run = query.start();
        for part in parts.into_values() {
            run.push_part(part).unwrap();
        }
        let streamed = run.finish().unwrap();

        prop_assert_eq!(whole.len(), 1);
        prop_assert_eq!(streamed.len(), 1);
        let (w, s) = (&whole[0], &streamed[0]);
        let (wn, sn) = (by_name(&w.set), by_name(&s.set));
        prop_assert_eq!(wn.keys().collect::<Vec<_>>(), sn.keys().collect::<Vec<_>>());
        for (k, v) in &wn {
            prop_assert!(close(*v, sn[k], 1e-9), "{}: whole {} streamed {}", k, v, sn[k]);
        }
        let (wf, sf) = (w.filtered_out.total_cost(), s.filtered_out.total_cost());
        prop_assert!(close(wf, sf, 1e-9), "filtered out: whole {} streamed {}", wf, sf);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Aggregating a set by value (`into_aggregate_by`, which moves the
    /// allocations) gives exactly what aggregating it by reference gives.
    #[test]
    fn aggregating_by_value_is_aggregating_by_reference(
        set in arb_set(40),
        options in arb_options(),
        keys in arb_keys(),
    ) {
        let by_ref = set.aggregate_by(Some(&keys), &options).unwrap();
        let by_value = set.clone().into_aggregate_by(Some(&keys), &options).unwrap();
        prop_assert_eq!(&by_ref.set, &by_value.set);
        prop_assert_eq!(&by_ref.filtered_out, &by_value.filtered_out);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Building a set in bulk (`insert_all`: sorted in place, equal names
    /// merged) gives exactly the set that inserting one by one gives,
    /// merges in the same order, to the last bit; also when a prefix comes
    /// sorted (as a computed day's containers do), which is merged with the
    /// rest rather than sorted again.
    #[test]
    fn inserting_all_at_once_is_inserting_one_by_one(
        allocs in prop::collection::vec((arb_container(test_day()), 0..6usize), 0..60),
        presorted in 0..60usize,
        metadata in prop_oneof![Just(MetadataMerge::Drop), Just(MetadataMerge::Intersect), Just(MetadataMerge::Union)],
    ) {
        // Few names, so that many allocations share one.
        let mut allocs: Vec<Allocation> = (allocs.into_iter())
            .map(|(mut a, k)| {
                a.name = format!("cluster/node/ns/pod-{k}");
                a
            })
            .collect();
        let presorted = presorted.min(allocs.len());
        allocs[..presorted].sort_by(|a, b| a.name.cmp(&b.name));
        let mut one_by_one = AllocationSet::new(test_day());
        one_by_one.metadata = metadata;
        for a in allocs.clone() {
            one_by_one.insert(a);
        }
        let mut bulk = AllocationSet::new(test_day());
        bulk.metadata = metadata;
        bulk.insert_all(allocs);
        prop_assert_eq!(bulk, one_by_one);
    }
}
