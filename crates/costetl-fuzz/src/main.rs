//! `costetl-fuzz`: feeds mutated and random inputs to costetl's parsers and
//! fails on the first panic. A stable-toolchain harness (cargo-fuzz needs
//! nightly, which these machines do not have): coverage-blind, but cheap,
//! deterministic per seed, and run by CI as a smoke test.
//!
//! ```sh
//! cargo run --release -p costetl-fuzz -- all --seconds 600   # 10 minutes per target
//! cargo run --release -p costetl-fuzz -- promjson --seconds 60 --seed 7
//! ```
//!
//! Seeds come from `fuzz/corpus/<target>/`; an input that panics is
//! written to `fuzz/crashes/<target>/` and the run exits with 1.
//!
//! Map: `targets` (what each target parses), `mutate` (the mutator and its
//! PRNG), `run` (the time-boxed loop).

mod mutate;
mod run;
mod targets;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

fn usage() -> ExitCode {
    eprintln!(
        "usage: costetl-fuzz <{}|all> [--seconds N] [--seed S] [--root DIR]",
        targets::ALL
            .iter()
            .map(|t| t.name)
            .collect::<Vec<_>>()
            .join("|")
    );
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(which) = args.first() else {
        return usage();
    };
    let mut seconds = 10u64;
    let mut seed = 1u64;
    let mut root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz");
    let mut rest = args[1..].iter();
    while let Some(flag) = rest.next() {
        let value = rest.next();
        let ok = match (flag.as_str(), value) {
            ("--seconds", Some(v)) => v.parse().map(|v| seconds = v).is_ok(),
            ("--seed", Some(v)) => v.parse().map(|v| seed = v).is_ok(),
            ("--root", Some(v)) => {
                root = PathBuf::from(v);
                true
            }
            _ => false,
        };
        if !ok {
            return usage();
        }
    }
    let chosen: Vec<&targets::Target> = targets::ALL
        .iter()
        .filter(|t| which == "all" || t.name == which)
        .collect();
    if chosen.is_empty() {
        return usage();
    }
    let mut failed = false;
    for t in chosen {
        match run::fuzz(t, &root, Duration::from_secs(seconds), seed) {
            Ok(report) => {
                println!("{report}");
                failed |= report.panics > 0;
            }
            Err(e) => {
                eprintln!("{}: {e}", t.name);
                failed = true;
            }
        }
    }
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}
