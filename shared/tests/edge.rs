//! The shared HTTP edge: envelopes for every error class, CORS, language, health and
//! readiness, panics, timeouts, pagination — against real PostgreSQL and Redis.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use shared::auth::Role;
use shared::cache::Cache;
use sqlx::PgPool;

fn memory_app(pool: PgPool) -> axum::Router {
    app(state(pool, Cache::memory(), settings(&[])))
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn success_uses_the_envelope(pool: PgPool) {
    let app = memory_app(pool);
    let a = send(
        &app,
        post_json(
            "/api/v1/test/echo",
            r#"{"email":"a@b.c","nickname":"하늘"}"#,
        ),
    )
    .await;
    assert_eq!(a.status, 201);
    assert_eq!(a.body["success"], true);
    assert_eq!(a.body["data"]["nickname"], "하늘");
    assert_eq!(a.body["message"], "Success");
    assert!(a.body["timestamp"].as_str().unwrap().ends_with('Z'));
    assert!(a.headers.contains_key("x-request-id"));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn unknown_routes_and_wrong_methods(pool: PgPool) {
    let app = memory_app(pool);
    assert_error(&send(&app, get("/api/v1/nowhere")).await, 404, "NOT_FOUND");
    assert_error(
        &send(&app, get("/api/v1/test/echo")).await,
        405,
        "METHOD_NOT_ALLOWED",
    );
    let delete = Request::delete("/health").body(Body::empty()).unwrap();
    assert_error(&send(&app, delete).await, 405, "METHOD_NOT_ALLOWED");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn body_errors(pool: PgPool) {
    let app = memory_app(pool);
    // Malformed JSON → 400.
    assert_error(
        &send(&app, post_json("/api/v1/test/echo", "{\"email\": ")).await,
        400,
        "BAD_REQUEST",
    );
    // Wrong or missing content type → 415.
    let text = Request::post("/api/v1/test/echo")
        .header("content-type", "text/plain")
        .body(Body::from(r#"{"email":"a@b.c","nickname":"x"}"#))
        .unwrap();
    assert_error(&send(&app, text).await, 415, "UNSUPPORTED_MEDIA_TYPE");
    let none = Request::post("/api/v1/test/echo")
        .body(Body::from("{}"))
        .unwrap();
    assert_error(&send(&app, none).await, 415, "UNSUPPORTED_MEDIA_TYPE");
    // Nested past serde_json's depth limit (deep enough to overflow a stack if it were
    // followed) → 400, the worker alive.
    let deep = format!(
        r#"{{"email":"a@b.c","nickname":{}1{}}}"#,
        "[".repeat(100_000),
        "]".repeat(100_000)
    );
    assert_error(
        &send(&app, post_json("/api/v1/test/echo", &deep)).await,
        400,
        "BAD_REQUEST",
    );
    // Over the body limit → 413 (with and without a Content-Length).
    let big = format!(
        r#"{{"email":"a@b.c","nickname":"{}"}}"#,
        "x".repeat(2 * 1024 * 1024)
    );
    assert_error(
        &send(&app, post_json("/api/v1/test/echo", &big)).await,
        413,
        "PAYLOAD_TOO_LARGE",
    );
    let chunks = futures_stream(big);
    let streamed = Request::post("/api/v1/test/echo")
        .header("content-type", "application/json")
        .body(Body::from_stream(chunks))
        .unwrap();
    assert_error(&send(&app, streamed).await, 413, "PAYLOAD_TOO_LARGE");
    // Fields → 422 naming them.
    let e = assert_error(
        &send(&app, post_json("/api/v1/test/echo", r#"{"email":"a@b.c"}"#)).await,
        422,
        "VALIDATION_ERROR",
    );
    assert_eq!(e["details"]["fields"]["nickname"][0], "required");
    let e = assert_error(
        &send(
            &app,
            post_json(
                "/api/v1/test/echo",
                r#"{"email":"a@b.c","nickname":"x","admin":true}"#,
            ),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    assert_eq!(e["details"]["fields"]["admin"][0], "unknown field");
    let e = assert_error(
        &send(
            &app,
            post_json("/api/v1/test/echo", r#"{"email":"nope","nickname":"x"}"#),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    assert_eq!(e["details"]["fields"]["email"][0], "invalid email");
    let e = assert_error(
        &send(
            &app,
            post_json("/api/v1/test/echo", r#"{"email":5,"nickname":"x"}"#),
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    assert!(
        e["details"]["fields"]["email"][0]
            .as_str()
            .unwrap()
            .starts_with("invalid type")
    );
}

/// The body in 64 KiB chunks with no Content-Length, as a streaming client sends it.
fn futures_stream(text: String) -> Chunks {
    let chunks: Vec<bytes::Bytes> = text
        .into_bytes()
        .chunks(64 * 1024)
        .map(bytes::Bytes::copy_from_slice)
        .collect();
    Chunks(chunks.into_iter())
}

struct Chunks(std::vec::IntoIter<bytes::Bytes>);

impl futures_core::Stream for Chunks {
    type Item = Result<bytes::Bytes, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.next().map(Ok))
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn query_errors(pool: PgPool) {
    let app = memory_app(pool);
    let e = assert_error(
        &send(&app, get("/api/v1/test/numbers?limit=0")).await,
        422,
        "VALIDATION_ERROR",
    );
    assert!(e["details"]["fields"]["limit"].is_array());
    let e = assert_error(
        &send(&app, get("/api/v1/test/numbers?limit=abc")).await,
        422,
        "VALIDATION_ERROR",
    );
    assert!(e["details"]["fields"]["limit"].is_array());
    assert_error(
        &send(&app, get("/api/v1/test/numbers?cursor=forged.cursor")).await,
        400,
        "BAD_REQUEST",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn pages_follow_their_cursors(pool: PgPool) {
    let app = memory_app(pool);
    let mut seen = Vec::new();
    let mut path = "/api/v1/test/numbers?limit=15".to_owned();
    loop {
        let a = send(&app, get(&path)).await;
        assert_eq!(a.status, 200);
        seen.extend(
            a.body["data"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap()),
        );
        match a.body["data"]["next_cursor"].as_str() {
            Some(c) => path = format!("/api/v1/test/numbers?limit=15&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, (1..=50).collect::<Vec<_>>());
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn unique_violations_map_by_constraint_name(pool: PgPool) {
    let app = memory_app(pool.clone());
    let first = send(
        &app,
        post_json("/api/v1/test/unique", r#"{"email":"a@b.c"}"#),
    )
    .await;
    assert_eq!(first.status, 201);
    let again = send(
        &app,
        post_json("/api/v1/test/unique", r#"{"email":"a@b.c"}"#),
    )
    .await;
    let e = assert_error(&again, 409, "EMAIL_TAKEN");
    assert!(!e.to_string().contains("users_email_key"));

    // A unique violation of a constraint with no mapping is a plain CONFLICT.
    sqlx::query(
        "CREATE TABLE test_accounts (email TEXT CONSTRAINT test_accounts_email_key UNIQUE)",
    )
    .execute(&pool)
    .await
    .unwrap();
    let first = send(
        &app,
        post_json("/api/v1/test/unique-other", r#"{"email":"a@b.c"}"#),
    )
    .await;
    assert_eq!(first.status, 201);
    let again = send(
        &app,
        post_json("/api/v1/test/unique-other", r#"{"email":"a@b.c"}"#),
    )
    .await;
    let e = assert_error(&again, 409, "CONFLICT");
    assert!(!e.to_string().contains("test_accounts"));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn internal_errors_reveal_nothing(pool: PgPool) {
    let app = memory_app(pool);
    // No test_accounts table in this database: the SQL error must not leak.
    let a = send(
        &app,
        post_json("/api/v1/test/unique-other", r#"{"email":"a@b.c"}"#),
    )
    .await;
    let e = assert_error(&a, 500, "INTERNAL_ERROR");
    assert!(!a.body.to_string().contains("test_accounts"), "{}", a.body);
    assert!(e.get("details").is_none());
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn panics_become_a_500_envelope(pool: PgPool) {
    let app = memory_app(pool);
    let a = send(&app, get("/api/v1/test/panic")).await;
    assert_error(&a, 500, "INTERNAL_ERROR");
    assert!(!a.body.to_string().contains("secret internal detail"));
    assert!(a.headers.contains_key("x-request-id"));
    // The server keeps serving.
    assert_eq!(send(&app, get("/health")).await.status, 200);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn slow_handlers_time_out(pool: PgPool) {
    let app = app(state(
        pool,
        Cache::memory(),
        settings(&[("REQUEST_TIMEOUT_SECS", "1")]),
    ));
    let a = send(&app, get("/api/v1/test/slow?ms=3000")).await;
    assert_error(&a, 503, "SERVICE_UNAVAILABLE");
    assert_eq!(send(&app, get("/api/v1/test/slow?ms=10")).await.status, 200);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn english_on_request(pool: PgPool) {
    let app = memory_app(pool);
    let ko = send(&app, get("/api/v1/nowhere")).await;
    assert_eq!(
        ko.body["error"]["message"],
        "요청한 리소스를 찾을 수 없습니다."
    );
    let en = Request::get("/api/v1/nowhere")
        .header("accept-language", "en-US,en;q=0.9")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, en).await.body["error"]["message"], "Not found.");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn request_ids_are_kept_or_made(pool: PgPool) {
    let app = memory_app(pool);
    let given = Request::get("/health")
        .header("x-request-id", "abc-123")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, given).await.headers["x-request-id"], "abc-123");
    let made = send(&app, get("/health")).await;
    assert_eq!(made.headers["x-request-id"].len(), 36);
    // Issue 12: what a client sends reaches the logs only when short and plain.
    for hostile in ["a b\"}{", &"x".repeat(65), "id\u{7f}", "한글"] {
        let Ok(value) = axum::http::HeaderValue::from_bytes(hostile.as_bytes()) else {
            continue;
        };
        let mut request = get("/health");
        request.headers_mut().insert("x-request-id", value);
        let id = send(&app, request).await.headers["x-request-id"].clone();
        assert_eq!(id.len(), 36, "{hostile:?} was replaced");
        assert_ne!(id.as_bytes(), hostile.as_bytes());
    }
}

/// Issue 12: nothing personal is cached on the way, content types are not sniffed, and
/// production insists on HTTPS.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn every_answer_carries_the_security_headers(pool: PgPool) {
    let development = memory_app(pool);
    for request in [get("/health"), get("/api/v1/test/db"), get("/nowhere")] {
        let a = send(&development, request).await;
        assert_eq!(a.headers["cache-control"], "no-store");
        assert_eq!(a.headers["x-content-type-options"], "nosniff");
        assert!(
            !a.headers.contains_key("strict-transport-security"),
            "not in development"
        );
    }
    let production = settings(&[
        ("APP_ENV", "production"),
        ("FILES_URL", "https://api.example.com/api/v1/files"),
        // Read only when the storage feature is linked (never touched: the store is lazy).
        ("STORAGE_BUCKET", "mindpause-files"),
        (
            "JWT_PUBLIC_KEYS",
            "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAOxyV82F6iHOIZurCfhC85zYfHJ6RS5yF86FzwODFOJE=\n-----END PUBLIC KEY-----",
        ),
        (
            "CURSOR_SECRET_KEY",
            "a-real-cursor-secret-of-32-chars-or-more",
        ),
        ("REDIS_URL", "rediss://127.0.0.1:1"),
        ("PUSH_AUDIENCE", "https://test-push"),
        (
            "PUSH_SERVICE_ACCOUNT_EMAIL",
            "push@test.iam.gserviceaccount.com",
        ),
        ("OPENAI_API_KEY", "sk-test"),
        // Read only when the sealing feature is linked.
        (
            "DATA_ENCRYPTION_KEYS",
            "1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
        ),
    ]);
    let pool = sqlx::PgPool::connect_lazy(&database_url()).unwrap();
    let production = app(state(pool, Cache::memory(), production));
    let a = send(&production, get("/health")).await;
    assert_eq!(
        a.headers["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn cors_allows_only_listed_origins(pool: PgPool) {
    let app = memory_app(pool);
    let preflight = |origin: &str| {
        Request::options("/api/v1/test/echo")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .body(Body::empty())
            .unwrap()
    };
    let allowed = send(&app, preflight("https://mindpause.app")).await;
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "https://mindpause.app"
    );
    let methods = allowed.headers["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(methods.contains("PATCH"), "{methods}");

    let refused = send(&app, preflight("https://evil.example")).await;
    assert!(!refused.headers.contains_key("access-control-allow-origin"));

    let simple = Request::get("/health")
        .header("origin", "http://localhost:5173")
        .body(Body::empty())
        .unwrap();
    let a = send(&app, simple).await;
    assert_eq!(
        a.headers["access-control-allow-origin"],
        "http://localhost:5173"
    );
    let simple = Request::get("/health")
        .header("origin", "http://localhost:5174")
        .body(Body::empty())
        .unwrap();
    assert!(
        !send(&app, simple)
            .await
            .headers
            .contains_key("access-control-allow-origin")
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn health_and_readiness(pool: PgPool) {
    let app = app(state(pool, redis_cache(), settings(&[])));
    let live = send(&app, get("/health")).await;
    assert_eq!(live.status, 200);
    assert_eq!(live.body["data"]["status"], "ok");
    let ready = send(&app, get("/health/ready")).await;
    assert_eq!(ready.status, 200, "{}", ready.body);
    assert_eq!(ready.body["data"]["redis"], "ok");
    let doc = send(&app, get("/openapi.json")).await;
    assert_eq!(doc.status, 200);
    assert!(doc.body["openapi"].as_str().unwrap().starts_with("3.1"));
}

/// A database that does not answer: `/health` still works, readiness names the database,
/// and requests that need it get 503 quickly instead of hanging.
#[tokio::test]
async fn a_dead_database_is_a_quick_503() {
    let dead = "postgres://postgres@127.0.0.1:9/none";
    let s = settings(&[
        ("DATABASE_URL", dead),
        ("DATABASE_ACQUIRE_TIMEOUT_MS", "300"),
    ]);
    let pool = shared::db::pool(&s.database).unwrap();
    let app = app(state(pool, Cache::memory(), s));
    assert_eq!(send(&app, get("/health")).await.status, 200);
    let ready = send(&app, get("/health/ready")).await;
    let e = assert_error(&ready, 503, "SERVICE_UNAVAILABLE");
    assert_eq!(e["details"]["failing"], serde_json::json!(["database"]));
    let started = std::time::Instant::now();
    assert_error(
        &send(&app, get("/api/v1/test/db")).await,
        503,
        "SERVICE_UNAVAILABLE",
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_dead_redis_degrades_without_failing_readiness(pool: PgPool) {
    let cache = Cache::connect(Some("redis://127.0.0.1:9"), None).unwrap();
    let state = state(pool, cache, settings(&[]));
    let app = app(state.clone());
    let (_, token) = access_token(&state, Role::User).await;
    // The API keeps answering: limits count in-process, gates come from the database.
    let a = send(&app, get_with_token("/api/v1/test/me", &token)).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert!(state.cache.is_degraded());
    let ready = send(&app, get("/health/ready")).await;
    assert_eq!(
        ready.status, 200,
        "only the database makes an instance unready"
    );
    assert_eq!(ready.body["data"]["redis"], "degraded");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn tokens_are_checked(pool: PgPool) {
    let state = state(pool, Cache::memory(), settings(&[]));
    let app = app(state.clone());
    let (user, token) = access_token(&state, Role::User).await;
    let a = send(&app, get_with_token("/api/v1/test/me", &token)).await;
    assert_eq!(a.body["data"]["id"], user.to_string());
    assert_error(
        &send(&app, get("/api/v1/test/me")).await,
        401,
        "UNAUTHORIZED",
    );
    assert_error(
        &send(&app, get_with_token("/api/v1/test/me", "garbage")).await,
        401,
        "UNAUTHORIZED",
    );
    // The optional variant: absent → anonymous; present but bad → refused.
    assert_eq!(
        send(&app, get("/api/v1/test/maybe")).await.body["data"]["id"],
        serde_json::Value::Null
    );
    assert_eq!(
        send(&app, get_with_token("/api/v1/test/maybe", &token))
            .await
            .body["data"]["id"],
        user.to_string()
    );
    assert_error(
        &send(&app, get_with_token("/api/v1/test/maybe", "garbage")).await,
        401,
        "UNAUTHORIZED",
    );
    // The admin guard.
    assert_error(
        &send(&app, get_with_token("/api/v1/test/admin", &token)).await,
        403,
        "FORBIDDEN",
    );
    let (_, admin) = access_token(&state, Role::Admin).await;
    assert_eq!(
        send(&app, get_with_token("/api/v1/test/admin", &admin))
            .await
            .status,
        200
    );
    assert_error(
        &send(&app, get("/api/v1/test/admin")).await,
        401,
        "UNAUTHORIZED",
    );
}

/// Pooled connections are not pinged before every query (a round trip each), but one that sat
/// idle is: a connection the database dropped meanwhile is replaced, not failed on.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_connection_dropped_while_idle_is_replaced(admin: PgPool) {
    let database: String = sqlx::query_scalar("SELECT current_database()")
        .fetch_one(&admin)
        .await
        .unwrap();
    let base = std::env::var("DATABASE_URL").expect("DATABASE_URL");
    let url = format!("{}/{database}", base.rsplit_once('/').unwrap().0);
    let s = settings(&[("DATABASE_URL", &url)]);
    let pool = shared::db::pool(&s.database).unwrap();
    let pid = |pool: PgPool| async move {
        sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()")
            .fetch_one(&pool)
            .await
    };
    let first = pid(pool.clone()).await.unwrap();
    let terminated: bool = sqlx::query_scalar("SELECT pg_terminate_backend($1)")
        .bind(first)
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(terminated);
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let second = pid(pool.clone()).await.expect("a fresh connection");
    assert_ne!(first, second);
    assert_eq!(pool.size(), 1, "the dropped connection was discarded");
}
