//! The time-boxed loop of one target: mutate, run under `catch_unwind`,
//! keep accepted inputs as new seeds, write the first input that panics.

use std::fmt;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::mutate::{MAX_LEN, Rng, mutate};
use crate::targets::Target;

/// Accepted mutants kept as seeds, at most.
const POOL: usize = 512;

/// What one target's run did.
pub(crate) struct Report {
    name: &'static str,
    seeds: usize,
    execs: u64,
    accepted: u64,
    pub(crate) panics: u64,
    seconds: f64,
    crash: Option<String>,
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {} inputs in {:.0} s ({:.0}/s) from {} seeds, {} accepted, {} panics",
            self.name,
            self.execs,
            self.seconds,
            self.execs as f64 / self.seconds.max(1e-9),
            self.seeds,
            self.accepted,
            self.panics
        )?;
        if let Some(c) = &self.crash {
            write!(f, "\n  {c}")?;
        }
        Ok(())
    }
}

/// The message of the last panic, caught by the hook.
static LAST_PANIC: Mutex<Option<String>> = Mutex::new(None);

/// Fuzz `t` for `budget` from the seeds under `root/corpus/<name>`.
pub(crate) fn fuzz(t: &Target, root: &Path, budget: Duration, seed: u64) -> Result<Report, String> {
    let corpus = load(&root.join("corpus").join(t.name))?;
    panic::set_hook(Box::new(|info| {
        if let Ok(mut last) = LAST_PANIC.lock() {
            *last = Some(info.to_string());
        }
    }));
    let mut rng = Rng::new(seed);
    let mut pool: Vec<Vec<u8>> = Vec::new();
    let mut report = Report {
        name: t.name,
        seeds: corpus.len(),
        execs: 0,
        accepted: 0,
        panics: 0,
        seconds: 0.0,
        crash: None,
    };
    let started = Instant::now();
    // The seeds themselves first: a panic there is the simplest finding.
    let mut seeds = corpus.iter().cloned();
    while started.elapsed() < budget {
        let input = match seeds.next() {
            Some(s) => s,
            None => {
                let base = pick(&mut rng, &corpus, &pool);
                let other = pick(&mut rng, &corpus, &pool);
                if rng.below(64) == 0 {
                    (0..rng.below(MAX_LEN.min(4096)))
                        .map(|_| rng.next() as u8)
                        .collect()
                } else {
                    mutate(&mut rng, base, other)
                }
            }
        };
        report.execs += 1;
        match panic::catch_unwind(AssertUnwindSafe(|| (t.run)(&input))) {
            Ok(true) => {
                report.accepted += 1;
                if pool.len() < POOL {
                    pool.push(input);
                } else {
                    let i = rng.below(POOL);
                    pool[i] = input;
                }
            }
            Ok(false) => {}
            Err(_) => {
                report.panics += 1;
                let message = LAST_PANIC
                    .lock()
                    .ok()
                    .and_then(|mut m| m.take())
                    .unwrap_or_default();
                report.crash = Some(save(root, t.name, &input, &message)?);
                break;
            }
        }
    }
    let _ = panic::take_hook();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

fn pick<'a>(rng: &mut Rng, corpus: &'a [Vec<u8>], pool: &'a [Vec<u8>]) -> &'a [u8] {
    if !pool.is_empty() && rng.below(2) == 0 {
        &pool[rng.below(pool.len())]
    } else {
        &corpus[rng.below(corpus.len())]
    }
}

fn load(dir: &Path) -> Result<Vec<Vec<u8>>, String> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| format!("corpus {}: {e}", dir.display()))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    let seeds: Vec<Vec<u8>> = entries
        .iter()
        .filter_map(|p| std::fs::read(p).ok())
        .collect();
    if seeds.is_empty() {
        return Err(format!("corpus {} has no seeds", dir.display()));
    }
    Ok(seeds)
}

/// Writes the panicking input under `root/crashes/<name>/` and says where.
fn save(root: &Path, name: &str, input: &[u8], message: &str) -> Result<String, String> {
    let dir = root.join("crashes").join(name);
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    // FNV-1a: one file per distinct input.
    let hash = input.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    let path = dir.join(format!("{hash:016x}"));
    std::fs::write(&path, input).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(format!(
        "PANIC ({message}); input saved to {}",
        path.display()
    ))
}
