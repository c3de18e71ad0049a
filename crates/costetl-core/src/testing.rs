//! Builders shared by tests, other crates' tests and benches (feature
//! `test-util`; not subject to stability guarantees): OpenCost's mock
//! allocation sets (`core/pkg/opencost/mock.go`) and proptest strategies for
//! random sets.

use chrono::{DateTime, TimeDelta, Utc};
use proptest::prelude::*;

use crate::allocation::{Allocation, PvAllocation, PvKey, RawAllocationOnly};
use crate::properties::{AllocationProperties, IDLE, Labels, UNMOUNTED};
use crate::set::AllocationSet;
use crate::window::Window;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// OpenCost's `NewMockUnitAllocation`: every resource costs 1 (total 6), or
/// for idle names CPU 2, RAM 2, GPU 1 and nothing else.
pub fn unit_allocation(name: &str, props: AllocationProperties, window: Window) -> Allocation {
    let mut a = Allocation::new(name, window);
    a.properties = props;
    a.cpu_core_hours = 1.0;
    a.cpu_cost = 1.0;
    a.cpu_core_request_average = 1.0;
    a.cpu_core_usage_average = 1.0;
    a.gpu_hours = 1.0;
    a.gpu_cost = 1.0;
    a.ram_byte_hours = 1.0;
    a.ram_cost = 1.0;
    a.ram_bytes_request_average = 1.0;
    a.ram_bytes_usage_average = 1.0;
    a.raw_allocation_only = Some(RawAllocationOnly {
        cpu_core_usage_max: 1.0,
        ram_bytes_usage_max: 1.0,
    });
    if name.contains(IDLE) {
        a.cpu_core_hours = 2.0;
        a.cpu_cost = 2.0;
        a.ram_byte_hours = 2.0;
        a.ram_cost = 2.0;
    } else {
        a.network_cost = 1.0;
        a.load_balancer_cost = 1.0;
        a.pvs.insert(
            PvKey {
                cluster: a.properties.cluster.to_string(),
                name: "pv1".into(),
            },
            PvAllocation {
                byte_hours: 1.0,
                cost: 1.0,
                provider_id: String::new(),
            },
        );
    }
    a
}

/// The day window starting at `start`.
pub fn day(start: DateTime<Utc>) -> Window {
    Window::new(start, start + TimeDelta::days(1)).expect("a day is a valid window")
}

/// A container of OpenCost's mock sets: (node, namespace, pod, container,
/// controller kind, controller); a bare pod has no controller.
type MockContainer = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    &'static str,
);

/// The mock's `cluster1`: one node, namespaces 1 and 2.
const MOCK_CLUSTER1: [MockContainer; 6] = [
    ("c1nodes", "namespace1", "pod1", "container1", "", ""),
    (
        "c1nodes",
        "namespace1",
        "pod-abc",
        "container2",
        "deployment",
        "deployment1",
    ),
    (
        "c1nodes",
        "namespace1",
        "pod-def",
        "container3",
        "deployment",
        "deployment1",
    ),
    (
        "c1nodes",
        "namespace2",
        "pod-ghi",
        "container4",
        "deployment",
        "deployment2",
    ),
    (
        "c1nodes",
        "namespace2",
        "pod-ghi",
        "container5",
        "deployment",
        "deployment2",
    ),
    (
        "c1nodes",
        "namespace2",
        "pod-jkl",
        "container6",
        "daemonset",
        "daemonset1",
    ),
];

/// The mock's `cluster2`: three nodes, namespaces 2 and 3.
const MOCK_CLUSTER2: [MockContainer; 6] = [
    (
        "node1",
        "namespace2",
        "pod-mno",
        "container4",
        "deployment",
        "deployment2",
    ),
    (
        "node1",
        "namespace2",
        "pod-mno",
        "container5",
        "deployment",
        "deployment2",
    ),
    (
        "node2",
        "namespace2",
        "pod-pqr",
        "container6",
        "daemonset",
        "daemonset1",
    ),
    (
        "node2",
        "namespace3",
        "pod-stu",
        "container7",
        "deployment",
        "deployment3",
    ),
    (
        "node3",
        "namespace3",
        "pod-vwx",
        "container8",
        "statefulset",
        "statefulset1",
    ),
    (
        "node3",
        "namespace3",
        "pod-vwx",
        "container9",
        "statefulset",
        "statefulset1",
    ),
];

/// OpenCost's `GenerateMockAllocationSet`: 12 container allocations in two
/// clusters, total 82 (cluster1 46, cluster2 36).
pub fn mock_set(start: DateTime<Utc>) -> AllocationSet {
    let w = day(start);
    let mut set = AllocationSet::new(w);
    for (cluster, containers) in [("cluster1", MOCK_CLUSTER1), ("cluster2", MOCK_CLUSTER2)] {
        for c in containers {
            set.insert(mock_container(cluster, c, w));
        }
    }
    set
}

