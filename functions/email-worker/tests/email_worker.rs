//! The email worker against a wiremock SendGrid (success, 429, 500, 400), the outbox, one
//! email per message id, and delivery through the Pub/Sub emulator when it is present.

use std::time::Duration;

use base64::Engine;
use serde_json::{Value, json};
use shared::AppState;
use shared::cache::Cache;
use shared::events::email::EmailEvent;
use shared::testing::*;
use sqlx::PgPool;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The worker's state on `pool`, running as the worker's database role.
fn worker_state(pool: &PgPool, settings: shared::config::Settings) -> AppState {
    state(as_function(pool, "email-worker"), Cache::memory(), settings)
}

fn worker(state: AppState) -> axum::Router {
    let routes = email_worker::routes(&state).unwrap();
    shared::runtime::app(state, routes, shared::openapi::base("email-worker"))
}

fn push(id: &str, payload: Value) -> String {
    json!({
        "message": {
            "data": base64::engine::general_purpose::STANDARD.encode(payload.to_string()),
            "messageId": id, "message_id": id, "publishTime": "2026-11-26T00:00:00Z",
        },
        "subscription": "projects/p/subscriptions/email-send-push",
    })
    .to_string()
}

fn welcome() -> Value {
    json!({
        "version": 1, "kind": "send", "template": "welcome", "to": "sky@example.com", "locale": "ko",
        "params": { "nickname": "하늘", "token": "tok-123", "link": "https://app/verify-email?token=tok-123" },
    })
}

fn sendgrid_settings(server: &MockServer) -> shared::config::Settings {
    settings(&[
        ("MAIL_PROVIDER", "sendgrid"),
        ("SENDGRID_API_KEY", "SG.test-key"),
        ("SENDGRID_BASE_URL", &server.uri()),
        ("SENDGRID_FROM_EMAIL", "noreply@mindpause.kr"),
    ])
}

