//! The push-worker framework: envelope parsing over HTTP, one effect per message id (also
//! under concurrent redelivery), acked malformed payloads, retryable failures as 5xx, and
//! OIDC verification of push tokens against a JWKS served by wiremock.

mod common;

use axum::Router;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use common::*;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use shared::AppState;
use shared::cache::Cache;
use shared::worker;
use sqlx::PgPool;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

async fn setup(pool: &PgPool) {
    sqlx::query("CREATE TABLE effects (message_id TEXT, text TEXT)")
        .execute(pool)
        .await
        .unwrap();
}

fn worker_app(state: AppState) -> Router {
    shared::runtime::app(
        state,
        worker::route("notes", Recorder),
        shared::openapi::base("recorder"),
    )
}

fn envelope(id: &str, payload: &Value) -> String {
    json!({
        "message": {
            "data": STANDARD.encode(payload.to_string()),
            "attributes": {},
            "messageId": id, "message_id": id,
            "publishTime": "2026-11-26T00:00:00Z", "publish_time": "2026-11-26T00:00:00Z",
        },
        "subscription": "projects/p/subscriptions/notes-worker",
    })
    .to_string()
}

async fn effects(pool: &PgPool) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM effects")
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn redelivery_has_one_effect(pool: PgPool) {
    setup(&pool).await;
    let app = worker_app(state(pool.clone(), Cache::memory(), settings(&[])));
    let body = envelope("m-1", &json!({ "version": 1, "text": "hello" }));
    let a = send(&app, post_json("/push/notes", &body)).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.body["data"]["status"], "processed");
    let again = send(&app, post_json("/push/notes", &body)).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["data"]["status"], "duplicate");
    assert_eq!(effects(&pool).await, 1);

    // Concurrent redeliveries of a new message: one effect; the copy that finds the other
    // still working asks for a later redelivery (acking it could lose the message), which
    // then finds it done.
    let body = envelope("m-2", &json!({ "version": 1, "text": "again" }));
    let (x, y) = tokio::join!(
        send(&app, post_json("/push/notes", &body)),
        send(&app, post_json("/push/notes", &body))
    );
    let mut statuses = [x.status.as_u16(), y.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 503]);
    assert_eq!(effects(&pool).await, 2);
    let later = send(&app, post_json("/push/notes", &body)).await;
    assert_eq!(later.body["data"]["status"], "duplicate");
    assert_eq!(effects(&pool).await, 2);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_dead_deliverys_claim_runs_out_and_is_taken_over(pool: PgPool) {
    setup(&pool).await;
    let app = worker_app(state(pool.clone(), Cache::memory(), settings(&[])));
    // An instance claimed m-1 and m-2, then died: m-1's claim is still running, m-2's has
    // run out.
    sqlx::query(
        "INSERT INTO processed_messages (worker, message_id, outcome, lease_until) VALUES
            ('recorder', 'm-1', 'working', now() + interval '1 minute'),
            ('recorder', 'm-2', 'working', now() - interval '1 second')",
    )
    .execute(&pool)
    .await
    .unwrap();
    let live = envelope("m-1", &json!({ "version": 1, "text": "one" }));
    assert_error(
        &send(&app, post_json("/push/notes", &live)).await,
        503,
        "SERVICE_UNAVAILABLE",
    );
    assert_eq!(effects(&pool).await, 0);
    let dead = envelope("m-2", &json!({ "version": 1, "text": "two" }));
    let a = send(&app, post_json("/push/notes", &dead)).await;
    assert_eq!(a.body["data"]["status"], "processed", "{}", a.body);
    assert_eq!(effects(&pool).await, 1);
    let outcome: (String, Option<chrono::DateTime<chrono::Utc>>) = sqlx::query_as(
        "SELECT outcome, lease_until FROM processed_messages WHERE message_id = 'm-2'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(outcome, ("done".to_owned(), None));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn failures_are_retried_or_acked(pool: PgPool) {
    setup(&pool).await;
    let app = worker_app(state(pool.clone(), Cache::memory(), settings(&[])));
    // Retryable: 5xx, nothing recorded, so the redelivery runs again.
    let retry = envelope("m-r", &json!({ "version": 1, "text": "retry" }));
    assert_error(
        &send(&app, post_json("/push/notes", &retry)).await,
        503,
        "SERVICE_UNAVAILABLE",
    );
    assert_error(
        &send(&app, post_json("/push/notes", &retry)).await,
        503,
        "SERVICE_UNAVAILABLE",
    );
    // Permanent: acked and remembered as discarded.
    let never = envelope("m-n", &json!({ "version": 1, "text": "never" }));
    let a = send(&app, post_json("/push/notes", &never)).await;
    assert_eq!(
        (a.status.as_u16(), a.body["data"]["status"].as_str()),
        (200, Some("discarded"))
    );
    // Malformed payloads (not JSON, wrong version, wrong shape) and bodies that are not push
    // envelopes at all are acked: retrying can never help.
    for (id, data) in [
        ("m-x", json!("not an object")),
        ("m-v", json!({ "version": 9, "text": "x" })),
        ("m-s", json!({ "version": 1 })),
    ] {
        let a = send(&app, post_json("/push/notes", &envelope(id, &data))).await;
        assert_eq!(a.status, 200, "{id}");
        assert_eq!(a.body["data"]["status"], "discarded");
    }
    let a = send(&app, post_json("/push/notes", r#"{"hello":"world"}"#)).await;
    assert_eq!(a.status, 200);
    assert_eq!(effects(&pool).await, 0);
    let outcomes: Vec<(String, String)> =
        sqlx::query_as("SELECT message_id, outcome FROM processed_messages ORDER BY message_id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        outcomes,
        [
            ("m-n", "discarded"),
            ("m-s", "discarded"),
            ("m-v", "discarded"),
            ("m-x", "discarded")
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
}

// ---- OIDC ----------------------------------------------------------------------------------

const AUDIENCE: &str = "https://email-worker-abc.a.run.app/push/notes";
const ACCOUNT: &str = "pubsub-push@mindpause.iam.gserviceaccount.com";

fn key(pem: &str) -> EncodingKey {
    let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    EncodingKey::from_rsa_der(&STANDARD.decode(b64).unwrap())
}

fn google_key() -> EncodingKey {
    key(include_str!("fixtures/push-signer.pem"))
}

fn jwks() -> Value {
    let mut jwk = Jwk::from_encoding_key(&google_key(), Algorithm::RS256).unwrap();
    jwk.common.key_id = Some("google-1".into());
    serde_json::to_value(JwkSet { keys: vec![jwk] }).unwrap()
}

fn token(signer: &EncodingKey, overrides: Value) -> String {
    let now = chrono::Utc::now().timestamp();
    let mut claims = json!({
        "aud": AUDIENCE, "iss": "https://accounts.google.com", "iat": now, "exp": now + 3600,
        "email": ACCOUNT, "email_verified": true, "sub": "1234",
    });
    for (k, v) in overrides.as_object().unwrap() {
        claims[k] = v.clone();
    }
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("google-1".into());
    jsonwebtoken::encode(&header, &claims, signer).unwrap()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn push_tokens_are_verified(pool: PgPool) {
    setup(&pool).await;
    let google = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/oauth2/v3/certs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks()))
        .mount(&google)
        .await;
    let jwks_url = format!("{}/oauth2/v3/certs", google.uri());
    let s = settings(&[
        ("PUSH_AUTH_VERIFY", "true"),
        ("PUSH_AUDIENCE", AUDIENCE),
        ("PUSH_SERVICE_ACCOUNT_EMAIL", ACCOUNT),
        ("GOOGLE_JWKS_URL", &jwks_url),
    ]);
    let app = worker_app(state(pool.clone(), Cache::memory(), s));
    let push_with = |token: Option<String>, id: &str| {
        let mut request = post_json(
            "/push/notes",
            &envelope(id, &json!({ "version": 1, "text": "hi" })),
        );
        if let Some(t) = token {
            request
                .headers_mut()
                .insert("authorization", format!("Bearer {t}").parse().unwrap());
        }
        request
    };

    let valid = token(&google_key(), json!({}));
    assert_eq!(send(&app, push_with(Some(valid), "ok-1")).await.status, 200);

    let past = chrono::Utc::now().timestamp() - 7200;
    let other_key = key(include_str!("fixtures/other-signer.pem"));
    let unsigned = {
        let header = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"alg":"none","kid":"google-1"}"#);
        let body = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json!({"aud": AUDIENCE, "iss": "https://accounts.google.com", "exp": past + 20000, "email": ACCOUNT, "email_verified": true}).to_string());
        format!("{header}.{body}.")
    };
    let refused = [
        ("no token", None),
        (
            "wrong audience",
            Some(token(
                &google_key(),
                json!({ "aud": "https://someone-else.run.app" }),
            )),
        ),
        (
            "wrong issuer",
            Some(token(
                &google_key(),
                json!({ "iss": "https://evil.example" }),
            )),
        ),
        (
            "expired",
            Some(token(
                &google_key(),
                json!({ "iat": past - 3600, "exp": past }),
            )),
        ),
        ("unsigned", Some(unsigned)),
        ("another key", Some(token(&other_key, json!({})))),
        (
            "another account",
            Some(token(
                &google_key(),
                json!({ "email": "intruder@evil.iam.gserviceaccount.com" }),
            )),
        ),
        (
            "unverified email",
            Some(token(&google_key(), json!({ "email_verified": false }))),
        ),
    ];
    for (i, (why, t)) in refused.into_iter().enumerate() {
        let a = send(&app, push_with(t, &format!("bad-{i}"))).await;
        assert_eq!(a.status, 401, "{why}: {}", a.body);
    }
    assert_eq!(effects(&pool).await, 1);
    // The key set was fetched once and cached.
    let fetches = google.received_requests().await.unwrap().len();
    assert!(fetches <= 2, "{fetches} JWKS fetches");
}
