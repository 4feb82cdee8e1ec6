use axum::extract::State;
use serde::{Deserialize, Serialize};
use shared::domain::notifications::{self, Notification};
use shared::envelope::Envelope;
use shared::http::{AuthUser, Query, ResourceId};
use shared::pagination::{Keyset, Page, PageParams};
use shared::{ApiResult, AppState, Reply};
use utoipa::{IntoParams, ToSchema};

const SCOPE: &str = "notifications";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only the unread ones.
    #[serde(default)]
    unread_only: bool,
    /// 1..=100, default 20.
    #[param(minimum = 1, maximum = 100)]
    limit: Option<u32>,
    cursor: Option<String>,
}

/// A page of notifications, with the unread count beside it (for the badge).
#[derive(Debug, Serialize, ToSchema)]
pub struct NotificationPage {
    #[serde(flatten)]
    pub page: Page<Notification>,
    pub unread_count: i64,
}

/// Your notifications, newest first.
#[utoipa::path(get, path = "", tag = "notifications", security(("bearer" = [])), params(ListParams),
    responses((status = 200, description = "A page of notifications and the unread count", body = Envelope<NotificationPage>),
              (status = 400, description = "BAD_REQUEST: bad cursor"), (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<ListParams>,
) -> ApiResult<Reply<NotificationPage>> {
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    };
    let limit = page.limit()?;
    // A cursor of the unread list is not one of the whole list: rows read meanwhile would
    // shift it.
    let scope = if params.unread_only {
        "notifications:unread"
    } else {
        SCOPE
    };
    let after: Option<Keyset> = page.position(&state.cursors, scope)?;
    let (rows, unread_count) = tokio::try_join!(
        notifications::page(&state.db, user.id, params.unread_only, after, limit),
        notifications::unread_count(&state.db, user.id),
    )?;
    let page = Page::from_rows(rows, limit, &state.cursors, scope, |n| Keyset {
        at: n.created_at,
        id: n.id,
    });
    Ok(Reply::ok(NotificationPage { page, unread_count }))
}

/// Mark one of your notifications read.
#[utoipa::path(patch, path = "/{id}/read", tag = "notifications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "The notification, read", body = Envelope<Notification>),
              (status = 404, description = "NOT_FOUND (also someone else's)")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, notification_id = %id))]
pub async fn read(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<Notification>> {
    Ok(Reply::ok(
        notifications::mark_read(&state.db, user.id, id).await?,
    ))
}

/// `{updated}`: how many were unread.
#[derive(Debug, Serialize, ToSchema)]
pub struct Updated {
    pub updated: u64,
}

/// Mark every one of your notifications read.
#[utoipa::path(patch, path = "/read-all", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, description = "How many were unread", body = Envelope<Updated>)))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
pub async fn read_all(State(state): State<AppState>, user: AuthUser) -> ApiResult<Reply<Updated>> {
    let updated = notifications::mark_all_read(&state.db, user.id).await?;
    Ok(Reply::ok(Updated { updated }))
}

/// Delete one of your notifications.
#[utoipa::path(delete, path = "/{id}", tag = "notifications", security(("bearer" = [])), params(("id" = uuid::Uuid, Path)),
    responses((status = 200, description = "Deleted", body = Envelope<Option<bool>>),
              (status = 404, description = "NOT_FOUND (also someone else's)")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, notification_id = %id))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<()>> {
    notifications::delete(&state.db, user.id, id).await?;
    Ok(Reply::empty())
}
