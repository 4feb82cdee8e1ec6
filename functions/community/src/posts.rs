//! A post: writing, reading, editing and deleting it (author only; others get 403).

use axum::extract::State;
use shared::envelope::Envelope;
use shared::http::{AuthUser, Json, ResourceId};
use shared::{ApiError, ApiResult, AppState, Reply};

use shared::domain::community::{Post, posts};

use crate::model::{CreatePost, UpdatePost};

/// Publish a post. When its text shows risk it is published all the same, and the answer
/// carries `safety` with the hotlines.
#[utoipa::path(post, path = "/posts", tag = "community", security(("bearer" = [])), request_body = CreatePost,
    responses((status = 201, description = "The new post (with `safety` when its text shows risk)", body = Envelope<Post>),
              (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all)]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    Json(body): Json<CreatePost>,
) -> ApiResult<Reply<Post>> {
    let new = body.validate()?;
    let safety = crate::assess("post", &[&new.title, &new.content]);
    let mut post = posts::publish(&state.db, user.id, new).await?;
    post.safety = safety;
    Ok(Reply::created(post))
}

/// A post.
#[utoipa::path(get, path = "/posts/{id}", tag = "community", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "The post", body = Envelope<Post>), (status = 404, description = "NOT_FOUND (also a deleted one)")))]
#[tracing::instrument(skip_all, fields(post_id = %id))]
pub async fn get(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<Post>> {
    let post = posts::get(&state.db, user.id, id).await?;
    Ok(Reply::ok(post.ok_or_else(ApiError::not_found)?))
}

/// Edit your post: `title`, `content`, `category` (anonymity stays as published).
#[utoipa::path(patch, path = "/posts/{id}", tag = "community", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdatePost,
    responses((status = 200, description = "The edited post", body = Envelope<Post>),
              (status = 403, description = "FORBIDDEN: someone else's"), (status = 404, description = "NOT_FOUND"),
              (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(post_id = %id))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
    Json(body): Json<UpdatePost>,
) -> ApiResult<Reply<Post>> {
    let edit = body.validate()?;
    Ok(Reply::ok(posts::edit(&state.db, user.id, id, edit).await?))
}

/// Delete your post (it disappears for everyone, with its comments).
#[utoipa::path(delete, path = "/posts/{id}", tag = "community", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "Deleted", body = Envelope<Option<bool>>),
              (status = 403, description = "FORBIDDEN: someone else's"), (status = 404, description = "NOT_FOUND")))]
#[tracing::instrument(skip_all, fields(post_id = %id))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<()>> {
    posts::delete(&state.db, user.id, id).await?;
    Ok(Reply::empty())
}
