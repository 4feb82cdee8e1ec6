//! The per-request cost of checking an access token: signature and claims in full and
//! remembered, the session gate read from Redis, from its in-process copy (what most
//! authenticated requests do) and from the in-process fallback; and the wait of a revoking
//! request until every listening instance (here two) has dropped its copy. Needs
//! DATABASE_URL (migrated) and REDIS_URL: `./scripts/bench.sh accounts`.

use std::time::{Duration, Instant};

use shared::auth::{AccessClaims, Role, TokenKind};
use shared::cache::Cache;
use shared::domain::accounts::sessions;
use shared::testing::{access_token, settings, state};

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    let mean = samples.iter().sum::<Duration>() / samples.len() as u32;
    println!(
        "{name:<42} mean {:>7.1} µs   p50 {:>7.1} µs   p99 {:>7.1} µs   ({} runs)",
        us(mean),
        us(samples[samples.len() / 2]),
        us(samples[samples.len() * 99 / 100]),
        samples.len()
    );
}

async fn measure<F, Fut>(runs: usize, mut f: F) -> Vec<Duration>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    for _ in 0..runs / 10 {
        f().await;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        f().await;
        samples.push(start.elapsed());
    }
    samples
}

#[tokio::main]
async fn main() {
    let s = settings(&[]);
    let pool = shared::db::pool(&s.database).unwrap();
    for (label, cache) in [
        (
            "redis",
            Cache::connect(Some(&shared::testing::redis_url()), None).unwrap(),
        ),
        ("in-process", Cache::memory()),
    ] {
        let st = state(pool.clone(), cache, s.clone());
        let (_, token) = access_token(&st, Role::User).await;
        let claims: AccessClaims = st.tokens.verify(TokenKind::Access, &token).unwrap();
        if label == "redis" {
            let verify = measure(50_000, || async {
                st.tokens
                    .verify::<AccessClaims>(TokenKind::Access, &token)
                    .unwrap();
            })
            .await;
            report("JWT signature + claims, in full", verify);
            let remembered = measure(50_000, || async {
                st.tokens.verify_access(&token).unwrap();
            })
            .await;
            report("JWT remembered (verify_access)", remembered);
            // The first check fills the gate.
            sessions::check_access(&st, &claims).await.unwrap();
            let key = sessions::gate_key(claims.sid);
            let read = measure(20_000, || async {
                st.cache.get(&key).await.unwrap();
            })
            .await;
            report("session gate read from Redis", read);
        }
        let gate = measure(20_000, || async {
            sessions::check_access(&st, &claims).await.unwrap();
        })
        .await;
        let how = if label == "redis" {
            "in-process copy"
        } else {
            "in-process fallback"
        };
        report(&format!("session gate check ({how})"), gate);
    }

    // Two instances listening; each announcement waits for both acknowledgements.
    let (one, _two) = (
        Cache::connect(Some(&shared::testing::redis_url()), None).unwrap(),
        Cache::connect(Some(&shared::testing::redis_url()), None).unwrap(),
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let key = format!("bench:gate:{}", uuid::Uuid::new_v4());
    let announce = measure(2_000, || async {
        one.set_announced(&key, "revoked", Duration::from_secs(60))
            .await;
    })
    .await;
    report("revocation: write + wait for every instance", announce);
}
