//! What sealing costs per value: `cargo bench -p shared --features sealing --bench sealing`
//! (docs/BENCHMARKS.md, "Encryption at rest"). A short note, a long one (the 2,000-character
//! limit, 6,000 bytes of Hangul) and a chat message.

use std::time::Instant;

use shared::sealing::{Keyring, columns};

fn main() {
    let keys = Keyring::parse("1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=").unwrap();
    let owner = uuid::Uuid::now_v7();
    for (name, text) in [
        (
            "note, 60 characters",
            "퇴근길에 비가 와서 우산 없이 걸었다. 생각보다 기분이 나쁘지 않았다, 정말로."
                .to_owned(),
        ),
        (
            "chat message, 300 characters",
            "오늘 하루는 어땠는지 천천히 이야기해 볼까요? ".repeat(12),
        ),
        ("note, 2,000 characters", "가".repeat(2000)),
    ] {
        let sealed = keys.seal(columns::EMOTION_NOTE, owner, &text);
        let mut seal = Vec::with_capacity(100_000);
        let mut open = Vec::with_capacity(100_000);
        for _ in 0..100_000 {
            let started = Instant::now();
            std::hint::black_box(keys.seal(
                columns::EMOTION_NOTE,
                owner,
                std::hint::black_box(&text),
            ));
            seal.push(started.elapsed().as_nanos() as f64 / 1000.0);
            let started = Instant::now();
            std::hint::black_box(
                keys.open(columns::EMOTION_NOTE, owner, std::hint::black_box(&sealed))
                    .unwrap(),
            );
            open.push(started.elapsed().as_nanos() as f64 / 1000.0);
        }
        let at = |times: &mut Vec<f64>, q: f64| {
            times.sort_by(|a, b| a.total_cmp(b));
            times[((times.len() as f64 * q) as usize).min(times.len() - 1)]
        };
        println!(
            "{name} ({} bytes): seal p50 {:.2} µs p99 {:.2} µs; open p50 {:.2} µs p99 {:.2} µs",
            text.len(),
            at(&mut seal, 0.5),
            at(&mut seal, 0.99),
            at(&mut open, 0.5),
            at(&mut open, 0.99)
        );
    }
}
