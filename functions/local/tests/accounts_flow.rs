//! The whole accounts path through the local server: register → email-send event → email
//! worker → outbox file → verify-email with its token → the profile says verified.

mod common;

use std::time::Duration;

use common::*;
use serde_json::{Value, json};

async fn post(server: &LocalServer, path: &str, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut request = client().post(server.url(path)).json(&body);
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.unwrap();
    (
        response.status().as_u16(),
        response.json().await.unwrap_or(Value::Null),
    )
}

async fn outbox_mail(server: &LocalServer, count: usize) -> Vec<Value> {
    for _ in 0..100 {
        let mails = shared::testing::outbox(&server.outbox);
        if mails.len() >= count {
            return mails;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no email in the outbox");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn register_verify_and_use_the_account() {
    let server = LocalServer::start(&[("FRONTEND_URL", "http://localhost:5173")]).await;

    let (status, body) = post(&server, "/api/v1/auth/register", None, json!({ "email": "sky@example.com", "password": "correct horse battery", "nickname": "하늘" })).await;
    assert_eq!(status, 201, "{body}");
    let access = body["data"]["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    let mail = &outbox_mail(&server, 1).await[0];
    assert_eq!(mail["to"], "sky@example.com");
    assert_eq!(mail["template"], "welcome");
    let token = mail["params"]["token"].as_str().unwrap();
    assert_eq!(
        mail["params"]["link"],
        format!("http://localhost:5173/verify-email?token={token}")
    );

    let (status, body) = post(
        &server,
        "/api/v1/auth/verify-email",
        None,
        json!({ "token": token }),
    )
    .await;
    assert_eq!(
        (status, body["data"]["email_verified"].as_bool()),
        (200, Some(true)),
        "{body}"
    );

    let me: Value = client()
        .get(server.url("/api/v1/users/me"))
        .bearer_auth(&access)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["data"]["email_verified"], true);

    // The merged OpenAPI document lists both functions' paths.
    let (_, doc) = server.get("/openapi.json").await;
    for p in [
        "/api/v1/auth/register",
        "/api/v1/auth/login",
        "/api/v1/users/me",
        "/api/v1/users/me/password",
    ] {
        assert!(
            doc["paths"].get(p).is_some(),
            "{p} missing from /openapi.json"
        );
    }

    // The journal and the offline companion answer through the same server.
    let (status, log) = post(
        &server,
        "/api/v1/emotions",
        Some(&access),
        json!({ "emotion": "calm", "intensity": 3 }),
    )
    .await;
    assert_eq!(status, 201, "{log}");
    let (status, conversation) = post(
        &server,
        "/api/v1/chat/conversations",
        Some(&access),
        json!({}),
    )
    .await;
    assert_eq!(status, 201, "{conversation}");
    let id = conversation["data"]["id"].as_str().unwrap();
    let (status, exchange) = post(
        &server,
        &format!("/api/v1/chat/conversations/{id}/messages"),
        Some(&access),
        json!({ "content": "오늘은 평온했어" }),
    )
    .await;
    assert_eq!(status, 201, "{exchange}");
    assert_eq!(exchange["data"]["assistant_message"]["provider"], "offline");
    assert!(server.stop().await.success());
}

/// Issue 12 (M2): a refresh token issued before a password change is refused; the session
/// lives on with the refresh token the change answered with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_refuses_the_refresh_tokens_issued_before() {
    let server = LocalServer::start(&[]).await;
    let (_, body) = post(&server, "/api/v1/auth/register", None, json!({ "email": "sea@example.com", "password": "correct horse battery", "nickname": "바다" })).await;
    let tokens = &body["data"]["tokens"];
    let (access, refresh) = (
        tokens["access_token"].as_str().unwrap(),
        tokens["refresh_token"].as_str().unwrap(),
    );

    let changed = client()
        .patch(server.url("/api/v1/users/me/password"))
        .bearer_auth(access)
        .json(&json!({ "current_password": "correct horse battery", "new_password": "a brand new secret" }))
        .send()
        .await
        .unwrap();
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.unwrap();
    let new_refresh = changed["data"]["tokens"]["refresh_token"].as_str().unwrap();
    assert_ne!(new_refresh, refresh);

    let (status, body) = post(
        &server,
        "/api/v1/auth/refresh",
        None,
        json!({ "refresh_token": refresh }),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("UNAUTHORIZED")),
        "{body}"
    );
    let (status, body) = post(
        &server,
        "/api/v1/auth/refresh",
        None,
        json!({ "refresh_token": new_refresh }),
    )
    .await;
    assert_eq!(status, 200, "the session lives on: {body}");
    assert!(server.stop().await.success());
}