/// One container of the mock set: a unit allocation with a PV of its own.
fn mock_container(cluster: &str, c: MockContainer, w: Window) -> Allocation {
    let (node, ns, pod, container, kind, controller) = c;
    let props = AllocationProperties {
        cluster: cluster.into(),
        node: node.into(),
        namespace: ns.into(),
        pod: pod.into(),
        container: container.into(),
        controller_kind: kind.into(),
        controller: controller.into(),
        provider_id: node.into(),
        ..AllocationProperties::default()
    };
    let name = format!("{cluster}/{ns}/{pod}/{container}");
    let mut a = unit_allocation(&name, props, w);
    // Each allocation gets its own PV in its cluster.
    let pv = a.pvs.pop_first().expect("unit allocation has a PV").1;
    a.pvs.insert(
        PvKey {
            cluster: cluster.into(),
            name: format!("pv-{container}"),
        },
        pv,
    );
    mock_metadata(cluster, container, &mut a);
    a
}

/// The labels, annotations and services the mock gives some containers
/// (and cluster1's container1 its RAM cost of 11).
fn mock_metadata(cluster: &str, container: &str, a: &mut Allocation) {
    let p = &mut a.properties;
    match (cluster, container) {
        ("cluster1", "container1") => {
            p.labels = labels(&[("app", "app1"), ("env", "env1")]);
            a.ram_cost = 11.0;
        }
        ("cluster1", "container4" | "container5") => {
            p.labels = labels(&[("app", "app2"), ("env", "env2")]);
        }
        ("cluster2", "container4" | "container5") => p.labels = labels(&[("app", "app2")]),
        (_, "container6") => p.services = vec!["service1".into()],
        ("cluster2", "container7" | "container9") => {
            p.annotations = labels(&[("team", "team1")]);
        }
        ("cluster2", "container8") => p.annotations = labels(&[("team", "team2")]),
        _ => {}
    }
}

fn idle(name: &str, cluster: &str, node: &str, cpu: f64, ram: f64, w: Window) -> Allocation {
    let props = AllocationProperties {
        cluster: cluster.into(),
        node: node.into(),
        provider_id: node.into(),
        ..AllocationProperties::default()
    };
    let mut a = unit_allocation(name, props, w);
    a.cpu_cost = cpu;
    a.ram_cost = ram;
    a.gpu_cost = 0.0;
    a
}

/// [`mock_set`] plus cluster idle: cluster1 CPU 5 + RAM 15, cluster2 CPU 5 +
/// RAM 5 (OpenCost's `GenerateMockAllocationSetClusterIdle`).
pub fn mock_set_cluster_idle(start: DateTime<Utc>) -> AllocationSet {
    let mut set = mock_set(start);
    let w = set.window();
    set.insert(idle("cluster1/__idle__", "cluster1", "", 5.0, 15.0, w));
    set.insert(idle("cluster2/__idle__", "cluster2", "", 5.0, 5.0, w));
    set
}

/// [`mock_set`] plus node idle (OpenCost's
/// `GenerateMockAllocationSetNodeIdle`).
pub fn mock_set_node_idle(start: DateTime<Utc>) -> AllocationSet {
    let mut set = mock_set(start);
    let w = set.window();
    set.insert(idle(
        "c1nodes/__idle__",
        "cluster1",
        "c1nodes",
        5.0,
        15.0,
        w,
    ));
    let third = 5.0 / 3.0;
    for node in ["node1", "node2", "node3"] {
        set.insert(idle(
            &format!("{node}/__idle__"),
            "cluster2",
            node,
            third,
            third,
            w,
        ));
    }
    set
}

/// A fixed day for property tests.
pub fn test_day() -> Window {
    day(DateTime::from_timestamp(1_700_006_400, 0).expect("valid timestamp"))
}

fn cost() -> impl Strategy<Value = f64> {
    prop_oneof![1 => Just(0.0), 4 => 0.0..100.0f64]
}