async fn with_sendgrid(pool: PgPool, status: u16) -> (MockServer, axum::Router) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .and(header("authorization", "Bearer SG.test-key"))
        .respond_with(ResponseTemplate::new(status))
        .mount(&server)
        .await;
    let s = sendgrid_settings(&server);
    (server, worker(worker_state(&pool, s)))
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn sends_through_sendgrid_once_per_message(pool: PgPool) {
    let (server, app) = with_sendgrid(pool, 202).await;
    let a = send(&app, post_json("/push/email-send", &push("m-1", welcome()))).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["data"]["status"], "processed");
    let again = send(&app, post_json("/push/email-send", &push("m-1", welcome()))).await;
    assert_eq!(again.body["data"]["status"], "duplicate");

    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "a redelivery sends nothing");
    let body: Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(
        body["personalizations"][0]["to"][0]["email"],
        "sky@example.com"
    );
    assert_eq!(body["from"]["email"], "noreply@mindpause.kr");
    assert_eq!(body["subject"], "마음쉼표에 오신 것을 환영해요");
    assert_eq!(body["content"][0]["type"], "text/plain");
    assert_eq!(body["content"][1]["type"], "text/html");
    assert!(
        body["content"][0]["value"]
            .as_str()
            .unwrap()
            .contains("https://app/verify-email?token=tok-123")
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn throttling_and_outages_are_retried(pool: PgPool) {
    for status in [429, 500, 503] {
        let (server, app) = with_sendgrid(pool.clone(), status).await;
        let id = format!("m-{status}");
        let a = send(&app, post_json("/push/email-send", &push(&id, welcome()))).await;
        assert_error(&a, 503, "SERVICE_UNAVAILABLE");
        // Nothing was recorded: the redelivery tries again.
        let again = send(&app, post_json("/push/email-send", &push(&id, welcome()))).await;
        assert_eq!(again.status, 503);
        assert_eq!(
            server.received_requests().await.unwrap().len(),
            2,
            "{status}"
        );
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn refusals_are_permanent(pool: PgPool) {
    let (server, app) = with_sendgrid(pool, 400).await;
    let a = send(
        &app,
        post_json("/push/email-send", &push("m-400", welcome())),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["data"]["status"], "discarded");
    let again = send(
        &app,
        post_json("/push/email-send", &push("m-400", welcome())),
    )
    .await;
    assert_eq!(again.body["data"]["status"], "duplicate");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);

    // A request the templates cannot render never reaches SendGrid.
    let broken = json!({ "version": 1, "kind": "send", "template": "password_reset", "to": "a@example.com", "locale": "en", "params": {} });
    let a = send(
        &app,
        post_json("/push/email-send", &push("m-broken", broken)),
    )
    .await;
    assert_eq!(a.body["data"]["status"], "discarded");
    let unknown = json!({ "version": 1, "kind": "send", "template": "newsletter", "to": "a@example.com", "locale": "en", "params": {} });
    let a = send(
        &app,
        post_json("/push/email-send", &push("m-unknown", unknown)),
    )
    .await;
    assert_eq!(a.body["data"]["status"], "discarded");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_reset_request_becomes_a_link_only_for_an_account(pool: PgPool) {
    sqlx::query(
        "INSERT INTO users (id, email, nickname, locale) VALUES ($1, 'sky@example.com', '하늘', 'en')",
    )
    .bind(uuid::Uuid::now_v7())
    .execute(&pool)
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("outbox-{}", uuid::Uuid::new_v4()));
    let s = settings(&[
        ("EMAIL_OUTBOX_DIR", dir.to_str().unwrap()),
        ("FRONTEND_URL", "https://app.mindpause.kr"),
    ]);
    let app = worker(worker_state(&pool, s));
    let reset =
        |email: &str| json!({ "version": 1, "kind": "password_reset_requested", "email": email });

    let a = send(
        &app,
        post_json("/push/email-send", &push("m-1", reset("Sky@example.com"))),
    )
    .await;
    assert_eq!(a.body["data"]["status"], "processed", "{}", a.body);
    let files = outbox(&dir);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["template"], "password_reset");
    assert_eq!(files[0]["to"], "sky@example.com");
    assert_eq!(
        files[0]["subject"], "Reset your MindPause password",
        "in the account's language"
    );
    let token = files[0]["params"]["token"].as_str().unwrap().to_owned();
    assert_eq!(
        files[0]["params"]["link"],
        format!("https://app.mindpause.kr/reset-password?token={token}")
    );
    let tokens: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM one_time_tokens WHERE purpose = 'password_reset' AND used_at IS NULL",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(tokens, 1, "the emailed token is committed");

    // An address without an account: acked and recorded like any other, nothing sent.
    let a = send(
        &app,
        post_json(
            "/push/email-send",
            &push("m-2", reset("nobody@example.com")),
        ),
    )
    .await;
    assert_eq!(a.body["data"]["status"], "processed");
    let again = send(
        &app,
        post_json(
            "/push/email-send",
            &push("m-2", reset("nobody@example.com")),
        ),
    )
    .await;
    assert_eq!(again.body["data"]["status"], "duplicate");
    assert_eq!(outbox(&dir).len(), 1);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn no_connection_is_held_while_sendgrid_answers(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v3/mail/send"))
        .respond_with(ResponseTemplate::new(202).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let s = sendgrid_settings(&server);
    // One connection for the whole worker: if the send held it, nothing else could run.
    let one = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(pool.connect_options().as_ref().clone())
        .await
        .unwrap();
    let app = worker(state(one.clone(), Cache::memory(), s));
    let sending = tokio::spawn({
        let app = app.clone();
        async move { send(&app, post_json("/push/email-send", &push("m-1", welcome()))).await }
    });
    while server.received_requests().await.unwrap().is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // SendGrid is still answering; the only connection is free.
    let free = tokio::time::timeout(Duration::from_secs(2), one.acquire()).await;
    assert!(
        free.is_ok(),
        "the worker holds its connection while sending"
    );
    drop(free);
    assert!(!sending.is_finished());
    assert_eq!(sending.await.unwrap().body["data"]["status"], "processed");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_outbox_keeps_one_file_per_email(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("outbox-{}", uuid::Uuid::new_v4()));
    let s = settings(&[("EMAIL_OUTBOX_DIR", dir.to_str().unwrap())]);
    let app = worker(worker_state(&pool, s));
    assert_eq!(
        send(&app, post_json("/push/email-send", &push("m-1", welcome())))
            .await
            .status,
        200
    );
    send(&app, post_json("/push/email-send", &push("m-1", welcome()))).await;
    let files = outbox(&dir);
    assert_eq!(files.len(), 1);
    // A request published before events were tagged (in flight during a rollout) is sent.
    let mut untagged = welcome();
    untagged.as_object_mut().unwrap().remove("kind");
    let a = send(
        &app,
        post_json("/push/email-send", &push("m-old", untagged)),
    )
    .await;
    assert_eq!(a.body["data"]["status"], "processed", "{}", a.body);
    assert_eq!(outbox(&dir).len(), 2);
    let mail = &files[0];
    assert_eq!(mail["to"], "sky@example.com");
    assert_eq!(mail["template"], "welcome");
    assert_eq!(mail["params"]["token"], "tok-123");
    assert_eq!(
        mail["params"]["link"],
        "https://app/verify-email?token=tok-123"
    );
    assert!(mail["html"].as_str().unwrap().contains("하늘"));
    assert!(mail["text"].as_str().unwrap().contains("tok-123"));
    assert!(mail["subject"].is_string());
}

#[test]
fn production_refuses_the_outbox() {
    let s = shared::config::Settings::from_vars(
        shared::functions::Kind::Worker,
        [
            ("DATABASE_URL", "postgres://x@localhost/x"),
            ("APP_ENV", "production"),
            ("PUSH_AUDIENCE", "https://email-worker.run.app"),
            (
                "PUSH_SERVICE_ACCOUNT_EMAIL",
                "push@mindpause.iam.gserviceaccount.com",
            ),
        ],
    )
    .unwrap();
    let e = shared::mail::Mailer::from_settings(&s.mail, true)
        .err()
        .unwrap();
    assert_eq!(e.var, "MAIL_PROVIDER");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn events_arrive_through_the_pubsub_emulator(pool: PgPool) {
    let Ok(host) = std::env::var("PUBSUB_EMULATOR_HOST") else {
        eprintln!("SKIPPED: PUBSUB_EMULATOR_HOST is unset (the Pub/Sub emulator is not installed)");
        return;
    };
    let dir = std::env::temp_dir().join(format!("outbox-{}", uuid::Uuid::new_v4()));
    let topic = format!("email-send-{}", uuid::Uuid::new_v4().simple());
    let s = settings(&[
        ("EMAIL_OUTBOX_DIR", dir.to_str().unwrap()),
        ("PUBSUB_PROJECT_ID", "mindpause-test"),
        ("PUBSUB_EMULATOR_HOST", &host),
        ("PUBSUB_TOPIC_EMAIL_SEND", &topic),
    ]);
    let events = shared::events::Events::from_settings(&s).unwrap();
    assert!(events.is_pubsub());
    let app = worker(worker_state(&pool, s.clone()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });

    shared::install_tls_provider();
    let http = reqwest::Client::new();
    let base = format!("http://{host}/v1/projects/mindpause-test");
    assert!(
        http.put(format!("{base}/topics/{topic}"))
            .json(&json!({}))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let subscription = json!({
        "topic": format!("projects/mindpause-test/topics/{topic}"),
        "pushConfig": { "pushEndpoint": format!("http://127.0.0.1:{port}/push/{topic}") },
    });
    assert!(
        http.put(format!("{base}/subscriptions/{topic}"))
            .json(&subscription)
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );

    // Published the way the account functions do it.
    let publisher = AppState::from_parts(s, pool, Cache::memory(), events).unwrap();
    let event: EmailEvent = serde_json::from_value(welcome()).unwrap();
    let topic = &publisher.settings.pubsub.topic_email_send;
    publisher.events.publish_later(topic, &event, "test email");
    for _ in 0..100 {
        if !outbox(&dir).is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let files = outbox(&dir);
    assert_eq!(files.len(), 1);
    assert_eq!(files[0]["params"]["token"], "tok-123");
}
