//! The store as the SQL engines users query it with read it: `costetl etl
//! build` writes the bundled day, then DuckDB and Spark (local mode) run
//! the queries and DDL of `docs/etl.md` verbatim (`engines/run.py`). Their
//! per-cluster, per-namespace sums must equal `costetl allocation
//! --store`'s; a query naming clusters and a day must not open other
//! partitions (files there are garbage: the same query without its
//! `WHERE` fails on them); the Athena and Trino DDL, which no engine here
//! can run, are parsed with sqlglot, and every DDL's columns must be the
//! version-2 schema's, with matching types.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

const DAY: &str = "2023-11-14T00:00:00Z,2023-11-15T00:00:00Z";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn costetl(args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_costetl"))
        .args(args)
        .current_dir(root())
        .output()
        .expect("the costetl binary runs");
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `engines/run.py <args>` with the docs; its output, successful or not.
fn run_py(args: &[&str]) -> Output {
    let script = root().join("crates/costetl-cli/tests/engines/run.py");
    let docs = root().join("docs/etl.md");
    Command::new("python3")
        .arg(script)
        .arg(args[0])
        .arg(docs)
        .args(&args[1..])
        .output()
        .expect("python3 runs")
}

fn stdout_json(out: &Output, what: &str) -> Value {
    assert!(
        out.status.success(),
        "{what} failed (bash .ci/run installs duckdb, pyspark and sqlglot with pip, and \
         Java for Spark): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The store with the bundled day, and what `allocation --store` says per
/// `cluster/namespace` (and `__idle__`).
fn store_and_costetl_totals(dir: &Path) -> (String, BTreeMap<String, f64>) {
    let store = dir.join("store");
    let st = store.to_str().unwrap().to_owned();
    let capture = "fixtures/two-clusters-day";
    costetl(&[
        "etl",
        "build",
        "--fixtures",
        capture,
        "--window",
        DAY,
        "--store",
        &st,
    ]);
    let out = costetl(&[
        "allocation",
        "--store",
        &st,
        "--window",
        DAY,
        "--aggregate",
        "cluster,namespace",
        "--idle",
        "--format",
        "json",
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let totals = v["data"][0]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, a)| (k.clone(), a["totalCost"].as_f64().unwrap()))
        .collect();
    (st, totals)
}

/// Files no query of the docs may open: another cluster's partition on
/// the day, another day's partition of a cluster queried, and a staging
/// file inside a queried partition. The first two sort
/// after a real file: DuckDB binds the schema from the glob's first file,
/// pruned or not.
fn plant_garbage(store: &str) {
    for dir in [
        "allocations/resolution=1d/cluster=zz-elsewhere/day=2023-11-14",
        "allocations/resolution=1d/cluster=prod-eu/day=2023-11-15",
    ] {
        let dir = Path::new(store).join(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("0-86400.parquet"), b"not parquet at all").unwrap();
    }
    // What a directory store leaves in a queried partition while it
    // writes (or after a crash): hidden by its leading dot, so engines
    // that read every file of a partition skip it.
    let queried = Path::new(store).join("allocations/resolution=1d/cluster=prod-eu/day=2023-11-14");
    std::fs::write(
        queried.join(".1699920000-1700006400.parquet.costetl-staging"),
        b"half a file",
    )
    .unwrap();
}

#[test]
fn duckdb_and_spark_prune_partitions_and_sum_like_costetl() {
    let dir = tempfile::tempdir().unwrap();
    let (store, want) = store_and_costetl_totals(dir.path());
    assert!(want.contains_key("__idle__"), "{want:?}");
    plant_garbage(&store);
    for engine in ["duckdb", "spark"] {
        let rows = stdout_json(&run_py(&[engine, &store]), engine);
        let mut got: BTreeMap<String, f64> = BTreeMap::new();
        for r in rows.as_array().unwrap() {
            let (cluster, namespace) = (r[0].as_str().unwrap(), r[1].as_str().unwrap());
            // costetl's aggregation keys idle `__idle__` across clusters;
            // the query keeps it per cluster.
            let key = match namespace {
                "__idle__" => namespace.to_owned(),
                _ => format!("{cluster}/{namespace}"),
            };
            *got.entry(key).or_default() += r[2].as_f64().unwrap();
        }
        assert_eq!(
            got.keys().collect::<Vec<_>>(),
            want.keys().collect::<Vec<_>>(),
            "{engine}"
        );
        for (key, cost) in &want {
            // costetl's JSON has five decimals, as OpenCost's.
            let sql = got[key];
            assert!(
                (sql - cost).abs() <= 5e-6,
                "{engine} {key}: {sql} vs costetl {cost}"
            );
        }
        // The control: without its WHERE the query opens the garbage.
        let control = run_py(&[engine, &store, "--unpruned"]);
        assert!(
            !control.status.success(),
            "{engine} read every partition without failing: the garbage files are not where \
             a pruned query would have opened them"
        );
    }
}

/// `name: type` of each column of the golden v2 schema, the type reduced
/// to its family.
fn golden_v2() -> Vec<(String, &'static str)> {
    let text =
        std::fs::read_to_string(root().join("fixtures/etl/allocations-v2.schema.txt")).unwrap();
    text.lines()
        .map(|l| {
            let (name, ty) = l.split_once(": ").unwrap();
            (name.to_owned(), family(ty))
        })
        .collect()
}

/// A type's family, in Arrow's golden spelling or any engine's SQL.
fn family(ty: &str) -> &'static str {
    let t = ty.to_ascii_lowercase();
    [
        ("utf8", "string"),
        ("varchar", "string"),
        ("string", "string"),
        ("float64", "double"),
        ("double", "double"),
        ("bool", "boolean"),
        ("timestamp", "timestamp"),
        ("list<", "array"),
        ("array", "array"),
        ("map", "map"),
        ("date", "date"),
    ]
    .iter()
    .find(|(prefix, _)| t.starts_with(prefix))
    .map_or("unknown", |(_, f)| f)
}

#[test]
fn every_engines_ddl_parses_and_has_the_v2_columns() {
    let parsed = stdout_json(&run_py(&["parse"]), "sqlglot");
    let golden = golden_v2();
    let without_cluster: Vec<_> = (golden.iter())
        .filter(|(n, _)| n != "cluster")
        .cloned()
        .collect();
    let day = ("day".to_owned(), "date");
    let cluster = ("cluster".to_owned(), "string");
    let expected: [(&str, Vec<(String, &str)>); 3] = [
        // Athena declares the partitions apart (and `day` as text).
        ("Athena", without_cluster.clone()),
        (
            "Trino",
            [without_cluster, vec![cluster, day.clone()]].concat(),
        ),
        ("Spark SQL", [golden, vec![day]].concat()),
    ];
    for (engine, want) in expected {
        let columns: Vec<(String, &str)> = parsed[engine]["columns"]
            .as_array()
            .unwrap_or_else(|| panic!("no CREATE TABLE for {engine}: {parsed}"))
            .iter()
            .map(|c| {
                (
                    c[0].as_str().unwrap().to_owned(),
                    family(c[1].as_str().unwrap()),
                )
            })
            .collect();
        assert_eq!(columns, want, "{engine}");
        let partitions: Vec<&str> = (parsed[engine]["partitioned_by"].as_array().unwrap())
            .iter()
            .map(|p| p[0].as_str().unwrap())
            .collect();
        assert_eq!(partitions, ["cluster", "day"], "{engine}");
    }
}