prop_compose! {
    /// A container allocation inside `w` with non-negative costs and
    /// properties drawn from small pools (so groups and collisions occur).
    pub fn arb_container(w: Window)(
        cluster in 0..3u8,
        node in 0..3u8,
        ns in 0..4u8,
        pod in 0..5u8,
        container in 0..2u8,
        controller in prop::option::of((0..3u8, 0..2u8)),
        app in prop::option::of(0..3u8),
        team in prop::option::of(0..2u8),
        service in prop::option::of(0..2u8),
        start_min in 0..1440i64,
        len_min in 0..1440i64,
        c in prop::array::uniform12(cost()),
        req in prop::array::uniform4(0.0..8.0f64),
    ) -> Allocation {
        let kinds = ["deployment", "statefulset", "daemonset"];
        let mut props = AllocationProperties {
            cluster: format!("cluster{cluster}").into(),
            node: format!("c{cluster}-node{node}").into(),
            namespace: format!("ns{ns}").into(),
            pod: format!("pod{pod}").into(),
            container: format!("container{container}").into(),
            provider_id: format!("c{cluster}-node{node}").into(),
            ..AllocationProperties::default()
        };
        if let Some((k, n)) = controller {
            props.controller_kind = kinds[k as usize].into();
            props.controller = format!("ctrl{n}").into();
        }
        if let Some(a) = app {
            props.labels.insert("app".into(), format!("app{a}"));
        }
        if let Some(t) = team {
            props.annotations.insert("team".into(), format!("team{t}"));
        }
        if let Some(s) = service {
            props.services = vec![format!("svc{s}").into()];
        }
        let name = format!(
            "{}/{}/{}/{}/{}",
            props.cluster, props.node, props.namespace, props.pod, props.container
        );
        let mut a = Allocation::new(name, w);
        let start = w.start() + TimeDelta::minutes(start_min);
        a.start = start;
        a.end = (start + TimeDelta::minutes(len_min)).min(w.end());
        a.properties = props;
        a.cpu_core_hours = c[0];
        a.cpu_cost = c[1];
        a.gpu_hours = c[2] / 10.0;
        a.gpu_cost = c[3];
        a.ram_byte_hours = c[4] * 1e9;
        a.ram_cost = c[5];
        a.network_cost = c[6];
        a.network_internet_cost = c[6];
        a.load_balancer_cost = c[7];
        a.external_cost = 0.0;
        a.cpu_cost_adjustment = c[8] / 10.0;
        a.cpu_core_request_average = req[0];
        a.cpu_core_usage_average = req[1];
        a.ram_bytes_request_average = req[2] * 1e9;
        a.ram_bytes_usage_average = req[3] * 1e9;
        if c[9] > 0.0 {
            a.pvs.insert(
                PvKey { cluster: a.properties.cluster.to_string(), name: format!("pv-{pod}") },
                PvAllocation { byte_hours: c[10] * 1e9, cost: c[9], provider_id: format!("vol-{pod}") },
            );
        }
        if c[11] > 50.0 {
            a.raw_allocation_only =
                Some(RawAllocationOnly { cpu_core_usage_max: req[1] * 2.0, ram_bytes_usage_max: req[3] * 2e9 });
        }
        a
    }
}

/// Idle allocations: one per cluster, or per node when `by_node`.
pub fn arb_idle(w: Window, by_node: bool) -> impl Strategy<Value = Vec<Allocation>> {
    let n = if by_node { 9 } else { 3 };
    prop::collection::vec((cost(), cost(), cost()), n).prop_map(move |costs| {
        costs
            .into_iter()
            .enumerate()
            .map(|(i, (cpu, gpu, ram))| {
                let cluster = if by_node { i / 3 } else { i };
                let node = if by_node {
                    format!("c{cluster}-node{}", i % 3)
                } else {
                    String::new()
                };
                let name = if by_node {
                    format!("cluster{cluster}/{node}/{IDLE}")
                } else {
                    format!("cluster{cluster}/{IDLE}")
                };
                let mut a = Allocation::new(name, w);
                a.properties.cluster = format!("cluster{cluster}").into();
                a.properties.node = node.into();
                a.cpu_cost = cpu;
                a.cpu_core_hours = cpu / 2.0;
                a.gpu_cost = gpu;
                a.ram_cost = ram;
                a.ram_byte_hours = ram * 1e9;
                a
            })
            .collect()
    })
}

/// A set of up to `max` containers in the test day, plus (optionally) idle
/// per cluster or node and an unmounted-PV allocation.
pub fn arb_set(max: usize) -> impl Strategy<Value = AllocationSet> {
    let w = test_day();
    (
        prop::collection::vec(arb_container(w), 0..max),
        prop::option::of(any::<bool>().prop_flat_map(move |by_node| arb_idle(w, by_node))),
        prop::option::of((0..3u8, cost())),
    )
        .prop_map(move |(containers, idle, unmounted)| {
            let mut set = AllocationSet::new(w);
            for a in containers.into_iter().chain(idle.into_iter().flatten()) {
                set.insert(a);
            }
            if let Some((cluster, c)) = unmounted {
                let name = format!("cluster{cluster}//{UNMOUNTED}/{UNMOUNTED}/{UNMOUNTED}");
                let mut a = Allocation::new(name, w);
                a.properties.cluster = format!("cluster{cluster}").into();
                a.properties.namespace = UNMOUNTED.into();
                a.properties.pod = UNMOUNTED.into();
                a.properties.container = UNMOUNTED.into();
                a.pvs.insert(
                    PvKey {
                        cluster: a.properties.cluster.to_string(),
                        name: "orphan".into(),
                    },
                    PvAllocation {
                        byte_hours: 1e9,
                        cost: c,
                        provider_id: String::new(),
                    },
                );
                set.insert(a);
            }
            set
        })
}
