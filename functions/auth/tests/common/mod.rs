//! The auth function as it runs, with the `email-send` events it publishes captured.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::routing::post;
use serde_json::{Value, json};
use shared::AppState;
use shared::cache::Cache;
use shared::events::email::EmailRequest;
use shared::events::{Events, InProcessBus};
pub use shared::testing::*;
use shared::worker::{decode_payload, parse_envelope};
use sqlx::PgPool;

pub struct Harness {
    pub app: Router,
    pub state: AppState,
    mails: Arc<Mutex<Vec<EmailRequest>>>,
}

impl Harness {
    pub fn new(pool: PgPool, extra: &[(&str, &str)]) -> Self {
        Self::with_cache(pool, Cache::memory(), extra)
    }

    pub fn with_cache(pool: PgPool, cache: Cache, extra: &[(&str, &str)]) -> Self {
        let bus = Arc::new(InProcessBus::new());
        let mails = Arc::new(Mutex::new(Vec::new()));
        let captured = mails.clone();
        let capture = Router::new().route(
            "/push/email-send",
            post(move |body: Bytes| {
                let captured = captured.clone();
                async move {
                    let message = parse_envelope(&body).expect("a push envelope");
                    let request: EmailRequest =
                        decode_payload(&message.data).expect("an email request");
                    captured.lock().unwrap().push(request);
                    "ok"
                }
            }),
        );
        bus.attach_workers(capture);
        let state =
            AppState::from_parts(settings(extra), pool, cache, Events::InProcess(bus)).unwrap();
        let app = service_app(&state, "auth", auth::routes());
        Self { app, state, mails }
    }

    pub async fn call(&self, method: &str, path: &str, token: Option<&str>, body: Value) -> Answer {
        let body = (!body.is_null()).then(|| body.to_string());
        send(
            &self.app,
            json_request(method, path, token, body.as_deref()),
        )
        .await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call("POST", &format!("/api/v1/auth{path}"), None, body)
            .await
    }

    pub async fn post_from(&self, path: &str, body: Value, peer: [u8; 4]) -> Answer {
        send_from(
            &self.app,
            json_request(
                "POST",
                &format!("/api/v1/auth{path}"),
                None,
                Some(&body.to_string()),
            ),
            peer,
        )
        .await
    }

    /// Registers and returns `data` (`{user, tokens}`).
    pub async fn register(&self, email: &str, nickname: &str, password: &str) -> Value {
        let a = self
            .post(
                "/register",
                json!({ "email": email, "password": password, "nickname": nickname }),
            )
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
        a.body["data"].clone()
    }

    /// The emails published so far (waiting briefly for in-process delivery).
    pub async fn mails(&self, at_least: usize) -> Vec<EmailRequest> {
        for _ in 0..100 {
            let mails = self.mails.lock().unwrap().clone();
            if mails.len() >= at_least {
                return mails;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.mails.lock().unwrap().clone()
    }

    /// Waits for a moment and returns every email, for asserting that none was sent.
    pub async fn settled_mails(&self) -> Vec<EmailRequest> {
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.mails.lock().unwrap().clone()
    }
}

pub fn param(mail: &EmailRequest, name: &str) -> String {
    mail.params[name].as_str().unwrap().to_owned()
}
