//! The emotions function as it runs, and what its tests share.
#![allow(dead_code)]

use serde_json::{Value, json};
pub use shared::testing::*;
use sqlx::PgPool;
use uuid::Uuid;

pub fn harness(pool: PgPool) -> Harness {
    // The general limit is tested elsewhere; these tests write a lot.
    Harness::new(
        pool,
        "emotions",
        emotions::routes(),
        &[("RATE_LIMIT_GENERAL", "100000/minute")],
    )
}

/// A new person living in `timezone`: their id and access token.
pub async fn person(h: &Harness, timezone: &str) -> (Uuid, String) {
    let (id, token) = h.person().await;
    sqlx::query("UPDATE users SET timezone = $2 WHERE id = $1")
        .bind(id)
        .bind(timezone)
        .execute(&h.admin)
        .await
        .unwrap();
    (id, token)
}

/// Logs a feeling; the new log.
pub async fn log(
    h: &Harness,
    token: &str,
    emotion: &str,
    intensity: i64,
    at: &str,
    tags: &[&str],
) -> Value {
    let body =
        json!({ "emotion": emotion, "intensity": intensity, "recorded_at": at, "tags": tags });
    let a = h.call("POST", "", Some(token), body).await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["data"].clone()
}
