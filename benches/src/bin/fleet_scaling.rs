//! The 60k / 30k scaling ratio (issue 13), measured interleaved: both days
//! are generated once, then each round times the reference parse and the
//! stages of the end-to-end path (decode, compute, aggregate consuming the
//! set) on the 30k day and then on the 60k day. Criterion runs the two
//! days minutes apart, so a drift of this shared machine (a neighbour, the
//! CPU's clock) lands on one day only and moves the ratio by ±10%; here it
//! lands on both. Reported per stage: the 60k / 30k ratio of the medians,
//! of the minima and the median of the rounds' ratios, and the stage over
//! the same round's reference parse.
//!
//! `RAYON_NUM_THREADS=1|2 cargo run --release -p costetl-benches --bin fleet-scaling [-- --rounds N]`
//!
//! `--order labels` puts every body's series in label order, as one
//! Prometheus sends them; by default they are shuffled (a sharded query
//! frontend's or a merge's order, and the engine's worst case: its joins
//! then read their containers at random).
//!
//! To profile: `--only 30k|60k [--stage decode|compute|aggregate]` runs that
//! day's rounds alone (each stage's, by default) and says when they start.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use costetl_benches::{Day, Scale, decode_all, generate, into_aggregate_namespace_idle, reference};
use costetl_core::engine;

/// What one round measures, in order.
const STAGES: [&str; 5] = ["reference", "decode", "compute", "aggregate", "end_to_end"];

/// The command line.
struct Args {
    rounds: usize,
    /// `--only`: one day alone, for a profiler.
    only: Option<Scale>,
    /// `--stage`: with `--only`, that stage alone.
    stage: Option<Stage>,
    /// `--order labels`: every body's series in label order, as one
    /// Prometheus sends them (by default shuffled).
    in_label_order: bool,
}

/// A stage run alone for a profiler.
#[derive(Clone, Copy)]
enum Stage {
    Decode,
    Compute,
    Aggregate,
}

const USAGE: &str = "usage: fleet-scaling [--rounds N] [--order shuffled|labels] \
     [--only 30k|60k [--stage decode|compute|aggregate]]";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args = match parse_args(&args) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("{e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if let Some(scale) = args.only {
        profile(&scale, &args);
        return ExitCode::SUCCESS;
    }
    let rounds = args.rounds;
    let days = [Scale::FLEET_30K, Scale::FLEET_60K].map(|s| day(&s, args.in_label_order));
    for (name, day) in ["30k", "60k"].iter().zip(&days) {
        println!(
            "{name}: {} containers, {} response bytes",
            day.containers,
            day.total_bytes()
        );
    }
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_else(|_| "all".to_owned());
    let order = if args.in_label_order {
        "label"
    } else {
        "shuffled"
    };
    println!(
        "{rounds} rounds, {threads} threads (after one warm-up round), series in {order} order"
    );
    run_round(&days[0]);
    run_round(&days[1]);
    // times[day][stage][round]
    let mut times = [
        vec![Vec::new(); STAGES.len()],
        vec![Vec::new(); STAGES.len()],
    ];
    for _ in 0..rounds {
        for (day, t) in days.iter().zip(times.iter_mut()) {
            for (stage, d) in run_round(day).into_iter().enumerate() {
                t[stage].push(d.as_secs_f64() * 1e3);
            }
        }
    }
    report(&times);
    ExitCode::SUCCESS
}

