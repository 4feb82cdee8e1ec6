//! Issue 22, tried as a load balancer spreading one person's requests over two instances
//! would: two server processes on one PostgreSQL and Redis; the token is used on B, the
//! person logs out on A, and the moment logout answers the same token goes to B again.
//! (`shared/tests/revocation.rs` runs 1,000 trials of each kind of revocation in one
//! process; these 200 go through the real binaries and HTTP.)

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::*;
use serde_json::json;
use shared::auth::Role;
use shared::domain::accounts::sessions;
use uuid::Uuid;

const TRIALS: usize = 200;
const PARALLEL: usize = 8;

/// The client address these requests claim through the one proxy hop the servers trust: the
/// per-address counters live in the Redis every test shares.
fn forwarded_for() -> String {
    static PEER: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PEER.get_or_init(|| {
        let n = Uuid::new_v4().as_u128();
        format!("10.23.{}.{}", (n >> 8) as u8, (n as u8) | 1)
    })
    .clone()
}

async fn me(server: &LocalServer, token: &str) -> u16 {
    client()
        .get(server.url("/api/v1/users/me"))
        .header("x-forwarded-for", forwarded_for())
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// A new person with `n` sessions, made as login would make them (login's argon2 is not
/// under test).
async fn person_with_sessions(state: &shared::AppState, n: usize) -> Vec<sessions::Tokens> {
    let user = Uuid::now_v7();
    let tag = user.simple().to_string();
    sqlx::query("INSERT INTO users (id, email, nickname) VALUES ($1, $2, $3)")
        .bind(user)
        .bind(format!("{tag}@example.com"))
        .bind(&tag[tag.len() - 20..])
        .execute(&state.db)
        .await
        .unwrap();
    let mut conn = state.db.acquire().await.unwrap();
    let mut tokens = Vec::new();
    for _ in 0..n {
        tokens.push(
            sessions::start(state, &mut conn, user, Role::User)
                .await
                .unwrap(),
        );
    }
    tokens
}

async fn logout(server: &LocalServer, refresh_token: &str) -> u16 {
    client()
        .post(server.url("/api/v1/auth/logout"))
        .header("x-forwarded-for", forwarded_for())
        .json(&json!({ "refresh_token": refresh_token }))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_instance_accepts_a_token_once_logout_answers() {
    let redis = shared::testing::redis_url();
    let limits = "100000000/minute";
    let vars = [
        ("REDIS_URL", redis.as_str()),
        ("RATE_LIMIT_GENERAL", limits),
        ("TRUSTED_PROXY_HOPS", "1"),
    ];
    let a = Arc::new(LocalServer::start(&vars).await);
    let b = Arc::new(LocalServer::beside(&a, &vars).await);
    // Sessions are made here, as login would make them (login's argon2 is not under test).
    let pool = sqlx::PgPool::connect(&a.database_url()).await.unwrap();
    let state = shared::testing::state(
        pool,
        shared::cache::Cache::memory(),
        shared::testing::settings(&[]),
    );

    let stale = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..PARALLEL {
        let (a, b, state, stale, next) = (
            a.clone(),
            b.clone(),
            state.clone(),
            stale.clone(),
            next.clone(),
        );
        workers.push(tokio::spawn(async move {
            while next.fetch_add(1, Ordering::SeqCst) < TRIALS {
                let tokens = person_with_sessions(&state, 1).await.remove(0);
                assert_eq!(me(&b, &tokens.access_token).await, 200);
                assert_eq!(logout(&a, &tokens.refresh_token).await, 200);
                if me(&b, &tokens.access_token).await == 200 {
                    stale.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    assert_eq!(
        stale.load(Ordering::SeqCst),
        0,
        "tokens accepted by B after logout answered on A"
    );
}

/// Issue 22's outage: Redis freezes under two loaded instances, then comes back with what it
/// held.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_degrades_the_api_and_leaves_nothing_stale() {
    let redis = ThrowawayRedis::start().await;
    let vars = [
        ("REDIS_URL", redis.url.as_str()),
        ("TRUSTED_PROXY_HOPS", "1"),
    ];
    let a = LocalServer::start(&vars).await;
    let b = LocalServer::beside(&a, &vars).await;
    let pool = sqlx::PgPool::connect(&a.database_url()).await.unwrap();
    let state = shared::testing::state(
        pool,
        shared::cache::Cache::memory(),
        shared::testing::settings(&[]),
    );
    let [kept, ended] = <[_; 2]>::try_from(person_with_sessions(&state, 2).await).unwrap();
    // Both gates are open in Redis (and in B's copies).
    assert_eq!(me(&b, &kept.access_token).await, 200);
    assert_eq!(me(&b, &ended.access_token).await, 200);

    // Load through both instances for the whole outage and the recovery: every answer 200.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load: Vec<_> = (0..4)
        .map(|i| {
            let (server, token, done) = (
                if i % 2 == 0 {
                    a.base.clone()
                } else {
                    b.base.clone()
                },
                kept.access_token.clone(),
                done.clone(),
            );
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0, Vec::new());
                while !done.load(Ordering::SeqCst) {
                    let status = client()
                        .get(format!("{server}/api/v1/users/me"))
                        .header("x-forwarded-for", forwarded_for())
                        .bearer_auth(&token)
                        .send()
                        .await
                        .map(|r| r.status().as_u16())
                        .unwrap_or(0);
                    if status == 200 {
                        ok += 1;
                    } else {
                        failed.push(status);
                    }
                }
                (ok, failed)
            })
        })
        .collect();

    redis.freeze();
    // Reads and writes keep answering; the gates come from the database.
    assert_eq!(me(&a, &kept.access_token).await, 200);
    assert_eq!(me(&b, &kept.access_token).await, 200);
    let logged = client()
        .post(a.url("/api/v1/emotions"))
        .header("x-forwarded-for", forwarded_for())
        .bearer_auth(&kept.access_token)
        .json(&json!({ "emotion": "calm", "intensity": 3 }))
        .send()
        .await
        .unwrap();
    assert_eq!(logged.status(), 201);
    // A session ended during the outage is refused at once, everywhere.
    assert_eq!(logout(&a, &ended.refresh_token).await, 200);
    assert_eq!(me(&b, &ended.access_token).await, 401);
    // Login attempts are still limited (per instance now): the sixth is refused.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let attempt = client()
            .post(a.url("/api/v1/auth/login"))
            .header("x-forwarded-for", "10.99.0.1")
            .json(&json!({ "email": "nobody@example.com", "password": "wrong password" }))
            .send()
            .await
            .unwrap();
        statuses.push(attempt.status().as_u16());
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    // Degraded, still in service.
    let (status, ready) = a.get("/health/ready").await;
    assert_eq!(
        (status, ready["data"]["redis"].as_str()),
        (200, Some("degraded"))
    );

    redis.thaw();
    for server in [&a, &b] {
        let mut back = false;
        for _ in 0..100 {
            if server.get("/health/ready").await.1["data"]["redis"] == "ok" {
                back = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(back, "Redis is used again without a restart");
    }
    done.store(true, Ordering::SeqCst);
    for task in load {
        let (ok, failed) = task.await.unwrap();
        assert!(
            ok > 0 && failed.is_empty(),
            "{ok} answered 200, then {failed:?}"
        );
    }
    // Redis still holds the ended session's open gate: it must never be read again.
    assert_eq!(me(&b, &ended.access_token).await, 401);
    assert_eq!(me(&a, &ended.access_token).await, 401);
    assert_eq!(me(&b, &kept.access_token).await, 200);
    let list = client()
        .get(b.url("/api/v1/emotions"))
        .header("x-forwarded-for", forwarded_for())
        .bearer_auth(&kept.access_token)
        .send()
        .await
        .unwrap();
    let list: serde_json::Value = list.json().await.unwrap();
    assert_eq!(list["data"]["items"].as_array().unwrap().len(), 1);
}
