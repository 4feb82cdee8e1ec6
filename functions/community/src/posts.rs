//! A post: writing, reading, editing and deleting it (author only; others get 403).

use axum::extract::State;
use shared::envelope::Envelope;
use shared::http::{AuthUser, Json, ResourceId};
use shared::{ApiError, ApiResult, AppState, Reply};
use uuid::Uuid;

use crate::model::{CreatePost, Post, UpdatePost, post_columns};

/// Whether post `$1` is there for anyone.
pub(crate) const EXISTS: &str = "SELECT id FROM posts WHERE id = $1 AND deleted_at IS NULL";

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
    let mut post: Post = sqlx::query_as(concat!(
        "WITH p AS (
             INSERT INTO posts (id, author_id, title, content, category, is_anonymous)
             VALUES ($2, $1, $3, $4, $5, $6) RETURNING *
         )
         SELECT ",
        post_columns!(),
        " FROM p LEFT JOIN users u ON u.id = p.author_id"
    ))
    .bind(user.id)
    .bind(Uuid::now_v7())
    .bind(new.title)
    .bind(new.content)
    .bind(new.category)
    .bind(new.is_anonymous)
    .fetch_one(&state.db)
    .await?;
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
    let post: Option<Post> = sqlx::query_as(concat!(
        "SELECT ",
        post_columns!(),
        " FROM posts p LEFT JOIN users u ON u.id = p.author_id
         WHERE p.id = $2 AND p.deleted_at IS NULL"
    ))
    .bind(user.id)
    .bind(id)
    .fetch_optional(&state.db)
    .await?;
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
    let post: Option<Post> = sqlx::query_as(concat!(
        "WITH p AS (
             UPDATE posts SET
                 title = COALESCE($3, title),
                 content = COALESCE($4, content),
                 category = COALESCE($5, category),
                 updated_at = now()
             WHERE id = $2 AND author_id = $1 AND deleted_at IS NULL
             RETURNING *
         )
         SELECT ",
        post_columns!(),
        " FROM p LEFT JOIN users u ON u.id = p.author_id"
    ))
    .bind(user.id)
    .bind(id)
    .bind(edit.title)
    .bind(edit.content)
    .bind(edit.category)
    .fetch_optional(&state.db)
    .await?;
    match post {
        Some(post) => Ok(Reply::ok(post)),
        None => Err(crate::refusal(&state.db, EXISTS, id).await),
    }
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
    let deleted = sqlx::query(
        "UPDATE posts SET deleted_at = now()
         WHERE id = $1 AND author_id = $2 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(user.id)
    .execute(&state.db)
    .await?
    .rows_affected();
    if deleted == 0 {
        return Err(crate::refusal(&state.db, EXISTS, id).await);
    }
    Ok(Reply::empty())
}
