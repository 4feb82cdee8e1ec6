//! A small API exercising the shared edge, plus the helpers of `shared::testing`.
#![allow(dead_code)]

use std::time::Duration;

use axum::Router;
use serde::Deserialize;
use serde_json::{Value, json};
use shared::db::Constraints;
use shared::http::{AdminUser, AuthUser, Json, Query};
use shared::pagination::{Page, PageParams};
use shared::{ApiError, ApiResult, AppState, ErrorCode, Reply};
use utoipa_axum::router::OpenApiRouter;
use uuid::Uuid;

pub const PREFIX: &str = "/api/v1/test";

/// A test worker: records each note in `effects` (created by the test), fails on demand
/// (`retry`, `never`), and takes long enough for a concurrent redelivery to overlap it.
#[derive(Clone)]
pub struct Recorder;

#[derive(Deserialize)]
pub struct Note {
    text: String,
}

impl shared::worker::Worker for Recorder {
    type Payload = Note;
    const NAME: &'static str = "recorder";

    async fn handle(
        &self,
        state: &AppState,
        m: &shared::worker::PushMessage,
        p: Note,
    ) -> Result<(), shared::worker::WorkError> {
        match p.text.as_str() {
            "retry" => {
                return Err(shared::worker::WorkError::retry("provider answered 503"));
            }
            "never" => {
                return Err(shared::worker::WorkError::permanent("the user is gone"));
            }
            _ => {}
        }
        sqlx::query("INSERT INTO effects (message_id, text) VALUES ($1, $2)")
            .bind(&m.id)
            .bind(&p.text)
            .execute(&state.db)
            .await?;
        // Long enough for a concurrent redelivery to arrive while this one is in flight.
        tokio::time::sleep(Duration::from_millis(150)).await;
        Ok(())
    }
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

// Routes that take a bearer declare it, as every function's routes do: the general limit
// counts their live sessions' users.
#[utoipa::path(get, path = "/me", security(("bearer" = [])), responses((status = 200)))]
async fn me(user: AuthUser) -> Reply<Value> {
    Reply::ok(json!({ "id": user.id, "role": user.role }))
}

#[utoipa::path(get, path = "/maybe", security(("bearer" = []), ()), responses((status = 200)))]
async fn maybe(user: Option<AuthUser>) -> Reply<Value> {
    Reply::ok(json!({ "id": user.map(|u| u.id) }))
}

#[utoipa::path(get, path = "/admin", security(("bearer" = [])), responses((status = 200)))]
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

/// Inserts a user with this email: the real `users_email_key`, mapped to EMAIL_TAKEN here
/// as its owner maps it.
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
        .await
        .on_constraints(&[("users_email_key", ErrorCode::EmailTaken)])?;
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
        .routes(utoipa_axum::routes!(me))
        .routes(utoipa_axum::routes!(maybe))
        .routes(utoipa_axum::routes!(admin))
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

pub use shared::testing::*;
