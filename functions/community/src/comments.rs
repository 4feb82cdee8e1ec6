//! Comments on a post (`shared::domain::community::comments`): writing one (the post's
//! author hears of it, unless it is theirs), the list oldest first, editing and deleting
//! (author only).

use axum::extract::State;
use shared::domain::notifications::Localized;
use shared::envelope::Envelope;
use shared::http::{AuthUser, Json, Query, ResourceId};
use shared::pagination::{Keyset, Page, PageParams};
use shared::{ApiError, ApiResult, AppState, Fields, Reply};

use shared::domain::community::Comment;
use shared::domain::community::comments;

use crate::model::{self, CreateComment, UpdateComment};

/// Comment on a post. When its text shows risk it is published all the same, and the
/// answer carries `safety` with the hotlines.
#[utoipa::path(post, path = "/posts/{id}/comments", tag = "community", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = CreateComment,
    responses((status = 201, description = "The new comment (with `safety` when its text shows risk)", body = Envelope<Comment>),
              (status = 404, description = "NOT_FOUND: no such post"), (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(post_id = %post_id))]
pub async fn create(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(post_id): ResourceId,
    Json(body): Json<CreateComment>,
) -> ApiResult<Reply<Comment>> {
    let mut f = Fields::default();
    let content = f.check("content", model::comment_content(&body.content));
    let content = f.finish(content)?;
    let safety = crate::assess("comment", &[&content]);
    // The words only, never who wrote them: a copy of a nickname in someone else's
    // notification would outlive its owner's account (docs/decisions.md, "Privacy").
    let snippet = model::snippet(&content);
    let title = Localized {
        ko: "회원님의 글에 새 댓글이 달렸어요",
        en: "New comment on your post",
    };
    let mut comment = comments::write(
        &state.db,
        user.id,
        post_id,
        &content,
        body.is_anonymous,
        title,
        &snippet,
    )
    .await?
    .ok_or_else(ApiError::not_found)?;
    comment.safety = safety;
    Ok(Reply::created(comment))
}

/// A post's comments, oldest first.
#[utoipa::path(get, path = "/posts/{id}/comments", tag = "community", security(("bearer" = [])), params(("id" = Uuid, Path), PageParams),
    responses((status = 200, description = "A page of comments", body = Envelope<Page<Comment>>),
              (status = 400, description = "BAD_REQUEST: bad cursor"), (status = 404, description = "NOT_FOUND: no such post"),
              (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(post_id = %post_id))]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(post_id): ResourceId,
    Query(page): Query<PageParams>,
) -> ApiResult<Reply<Page<Comment>>> {
    let limit = page.limit()?;
    // A cursor belongs to one post's comments.
    let scope = format!("comments:{post_id}");
    let after: Option<Keyset> = page.position(&state.cursors, &scope)?;
    let rows = comments::page(&state.db, user.id, post_id, after, i64::from(limit) + 1)
        .await?
        .ok_or_else(ApiError::not_found)?;
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

/// Edit your comment.
#[utoipa::path(patch, path = "/comments/{id}", tag = "community", security(("bearer" = [])), params(("id" = Uuid, Path)), request_body = UpdateComment,
    responses((status = 200, description = "The edited comment", body = Envelope<Comment>),
              (status = 403, description = "FORBIDDEN: someone else's"), (status = 404, description = "NOT_FOUND"),
              (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(comment_id = %id))]
pub async fn update(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
    Json(body): Json<UpdateComment>,
) -> ApiResult<Reply<Comment>> {
    let mut f = Fields::default();
    let content = f.check("content", model::comment_content(&body.content));
    let content = f.finish(content)?;
    Ok(Reply::ok(
        comments::edit(&state.db, user.id, id, &content).await?,
    ))
}

/// Delete your comment.
#[utoipa::path(delete, path = "/comments/{id}", tag = "community", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "Deleted", body = Envelope<Option<bool>>),
              (status = 403, description = "FORBIDDEN: someone else's"), (status = 404, description = "NOT_FOUND")))]
#[tracing::instrument(skip_all, fields(comment_id = %id))]
pub async fn delete(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<()>> {
    comments::delete(&state.db, user.id, id).await?;
    Ok(Reply::empty())
}
