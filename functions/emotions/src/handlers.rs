use axum::extract::State;
use serde::Deserialize;
use shared::domain::journal;
use shared::envelope::Envelope;
use shared::http::{AuthUser, Json, Patch, Query, ResourceId};
use shared::pagination::{Keyset, Page, PageParams};
use shared::{ApiError, ApiResult, AppState, Fields, Reply};
use utoipa::IntoParams;
use uuid::Uuid;

use crate::model::{self, CreateLog, Emotion, Log, LogRow, NOTE, UpdateLog, log_columns};
use crate::range::{self, Bound};

const SCOPE: &str = "emotions";

/// Record how you feel.
#[utoipa::path(post, path = "", tag = "emotions", security(("bearer" = [])), request_body = CreateLog,
    responses((status = 201, description = "The new log", body = Envelope<Log>), (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<CreateLog>,
) -> ApiResult<Reply<Log>> {
    let new = body.validate()?;
    let sealed = new
        .note
        .as_deref()
        .map(|note| state.keyring.seal(NOTE, user.id, note));
    let row: LogRow = journal::record(
        &state.db,
        &journal::NewLog {
            id: Uuid::now_v7(),
            user_id: user.id,
            emotion: new.emotion,
            intensity: new.intensity,
            note: sealed.as_deref(),
            tags: &new.tags,
            recorded_at: new.recorded_at,
        },
    )
    .await?
    .ok_or_else(ApiError::unauthorized)?;
    journal::invalidate_stats(&state.cache, user.id).await;
    Ok(Reply::created(row.with_note(new.note)))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// A local date (inclusive) or an RFC 3339 instant (inclusive).
    #[param(schema_with = shared::openapi::date_or_instant)]
    from: Option<String>,
    /// A local date (inclusive) or an RFC 3339 instant (exclusive).
    #[param(schema_with = shared::openapi::date_or_instant)]
    to: Option<String>,
    #[param(value_type = Option<shared::domain::journal::Emotion>)]
    emotion: Option<String>,
    /// 1..=100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Your logs, newest first by `recorded_at`.
#[utoipa::path(get, path = "", tag = "emotions", security(("bearer" = [])), params(ListParams),
    responses((status = 200, description = "A page of logs", body = Envelope<Page<Log>>), (status = 400, description = "BAD_REQUEST: bad cursor"), (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ListParams>,
) -> ApiResult<Reply<Page<Log>>> {
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    };
    let mut f = Fields::default();
    let limit = page.check_limit(&mut f);
    let from = params
        .from
        .as_deref()
        .and_then(|v| f.check("from", Bound::parse(v)));
    let to = params
        .to
        .as_deref()
        .and_then(|v| f.check("to", Bound::parse(v)));
    let emotion = params
        .emotion
        .as_deref()
        .and_then(|v| f.check("emotion", Emotion::parse(v)));
    let limit = f.finish(limit)?;
    let after: Option<Keyset> = page.position(&state.cursors, SCOPE)?;
    let (from_date, from_instant) = range::binds(from);
    let (to_date, to_instant) = range::binds(to);

    let rows: Vec<LogRow> = sqlx::query_as(concat!(
        "WITH me AS (SELECT timezone AS tz FROM users WHERE id = $1)
         SELECT ",
        log_columns!(),
        " FROM emotion_logs, me
         WHERE user_id = $1
           AND recorded_at >= COALESCE($2, $3::date::timestamp AT TIME ZONE me.tz, '-infinity')
           AND recorded_at <  COALESCE($4, ($5::date + 1)::timestamp AT TIME ZONE me.tz, 'infinity')
           AND ($6::text IS NULL OR emotion = $6)
           AND ($7::timestamptz IS NULL OR (recorded_at, id) < ($7, $8))
         ORDER BY recorded_at DESC, id DESC
         LIMIT $9"
    ))
    .bind(user.id)
    .bind(from_instant)
    .bind(from_date)
    .bind(to_instant)
    .bind(to_date)
    .bind(emotion.map(Emotion::as_str))
    .bind(after.map(|p| p.at))
    .bind(after.map(|p| p.id))
    .bind(i64::from(limit) + 1)
    .fetch_all(&state.db)
    .await?;
    let page = Page::from_rows(rows, limit, &state.cursors, SCOPE, |l| Keyset {
        at: l.recorded_at,
        id: l.id,
    });
    Ok(Reply::ok(
        page.try_map(|row| row.open(&state.keyring, user.id))?,
    ))
}

async fn find(state: &AppState, user: &AuthUser, id: Uuid) -> ApiResult<Log> {
    let row: LogRow = sqlx::query_as(concat!(
        "SELECT ",
        log_columns!(),
        " FROM emotion_logs WHERE id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user.id)
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(ApiError::not_found)?;
    Ok(row.open(&state.keyring, user.id)?)
}

/// One of your logs.
#[utoipa::path(get, path = "/{id}", tag = "emotions", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "The log", body = Envelope<Log>), (status = 404, description = "NOT_FOUND (also someone else's)")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, log_id = %id))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<Log>> {
    Ok(Reply::ok(find(&state, &user, id).await?))
}

/// Change any field of one of your logs.
#[utoipa::path(patch, path = "/{id}", tag = "emotions", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateLog,
    responses((status = 200, description = "The updated log", body = Envelope<Log>), (status = 404, description = "NOT_FOUND"), (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, log_id = %id))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
    Json(body): Json<UpdateLog>,
) -> ApiResult<Reply<Log>> {
    let mut f = Fields::default();
    let emotion = f.check("emotion", body.emotion.required()).flatten();
    let intensity = f
        .check("intensity", body.intensity.required())
        .flatten()
        .and_then(|i| f.check("intensity", model::intensity(i)));
    let note = match body.note {
        Patch::Absent => None,
        Patch::Null => Some(None),
        Patch::Value(n) => f.check("note", model::note(Some(n))),
    };
    let tags = match body.tags {
        Patch::Absent => None,
        Patch::Null => Some(Vec::new()),
        Patch::Value(t) => f.check("tags", model::tags(Some(t))),
    };
    let recorded_at = f
        .check("recorded_at", body.recorded_at.required())
        .flatten()
        .and_then(|t| f.check("recorded_at", model::recorded_at(t)));
    f.finish(())?;

    let sealed = note.map(|note| note.map(|n| state.keyring.seal(NOTE, user.id, &n)));
    let change = journal::LogChange {
        emotion,
        intensity,
        note: sealed.as_ref().map(Option::as_deref),
        tags: tags.as_deref(),
        recorded_at,
    };
    let row: LogRow = journal::revise(&state.db, user.id, id, &change)
        .await?
        .ok_or_else(ApiError::not_found)?;
    journal::invalidate_stats(&state.cache, user.id).await;
    Ok(Reply::ok(row.open(&state.keyring, user.id)?))
}

/// Delete one of your logs.
#[utoipa::path(delete, path = "/{id}", tag = "emotions", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "Deleted", body = Envelope<Option<bool>>), (status = 404, description = "NOT_FOUND")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, log_id = %id))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<()>> {
    if !journal::erase(&state.db, user.id, id).await? {
        return Err(ApiError::not_found());
    }
    journal::invalidate_stats(&state.cache, user.id).await;
    Ok(Reply::empty())
}
