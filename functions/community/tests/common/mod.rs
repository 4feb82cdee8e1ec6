//! The community function as it runs, people with names, and posts made through it.
#![allow(dead_code)]

use serde_json::{Value, json};
pub use shared::testing::*;
use sqlx::PgPool;
use uuid::Uuid;

pub fn harness(pool: PgPool) -> Harness {
    Harness::new(
        pool,
        "community",
        ::community::routes(),
        &[("RATE_LIMIT_GENERAL", "100000/minute")],
    )
}

/// Someone with a live session, and what could identify them.
pub struct Person {
    pub id: Uuid,
    pub token: String,
    pub nickname: String,
    pub email: String,
}

impl Person {
    pub fn token(&self) -> Option<&str> {
        Some(&self.token)
    }

    /// Whether `text` names this person in any way.
    pub fn named_in(&self, text: &str) -> bool {
        text.contains(&self.id.to_string())
            || text.contains(&self.id.simple().to_string())
            || text.contains(&self.nickname)
            || text.contains(&self.email)
    }
}

pub async fn person(h: &Harness) -> Person {
    let (id, token) = h.person().await;
    let (nickname, email): (String, String) =
        sqlx::query_as("SELECT nickname, email FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&h.admin)
            .await
            .unwrap();
    Person {
        id,
        token,
        nickname,
        email,
    }
}

/// `method path` as `who`, answered with `status`; the answer's `data`.
pub async fn expect(
    h: &Harness,
    who: &Person,
    method: &str,
    path: &str,
    body: Value,
    status: u16,
) -> Value {
    let a = h.call(method, path, who.token(), body).await;
    assert_eq!(a.status, status, "{method} {path}: {}", a.body);
    a.body["data"].clone()
}

/// A new post by `who` (201); its `data`.
pub async fn write_post(h: &Harness, who: &Person, body: Value) -> Value {
    expect(h, who, "POST", "/posts", body, 201).await
}

/// A plain post by `who` titled `title`; its id.
pub async fn post_titled(h: &Harness, who: &Person, title: &str) -> String {
    let post = write_post(
        h,
        who,
        json!({ "title": title, "content": "오늘 있었던 일", "category": "daily" }),
    )
    .await;
    post["id"].as_str().unwrap().to_owned()
}

/// The titles of a page's items, in order.
pub fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_owned())
        .collect()
}

/// The notifications `user` has, as `(kind, data)`, oldest first.
pub async fn notifications_of(h: &Harness, user: Uuid) -> Vec<(String, Value)> {
    sqlx::query_as("SELECT kind, data FROM notifications WHERE user_id = $1 ORDER BY id")
        .bind(user)
        .fetch_all(&h.admin)
        .await
        .unwrap()
}
