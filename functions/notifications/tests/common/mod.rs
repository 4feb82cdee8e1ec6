//! The notifications function as it runs, and notifications made through `notify` (the SQL
//! function community and challenges call inside their statements).
#![allow(dead_code)]

use serde_json::{Value, json};
use shared::domain::notifications::{self, Kind, Localized};
pub use shared::testing::*;
use sqlx::PgPool;
use uuid::Uuid;

pub fn harness(pool: PgPool) -> Harness {
    Harness::new(
        pool,
        "notifications",
        ::notifications::routes(),
        &[("RATE_LIMIT_GENERAL", "100000/minute")],
    )
}

/// Tells `user` something (`n` in the text), committed; its id.
pub async fn notify(h: &Harness, user: Uuid, kind: Kind, n: usize) -> Uuid {
    let mut tx = h.admin.begin().await.unwrap();
    let id = notifications::notify(
        &mut tx,
        user,
        kind,
        Localized {
            ko: &format!("알림 {n}"),
            en: &format!("Notice {n}"),
        },
        Localized {
            ko: "누군가 응원을 보냈어요",
            en: "Someone cheered you on",
        },
        &json!({ "n": n }),
    )
    .await
    .unwrap()
    .expect("the recipient exists");
    tx.commit().await.unwrap();
    id
}

/// `GET /notifications` with `query`; `data`.
pub async fn list(h: &Harness, token: &str, query: &str) -> Value {
    let a = h.call("GET", query, Some(token), Value::Null).await;
    assert_eq!(a.status, 200, "{}", a.body);
    a.body["data"].clone()
}

/// The `data.n` of each item, in order.
pub fn numbers(page: &Value) -> Vec<u64> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["data"]["n"].as_u64().unwrap())
        .collect()
}
