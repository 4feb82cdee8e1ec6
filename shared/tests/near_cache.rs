//! In-process copies of announced Redis values (session gates): used while the instance hears
//! every change, dropped on an announced change and on a lost subscriber connection.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use common::*;
use shared::auth::{AccessClaims, Role, TokenKind};
use shared::cache::Cache;
use shared::domain::accounts::sessions;
use sqlx::PgPool;

mod common;

const TTL: Duration = Duration::from_secs(60);

/// Polls `read` until it gives `want`, for up to five seconds.
async fn eventually<F, Fut>(want: &str, mut read: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<String>>,
{
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if read().await.as_deref() == Some(want) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    false
}

/// Waits until `cache` keeps copies (its subscriber is connected and subscribed): a plain,
/// unannounced write behind a fresh copy's back is then not seen.
async fn until_copies_are_kept(cache: &Cache, writer: &Cache) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        assert!(Instant::now() < deadline, "no copies kept");
        let key = unique_key();
        writer.set(&key, "old", TTL).await;
        assert_eq!(cache.get_near(&key).await.as_deref(), Some("old"));
        writer.set(&key, "new", TTL).await;
        if cache.get_near(&key).await.as_deref() == Some("old") {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Gives `reader` a copy of the new `key` that an unannounced write does not change.
async fn copied(reader: &Cache, writer: &Cache, key: &str) {
    until_copies_are_kept(reader, writer).await;
    writer.set(key, "copied", TTL).await;
    assert_eq!(reader.get_near(key).await.as_deref(), Some("copied"));
    writer.set(key, "unannounced", TTL).await;
    assert_eq!(reader.get_near(key).await.as_deref(), Some("copied"));
}

fn unique_key() -> String {
    format!("test:near:{}", uuid::Uuid::new_v4())
}

#[tokio::test]
async fn an_announced_change_reaches_every_instance() {
    let (one, two) = (redis_cache(), redis_cache());
    let key = unique_key();
    copied(&two, &one, &key).await;
    one.set_announced(&key, "changed", TTL).await;
    assert!(eventually("changed", || async { two.get_near(&key).await }).await);
    // The writer's own copy is dropped at once.
    let key = unique_key();
    copied(&one, &two, &key).await;
    one.set_announced(&key, "mine", TTL).await;
    assert_eq!(one.get_near(&key).await.as_deref(), Some("mine"));
}

#[tokio::test]
async fn gates_travel_encrypted_to_a_tls_redis() {
    // Started by scripts/services.sh: the same Redis on a TLS port, with a CA of its own
    // (Memorystore with transit encryption has its own CA too).
    let url = std::env::var("REDIS_TLS_URL").expect("REDIS_TLS_URL: run ./scripts/test.sh");
    let ca = std::fs::read_to_string(std::env::var("REDIS_TLS_CA_FILE").unwrap()).unwrap();
    let (one, two) = (
        Cache::connect(Some(&url), Some(&ca)).unwrap(),
        Cache::connect(Some(&url), Some(&ca)).unwrap(),
    );
    one.ping().await.unwrap();
    // Announcements travel the TLS connections too.
    let key = unique_key();
    copied(&two, &one, &key).await;
    one.set_announced(&key, "changed", TTL).await;
    assert!(eventually("changed", || async { two.get_near(&key).await }).await);

    // The system's authorities do not vouch for this server, and a plain client is refused.
    let untrusting = Cache::connect(Some(&url), None).unwrap();
    assert!(untrusting.ping().await.is_err());
    let plain = Cache::connect(Some(&url.replace("rediss://", "redis://")), None).unwrap();
    assert!(plain.ping().await.is_err());
    // A CA that is not PEM is a configuration error at start, not a silent fallback.
    assert!(Cache::connect(Some(&url), Some("not a certificate")).is_err());
}

#[tokio::test]
async fn copies_are_dropped_when_the_subscriber_connection_is_lost() {
    let (reader, writer) = (redis_cache(), redis_cache());
    let key = unique_key();
    copied(&reader, &writer, &key).await;
    // Changes published while a subscriber is away are lost to it: it must forget its copies.
    // (Other tests' subscribers reconnect too; they read Redis meanwhile.)
    let admin =
        fred::prelude::Builder::from_config(fred::prelude::Config::from_url(&redis_url()).unwrap())
            .build()
            .unwrap();
    fred::prelude::ClientLike::init(&admin).await.unwrap();
    let _: fred::types::Value = fred::prelude::ClientLike::custom(
        &admin,
        fred::types::CustomCommand::new_static("CLIENT", None, false),
        vec!["KILL", "TYPE", "pubsub"],
    )
    .await
    .unwrap();
    assert!(eventually("unannounced", || async { reader.get_near(&key).await }).await);
    // Once subscribed again, copies are kept again.
    until_copies_are_kept(&reader, &writer).await;
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_session_revoked_through_one_instance_is_refused_by_another(pool: PgPool) {
    let one = state(pool.clone(), redis_cache(), settings(&[]));
    let two = state(pool, redis_cache(), settings(&[]));
    let app = common::app(two.clone());
    until_copies_are_kept(&two.cache, &one.cache).await;
    let (user, token) = access_token(&one, Role::User).await;
    let claims: AccessClaims = one.tokens.verify(TokenKind::Access, &token).unwrap();
    // Instance two reads (and keeps) the open gate.
    for _ in 0..3 {
        let answer = send(&app, get_with_token("/api/v1/test/me", &token)).await;
        assert_eq!(answer.status, StatusCode::OK);
    }
    sessions::revoke(&one, user, claims.sid, "logout")
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let answer = send(&app, get_with_token("/api/v1/test/me", &token)).await;
        if answer.status == StatusCode::UNAUTHORIZED {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still not refused after revocation: {} {}",
            answer.status,
            answer.body
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
