//! The auth function as it runs ([`Harness`], with the `email-send` events it publishes
//! captured), and what its tests share.
#![allow(dead_code)]

use serde_json::{Value, json};
use shared::events::email::EmailRequest;
pub use shared::testing::*;
use sqlx::PgPool;

pub fn harness(pool: PgPool, extra: &[(&str, &str)]) -> Harness {
    Harness::new(pool, "auth", auth::routes(), extra)
}

/// Registers and returns `data` (`{user, tokens}`).
pub async fn register(h: &Harness, email: &str, nickname: &str, password: &str) -> Value {
    let a = h
        .post(
            "/register",
            json!({ "email": email, "password": password, "nickname": nickname }),
        )
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["data"].clone()
}

pub fn param(mail: &EmailRequest, name: &str) -> String {
    mail.params[name].as_str().unwrap().to_owned()
}

/// The value of `key` in the query of URL `location`.
pub fn query(location: &str, key: &str) -> Option<String> {
    reqwest::Url::parse(location)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.into_owned())
}

/// The app's PKCE verifier for the one-time code.
pub const APP_VERIFIER: &str = "the-app-verifier-kept-in-session-storage-0123456789";
/// Its S256 challenge: BASE64URL(SHA-256(verifier)).
pub const APP_CHALLENGE: &str = "-wozi0PsRhO7ci6UiYrf28aC4ZUF-ktPGQNwBqB4s8M";

/// Where the app sends the browser to sign in with `provider`.
pub fn start_path(provider: &str) -> String {
    format!("/{provider}?code_challenge={APP_CHALLENGE}&code_challenge_method=S256")
}
