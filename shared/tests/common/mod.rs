//! Test support: settings for the real PostgreSQL and Redis that `scripts/test.sh` starts, a
//! small API exercising the shared edge, and request helpers.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde::Deserialize;
use serde_json::{Value, json};
use shared::auth::Role;
use shared::cache::Cache;
use shared::config::Settings;
use shared::events::{Events, InProcessBus};
use shared::http::{AdminUser, AuthUser, Json, Query};
use shared::pagination::{Page, PageParams};
use shared::{ApiError, ApiResult, AppState, Reply};
use sqlx::PgPool;
use tower::ServiceExt;
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

pub const PREFIX: &str = "/api/v1/test";

/// The Redis that `scripts/test.sh` started. Tests that need it fail loudly without it.
pub fn redis_url() -> String {
    std::env::var("REDIS_URL").expect("REDIS_URL is unset: run the tests with ./scripts/test.sh")
}

pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .expect("DATABASE_URL is unset: run the tests with ./scripts/test.sh")
}

/// Test settings: development defaults plus `extra`.
pub fn settings(extra: &[(&str, &str)]) -> Settings {
    let mut vars = vec![
        ("DATABASE_URL".to_owned(), database_url()),
        ("APP_ENV".to_owned(), "test".to_owned()),
        (
            "CORS_ORIGINS".to_owned(),
            "https://mindpause.app,http://localhost:5173".to_owned(),
        ),
    ];
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    Settings::from_vars(vars).expect("test settings")
}

pub fn state(pool: PgPool, cache: Cache, settings: Settings) -> AppState {
    AppState::from_parts(
        settings,
        pool,
        cache,
        Events::InProcess(InProcessBus::new().into()),
    )
    .expect("state")
}

pub fn redis_cache() -> Cache {
    Cache::connect(Some(&redis_url())).expect("redis client")
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct EchoBody {
    email: String,
    nickname: String,
}

async fn echo(Json(body): Json<EchoBody>) -> ApiResult<Reply<Value>> {
    if !body.email.contains('@') {
        return Err(ApiError::field("email", "invalid email"));
    }
    Ok(Reply::created(
        json!({ "email": body.email, "nickname": body.nickname }),
    ))
}

async fn me(user: AuthUser) -> Reply<Value> {
    Reply::ok(json!({ "id": user.id, "role": user.role }))
}

async fn maybe(user: Option<AuthUser>) -> Reply<Value> {
    Reply::ok(json!({ "id": user.map(|u| u.id) }))
}

async fn admin(AdminUser(user): AdminUser) -> Reply<Value> {
    Reply::ok(json!({ "id": user.id }))
}

async fn boom() -> Reply<()> {
    panic!("secret internal detail /srv/app.rs")
}

#[derive(Deserialize)]
struct SlowParams {
    ms: u64,
}

async fn slow(Query(p): Query<SlowParams>) -> Reply<Value> {
    tokio::time::sleep(Duration::from_millis(p.ms)).await;
    Reply::ok(json!({ "slept_ms": p.ms }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UniqueBody {
    email: String,
}

/// Inserts a user with this email: the real `users_email_key` maps to EMAIL_TAKEN.
async fn unique(
    axum::extract::State(state): axum::extract::State<AppState>,
    Json(body): Json<UniqueBody>,
) -> ApiResult<Reply<()>> {
    let id = Uuid::now_v7();
    sqlx::query("INSERT INTO users (id, email, nickname) VALUES ($1, $2, $3)")
        .bind(id)
        .bind(body.email)
        .bind(&id.simple().to_string()[..20])
        .execute(&state.db)
        .await?;
    Ok(Reply::created(()))
}

/// Inserts into `test_accounts`, created by the test that uses it (its constraint maps to
/// nothing in particular).
async fn unique_other(
    axum::extract::State(state): axum::extract::State<AppState>,
    Json(body): Json<UniqueBody>,
) -> ApiResult<Reply<()>> {
    sqlx::query("INSERT INTO test_accounts (email) VALUES ($1)")
        .bind(body.email)
        .execute(&state.db)
        .await?;
    Ok(Reply::created(()))
}

async fn db_time(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> ApiResult<Reply<Value>> {
    let now: i32 = sqlx::query_scalar("SELECT 42").fetch_one(&state.db).await?;
    Ok(Reply::ok(json!({ "answer": now })))
}

async fn numbers(
    axum::extract::State(state): axum::extract::State<AppState>,
    Query(page): Query<PageParams>,
) -> ApiResult<Reply<Page<u32>>> {
    let limit = page.limit()?;
    let after: u32 = page.position(&state.cursors, "numbers")?.unwrap_or(0);
    let rows: Vec<u32> = (after + 1..=50).take(limit as usize + 1).collect();
    Ok(Reply::ok(Page::from_rows(
        rows,
        limit,
        &state.cursors,
        "numbers",
        |n| *n,
    )))
}

pub fn test_routes() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .route("/echo", axum::routing::post(echo))
        .route("/me", axum::routing::get(me))
        .route("/maybe", axum::routing::get(maybe))
        .route("/admin", axum::routing::get(admin))
        .route("/panic", axum::routing::get(boom))
        .route("/slow", axum::routing::get(slow))
        .route("/unique", axum::routing::post(unique))
        .route("/unique-other", axum::routing::post(unique_other))
        .route("/db", axum::routing::get(db_time))
        .route("/numbers", axum::routing::get(numbers))
}

/// The full application around the test routes, as a function binary would serve it.
pub fn app(state: AppState) -> Router {
    let (routes, doc) = shared::runtime::api_at(&state, "test", PREFIX, test_routes());
    shared::runtime::app(state, routes, doc)
}

pub struct Answer {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
}

/// Sends `request` from `peer` through `app` without a network.
pub async fn send_from(app: &Router, mut request: Request<Body>, peer: [u8; 4]) -> Answer {
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((peer, 40000))));
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    Answer {
        status,
        headers,
        body,
    }
}

pub async fn send(app: &Router, request: Request<Body>) -> Answer {
    send_from(app, request, [127, 0, 0, 1]).await
}

pub fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

pub fn get_with_token(path: &str, token: &str) -> Request<Body> {
    Request::get(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap()
}

pub fn post_json(path: &str, body: &str) -> Request<Body> {
    Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(body.to_owned()))
        .unwrap()
}

/// A new user of `role` with a live session: their id and access token.
pub async fn access_token(state: &AppState, role: Role) -> (Uuid, String) {
    let user = Uuid::now_v7();
    let tag = user.simple().to_string();
    let mut conn = state.db.acquire().await.unwrap();
    sqlx::query("INSERT INTO users (id, email, nickname, role) VALUES ($1, $2, $3, $4)")
        .bind(user)
        .bind(format!("{tag}@example.com"))
        .bind(&tag[..20])
        .bind(role)
        .execute(&mut *conn)
        .await
        .unwrap();
    let tokens = shared::domain::sessions::start(state, &mut conn, user, role)
        .await
        .unwrap();
    (user, tokens.access_token)
}

/// Checks the error envelope and returns its `error` object.
pub fn assert_error(answer: &Answer, status: u16, code: &str) -> Value {
    assert_eq!(answer.status.as_u16(), status, "body: {}", answer.body);
    assert_eq!(answer.body["success"], false, "body: {}", answer.body);
    assert_eq!(answer.body["error"]["code"], code, "body: {}", answer.body);
    assert!(
        answer.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert!(
        answer.body["timestamp"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z'))
    );
    answer.body["error"].clone()
}
