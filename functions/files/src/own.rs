//! `GET /{id}` and `DELETE /{id}`: a person's own file (anyone else's is a 404).

use axum::extract::State;
use shared::domain::files::{self, File};
use shared::envelope::Envelope;
use shared::events::image::ImageEvent;
use shared::http::{AuthUser, ResourceId};
use shared::{ApiError, ApiResult, AppState, Reply};

/// One of your files, with fresh links (a profile picture's `status` tells whether its
/// copies are made).
#[utoipa::path(get, path = "/{id}", tag = "files", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses(
        (status = 200, description = "The file", body = Envelope<File>),
        (status = 404, description = "NOT_FOUND: no such file of yours"),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, file_id = %id))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<File>> {
    let row = files::own(&state.db, id, user.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    Ok(Reply::ok(row.to_file(&state.links, chrono::Utc::now())))
}

/// Delete one of your files: its links stop working at once, a profile showing it shows
/// none, and its stored objects are removed shortly after.
#[utoipa::path(delete, path = "/{id}", tag = "files", security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path)),
    responses(
        (status = 200, description = "Deleted", body = Envelope<Option<bool>>),
        (status = 404, description = "NOT_FOUND: no such file of yours"),
    ))]
#[tracing::instrument(skip_all, fields(user_id = %user.id, file_id = %id))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<()>> {
    if !files::delete_own(&state.db, id, user.id).await? {
        return Err(ApiError::not_found());
    }
    // The objects are queued already; the sweep only makes it sooner.
    state.events.publish_later(
        &state.settings.pubsub.topic_image_resize,
        &ImageEvent::Sweep,
        "storage sweep",
    );
    Ok(Reply::empty())
}