fn parse_args(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args {
        rounds: 9,
        only: None,
        stage: None,
        in_label_order: false,
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let value = it.next().ok_or_else(|| format!("{flag} takes a value"))?;
        match (flag.as_str(), value.as_str()) {
            ("--rounds", n) => {
                parsed.rounds = (n.parse::<usize>().ok().filter(|&n| n > 0))
                    .ok_or_else(|| format!("--rounds takes a positive number, not {n:?}"))?
            }
            ("--only", "30k") => parsed.only = Some(Scale::FLEET_30K),
            ("--only", "60k") => parsed.only = Some(Scale::FLEET_60K),
            ("--stage", "decode") => parsed.stage = Some(Stage::Decode),
            ("--stage", "compute") => parsed.stage = Some(Stage::Compute),
            ("--stage", "aggregate") => parsed.stage = Some(Stage::Aggregate),
            ("--order", "shuffled") => parsed.in_label_order = false,
            ("--order", "labels") => parsed.in_label_order = true,
            ("--only" | "--stage" | "--order", v) => {
                return Err(format!("{flag} does not take {v:?}"));
            }
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    if parsed.stage.is_some() && parsed.only.is_none() {
        return Err("--stage needs --only".to_owned());
    }
    Ok(parsed)
}

/// For a profiler: `rounds` rounds of one day (of one stage, or all),
/// nothing reported but when the rounds start (stderr), to start sampling
/// then (`perf record -D <ms>`).
fn profile(scale: &Scale, args: &Args) {
    let (stage, rounds) = (args.stage, args.rounds);
    let t = Instant::now();
    let day = day(scale, args.in_label_order);
    let decode = || decode_all(&day.bodies).expect("the bodies decode");
    let compute = |r| engine::compute(day.window, r, &day.cfg).expect("compute");
    let ready = |t: Instant| eprintln!("rounds start after {:.1?}", t.elapsed());
    match stage {
        None => {
            ready(t);
            (0..rounds).for_each(|_| _ = run_round(&day));
        }
        Some(Stage::Decode) => {
            ready(t);
            (0..rounds).for_each(|_| drop(decode()));
        }
        Some(Stage::Compute) => {
            let results = decode();
            ready(t);
            (0..rounds).for_each(|_| drop(compute(&results)));
        }
        Some(Stage::Aggregate) => {
            // The end-to-end path consumes the set: one copy per round,
            // made before the rounds start.
            let set = compute(&decode());
            let sets: Vec<_> = (0..rounds).map(|_| set.clone()).collect();
            drop(set);
            ready(t);
            for set in sets {
                drop(into_aggregate_namespace_idle(set));
            }
        }
    }
}

/// The day of `scale`, its series shuffled or in label order.
fn day(scale: &Scale, in_label_order: bool) -> Day {
    let day = generate(scale);
    if in_label_order {
        day.in_label_order()
    } else {
        day
    }
}

/// One round on `day`: the reference parse, then decode, compute and
/// aggregate (the end-to-end path, timed per stage), as in [`STAGES`].
fn run_round(day: &Day) -> [Duration; 5] {
    let t = Instant::now();
    std::hint::black_box(reference::parse_all(&day.bodies));
    let parse = t.elapsed();
    let t = Instant::now();
    let results = decode_all(&day.bodies).expect("the bodies decode");
    let decode = t.elapsed();
    let t = Instant::now();
    let set = engine::compute(day.window, &results, &day.cfg).expect("compute");
    let compute = t.elapsed();
    drop(results);
    let t = Instant::now();
    std::hint::black_box(into_aggregate_namespace_idle(set)).expect("aggregate");
    let aggregate = t.elapsed();
    [
        parse,
        decode,
        compute,
        aggregate,
        decode + compute + aggregate,
    ]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// Per stage: the medians, the 60k / 30k ratio of the medians, of the
/// minima (the run least disturbed by the rest of the machine) and the
/// median of each round's ratio; and the stage over the reference parse of
/// the same round, per day.
fn report(times: &[Vec<Vec<f64>>; 2]) {
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    println!(
        "{:<11} {:>9} {:>9} | {:>8} {:>8} {:>8} | {:>8} {:>8}",
        "", "30k ms", "60k ms", "60k/30k", "60k/30k", "60k/30k", "/ref", "/ref"
    );
    println!(
        "{:<11} {:>9} {:>9} | {:>8} {:>8} {:>8} | {:>8} {:>8}",
        "stage", "median", "median", "medians", "minima", "rounds", "30k", "60k"
    );
    for (stage, name) in STAGES.iter().enumerate() {
        let (a, b) = (&times[0][stage], &times[1][stage]);
        let ratios: Vec<f64> = a.iter().zip(b).map(|(a, b)| b / a).collect();
        let over_ref = |day: usize| {
            let r: Vec<f64> = (times[day][stage].iter().zip(&times[day][0]))
                .map(|(s, r)| s / r)
                .collect();
            median(r)
        };
        let (ma, mb) = (median(a.clone()), median(b.clone()));
        println!(
            "{name:<11} {ma:>9.1} {mb:>9.1} | {:>8.3} {:>8.3} {:>8.3} | {:>8.3} {:>8.3}",
            mb / ma,
            min(b) / min(a),
            median(ratios),
            over_ref(0),
            over_ref(1),
        );
    }
}
