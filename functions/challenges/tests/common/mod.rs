//! The challenges function as it runs, with its clock set by the tests.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
pub use shared::testing::*;
use sqlx::PgPool;
use uuid::Uuid;

pub fn harness(pool: PgPool) -> Harness {
    Harness::new(
        pool,
        "challenges",
        ::challenges::routes(),
        &[("RATE_LIMIT_GENERAL", "100000/minute")],
    )
}

/// From now on the function's clock reads `at` (RFC 3339).
pub fn at(h: &Harness, at: &str) {
    let at: DateTime<Utc> = at.parse().unwrap();
    h.state.clock.set(Some(at));
}

/// Someone living in `timezone`.
pub async fn person_in(h: &Harness, timezone: &str) -> (Uuid, String) {
    let (id, token) = h.person().await;
    move_to(h, id, timezone).await;
    (id, token)
}

pub async fn move_to(h: &Harness, user: Uuid, timezone: &str) {
    sqlx::query("UPDATE users SET timezone = $2 WHERE id = $1")
        .bind(user)
        .bind(timezone)
        .execute(&h.admin)
        .await
        .unwrap();
}

/// `method path` answered with `status`; the answer's `data` (or the whole error body).
pub async fn expect(
    h: &Harness,
    token: &str,
    method: &str,
    path: &str,
    body: Value,
    status: u16,
) -> Value {
    let a = h.call(method, path, Some(token), body).await;
    assert_eq!(a.status, status, "{method} {path}: {}", a.body);
    if a.status.is_success() {
        a.body["data"].clone()
    } else {
        a.body.clone()
    }
}

/// A new challenge of `target_days` starting on the local today; its id.
pub async fn start(h: &Harness, token: &str, title: &str, target_days: u32) -> String {
    let c = expect(
        h,
        token,
        "POST",
        "",
        json!({ "title": title, "target_days": target_days }),
        201,
    )
    .await;
    c["id"].as_str().unwrap().to_owned()
}

/// `PATCH {check_in: true}`.
pub async fn check_in(h: &Harness, token: &str, id: &str) -> shared::testing::Answer {
    h.call(
        "PATCH",
        &format!("/{id}"),
        Some(token),
        json!({ "check_in": true }),
    )
    .await
}

/// Asserts a 409 with `reason`.
pub fn refused(a: &shared::testing::Answer, reason: &str) {
    let error = assert_error(a, 409, "CONFLICT");
    assert_eq!(error["details"]["reason"], reason, "{error}");
}
