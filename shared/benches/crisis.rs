//! Time the crisis detector takes per message, over the evaluation set's messages:
//! `cargo bench -p shared --bench crisis` (docs/BENCHMARKS.md; target p99 ≤ 50 µs).

use std::time::Instant;

fn main() {
    let messages: Vec<&str> = include_str!("../tests/fixtures/crisis_eval.tsv")
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| l.rsplit('\t').next())
        .collect();
    // The pattern table is parsed on first use: not part of a message's time.
    let _ = shared::safety::assess("warm up");
    let mut times = Vec::with_capacity(messages.len() * 200);
    for _ in 0..200 {
        for message in &messages {
            let started = Instant::now();
            std::hint::black_box(shared::safety::assess(std::hint::black_box(message)));
            times.push(started.elapsed().as_nanos() as f64 / 1000.0);
        }
    }
    times.sort_by(|a, b| a.total_cmp(b));
    let at = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
    println!(
        "crisis detector, {} messages × 200: p50 {:.1} µs, p99 {:.1} µs, max {:.1} µs",
        messages.len(),
        at(0.50),
        at(0.99),
        at(1.0)
    );
}
