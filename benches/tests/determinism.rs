//! The engine's answer is a function of its input: the same results give
//! the same set to the last bit, run after run and whatever the number of
//! threads. Sums once taken in the iteration order of std's hash maps
//! (seeded anew per map) differed in their last bit from run to run; the
//! 30,000-container day is the smallest generated day with unmounted
//! volume cost summed from enough parts to show it.

use costetl_benches::{Scale, decode_all, generate};
use costetl_core::engine;

#[test]
fn compute_is_the_same_to_the_last_bit_whatever_the_run_or_thread_count() {
    let day = generate(&Scale::FLEET_30K);
    let results = decode_all(&day.bodies).unwrap();
    let run = |threads: usize| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| engine::compute(day.window, &results, &day.cfg).unwrap())
    };
    let first = run(1);
    assert!(first.len() > 30_000, "a day of 30,000 containers");
    for threads in [2, 1, 2] {
        let again = run(threads);
        let differs = first.iter().zip(again.iter()).find(|(a, b)| a != b);
        assert!(
            differs.is_none() && first.len() == again.len(),
            "{threads} threads: {:?} differs",
            differs.map(|(a, _)| &a.name)
        );
    }
}
