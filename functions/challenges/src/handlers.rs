use axum::extract::State;
use chrono::NaiveDate;
use serde::Deserialize;
use serde_json::json;
use shared::domain::notifications::Kind;
use shared::envelope::Envelope;
use shared::http::{AuthUser, Json, Query, ResourceId};
use shared::pagination::{Keyset, Page, PageParams};
use shared::{ApiError, ApiResult, AppState, ErrorCode, Fields, Reply};
use sqlx::FromRow;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::model::{self, Challenge, CreateChallenge, Status, UpdateChallenge, challenge_columns};

const SCOPE: &str = "challenges";

/// The person's local date now (by their time zone today).
async fn today(state: &AppState, user: Uuid) -> ApiResult<NaiveDate> {
    sqlx::query_scalar(
        "SELECT ($2::timestamptz AT TIME ZONE timezone)::date FROM users WHERE id = $1",
    )
    .bind(user)
    .bind(state.clock.now())
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(ApiError::unauthorized)
}

/// 409 CONFLICT saying why (`details.reason`).
fn conflict(reason: &str) -> ApiError {
    ApiError::with_details(ErrorCode::Conflict, json!({ "reason": reason }))
}

/// Start a challenge.
#[utoipa::path(post, path = "", tag = "challenges", security(("bearer" = [])), request_body = CreateChallenge,
    responses((status = 201, description = "The new challenge", body = Envelope<Challenge>), (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<CreateChallenge>,
) -> ApiResult<Reply<Challenge>> {
    let today = today(&state, user.id).await?;
    let mut f = Fields::default();
    let title = f.check("title", model::title(&body.title));
    let description = f.check("description", model::description(body.description));
    let target_days = f.check("target_days", model::target_days(body.target_days));
    let start_date = f.check(
        "start_date",
        model::start_date(body.start_date.unwrap_or(today), today),
    );
    let (title, description, target_days, start_date) =
        f.finish((title, description, target_days, start_date))?;
    let challenge: Challenge = sqlx::query_as(concat!(
        "INSERT INTO challenges (id, user_id, title, description, target_days, start_date)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING ",
        challenge_columns!()
    ))
    .bind(Uuid::now_v7())
    .bind(user.id)
    .bind(title)
    .bind(description)
    .bind(target_days)
    .bind(start_date)
    .fetch_one(&state.db)
    .await?;
    Ok(Reply::created(challenge))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `active`, `completed` or `abandoned`; all when absent.
    #[param(value_type = Option<crate::model::Status>)]
    status: Option<String>,
    /// 1..=100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    cursor: Option<String>,
}

/// Your challenges, newest first.
#[utoipa::path(get, path = "", tag = "challenges", security(("bearer" = [])), params(ListParams),
    responses((status = 200, description = "A page of challenges", body = Envelope<Page<Challenge>>),
              (status = 400, description = "BAD_REQUEST: bad cursor"), (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ListParams>,
) -> ApiResult<Reply<Page<Challenge>>> {
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    };
    let mut f = Fields::default();
    let limit = page.check_limit(&mut f);
    let status = params
        .status
        .as_deref()
        .map(|s| f.check("status", Status::parse(s)));
    let limit = f.finish(limit)?;
    let status = status.flatten();
    // A cursor of one status's list is not one of another's.
    let scope = match status {
        None => SCOPE.to_owned(),
        Some(s) => format!("{SCOPE}:{}", s.as_str()),
    };
    let after: Option<Keyset> = page.position(&state.cursors, &scope)?;
    let rows: Vec<Challenge> = sqlx::query_as(concat!(
        "SELECT ",
        challenge_columns!(),
        " FROM challenges
         WHERE user_id = $1 AND ($2::text IS NULL OR status = $2)
           AND (created_at, id) < (COALESCE($3::timestamptz, 'infinity'), COALESCE($4::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
         ORDER BY created_at DESC, id DESC
         LIMIT $5"
    ))
    .bind(user.id)
    .bind(status)
    .bind(after.map(|k| k.at))
    .bind(after.map(|k| k.id))
    .bind(i64::from(limit) + 1)
    .fetch_all(&state.db)
    .await?;
    Ok(Reply::ok(Page::from_rows(
        rows,
        limit,
        &state.cursors,
        &scope,
        |c| Keyset {
            at: c.created_at,
            id: c.id,
        },
    )))
}

/// A challenge as read for a change, and the person's local date now.
#[derive(FromRow)]
struct Seen {
    #[sqlx(flatten)]
    challenge: Challenge,
    today: NaiveDate,
}

/// Change one of your challenges: its title or description, its status (active → completed
/// or abandoned; abandoned → active), or `check_in: true` for today — once a local day,
/// while active and from the start date; reaching `target_days` completes it and tells you.
#[utoipa::path(patch, path = "/{id}", tag = "challenges", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateChallenge,
    responses((status = 200, description = "The challenge", body = Envelope<Challenge>),
              (status = 404, description = "NOT_FOUND (also someone else's)"),
              (status = 409, description = "CONFLICT: `details.reason` is already_checked_in, not_active, not_started or status_change_not_allowed"),
              (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, challenge_id = %id))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
    Json(body): Json<UpdateChallenge>,
) -> ApiResult<Reply<Challenge>> {
    let change = body.validate()?;
    // Read, decide by the rules (`model`), then write only if the row is still as it was
    // read: two statements, no lock held between them (docs/decisions.md, "Writes at the
    // database's pace"). When the write finds the row changed (another device's check-in
    // went first), the change is decided again on the new row.
    loop {
        let Seen {
            challenge: old,
            today,
        } = sqlx::query_as(
            "SELECT c.id, c.title, c.description, c.target_days, c.start_date, c.status,
                    c.progress_days, c.last_check_in_date, c.created_at, c.updated_at,
                    ($3::timestamptz AT TIME ZONE u.timezone)::date AS today
             FROM challenges c JOIN users u ON u.id = c.user_id
             WHERE c.id = $1 AND c.user_id = $2",
        )
        .bind(id)
        .bind(user.id)
        .bind(state.clock.now())
        .fetch_optional(&state.db)
        .await?
        .ok_or_else(ApiError::not_found)?;
        let mut status = old.status;
        if let Some(next) = change.status {
            if !old.status.may_become(next) {
                return Err(conflict("status_change_not_allowed"));
            }
            status = next;
        }
        let mut completed = false;
        if change.check_in {
            if let Some(reason) =
                model::check_in_refusal(old.status, old.start_date, old.last_check_in_date, today)
            {
                return Err(conflict(reason));
            }
            completed = old.progress_days + 1 >= old.target_days;
            if completed {
                status = Status::Completed;
            }
        }
        let days = old.target_days;
        let changed: Option<Challenge> = sqlx::query_as(concat!(
            "WITH changed AS (
                 UPDATE challenges SET
                     title = COALESCE($3, title),
                     description = CASE WHEN $4 THEN $5 ELSE description END,
                     status = $6,
                     progress_days = progress_days + $7::int,
                     last_check_in_date = CASE WHEN $7 THEN $8 ELSE last_check_in_date END,
                     updated_at = now()
                 WHERE id = $1 AND user_id = $2
                   AND status = $9 AND progress_days = $10 AND last_check_in_date IS NOT DISTINCT FROM $11
                 RETURNING *
             ),
             day AS (
                 INSERT INTO challenge_check_ins (challenge_id, day) SELECT id, $8 FROM changed WHERE $7
             ),
             told AS MATERIALIZED (
                 SELECT notify($12, user_id, $13, $14, $15, format($16, title), format($17, title),
                               jsonb_build_object('challenge_id', id))
                 FROM changed WHERE $18
             )
             SELECT ",
            challenge_columns!(),
            " FROM changed LEFT JOIN told ON true"
        ))
        .bind(id)
        .bind(user.id)
        .bind(change.title.as_deref())
        .bind(change.description.is_some())
        .bind(change.description.as_ref().and_then(|d| d.as_deref()))
        .bind(status)
        .bind(change.check_in)
        .bind(today)
        .bind(old.status)
        .bind(old.progress_days)
        .bind(old.last_check_in_date)
        .bind(Uuid::now_v7())
        .bind(Kind::Challenge)
        .bind("챌린지를 완료했어요!")
        .bind("Challenge completed!")
        // The title as written (another device may have renamed it meanwhile).
        .bind(format!("'%s' {days}일을 모두 채웠어요. 정말 멋져요."))
        .bind(format!("You kept '%s' for all {days} days. Well done."))
        .bind(completed)
        .fetch_optional(&state.db)
        .await?;
        if let Some(challenge) = changed {
            return Ok(Reply::ok(challenge));
        }
    }
}

/// Delete one of your challenges (and its check-ins).
#[utoipa::path(delete, path = "/{id}", tag = "challenges", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "Deleted", body = Envelope<Option<bool>>), (status = 404, description = "NOT_FOUND (also someone else's)")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, challenge_id = %id))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<()>> {
    let deleted = sqlx::query("DELETE FROM challenges WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user.id)
        .execute(&state.db)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(ApiError::not_found());
    }
    Ok(Reply::empty())
}
