//! Comments on a post: writing one (its author hears of it, unless it is theirs), the list
//! oldest first, editing and deleting (author only). `comment_count` moves in the same
//! transaction, under the post's row lock taken last.

use axum::extract::State;
use serde_json::json;
use shared::domain::notifications::{self, Kind, Localized};
use shared::envelope::Envelope;
use shared::http::{AuthUser, Json, Query, ResourceId};
use shared::pagination::{Keyset, Page, PageParams};
use shared::{ApiError, ApiResult, AppState, Fields, Reply};
use sqlx::FromRow;
use uuid::Uuid;

use crate::model::{self, Comment, CreateComment, UpdateComment, comment_columns};

const SCOPE: &str = "comments";

/// Whether comment `$1` is there for anyone (it and its post not deleted).
const EXISTS: &str = "SELECT c.id FROM comments c JOIN posts p ON p.id = c.post_id
                      WHERE c.id = $1 AND c.deleted_at IS NULL AND p.deleted_at IS NULL";

/// A new comment and what its notification needs.
#[derive(FromRow)]
struct Written {
    #[sqlx(flatten)]
    comment: Comment,
    post_author: Option<Uuid>,
}

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
    let mut tx = state.db.begin().await?;
    let written: Option<Written> = sqlx::query_as(concat!(
        "WITH post AS (SELECT id, author_id FROM posts WHERE id = $2 AND deleted_at IS NULL),
         c AS (
             INSERT INTO comments (id, post_id, author_id, content, is_anonymous)
             SELECT $3, id, $1, $4, $5 FROM post
             RETURNING *
         )
         SELECT ",
        comment_columns!(),
        ", post.author_id AS post_author
         FROM c CROSS JOIN post LEFT JOIN users u ON u.id = c.author_id"
    ))
    .bind(user.id)
    .bind(post_id)
    .bind(Uuid::now_v7())
    .bind(&content)
    .bind(body.is_anonymous)
    .fetch_optional(&mut *tx)
    .await?;
    let Written {
        mut comment,
        post_author,
    } = written.ok_or_else(ApiError::not_found)?;
    if let Some(author) = post_author.filter(|a| *a != user.id) {
        let snippet = model::snippet(&comment.content);
        let english_name = if comment.is_anonymous {
            "Anonymous"
        } else {
            &comment.author.nickname
        };
        notifications::notify(
            &mut tx,
            author,
            Kind::Comment,
            Localized {
                ko: "회원님의 글에 새 댓글이 달렸어요",
                en: "New comment on your post",
            },
            Localized {
                ko: &format!("{}: {snippet}", comment.author.nickname),
                en: &format!("{english_name}: {snippet}"),
            },
            &json!({ "post_id": post_id, "comment_id": comment.id }),
        )
        .await?;
    }
    sqlx::query("UPDATE posts SET comment_count = comment_count + 1 WHERE id = $1")
        .bind(post_id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
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
    let after: Option<Keyset> = page.position(&state.cursors, SCOPE)?;
    let post = sqlx::query_scalar::<_, Uuid>(crate::posts::EXISTS)
        .bind(post_id)
        .fetch_optional(&state.db);
    let rows = sqlx::query_as::<_, Comment>(concat!(
        "SELECT ",
        comment_columns!(),
        " FROM comments c LEFT JOIN users u ON u.id = c.author_id
         WHERE c.post_id = $2 AND c.deleted_at IS NULL
           AND (c.created_at, c.id) > (COALESCE($3::timestamptz, '-infinity'), COALESCE($4::uuid, '00000000-0000-0000-0000-000000000000'))
         ORDER BY c.created_at, c.id
         LIMIT $5"
    ))
    .bind(user.id)
    .bind(post_id)
    .bind(after.map(|k| k.at))
    .bind(after.map(|k| k.id))
    .bind(i64::from(limit) + 1)
    .fetch_all(&state.db);
    let (post, rows) = tokio::try_join!(post, rows)?;
    if post.is_none() {
        return Err(ApiError::not_found());
    }
    Ok(Reply::ok(Page::from_rows(
        rows,
        limit,
        &state.cursors,
        SCOPE,
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
    let comment: Option<Comment> = sqlx::query_as(concat!(
        "WITH c AS (
             UPDATE comments c SET content = $3, updated_at = now()
             FROM posts p
             WHERE c.id = $2 AND c.author_id = $1 AND c.deleted_at IS NULL
               AND p.id = c.post_id AND p.deleted_at IS NULL
             RETURNING c.*
         )
         SELECT ",
        comment_columns!(),
        " FROM c LEFT JOIN users u ON u.id = c.author_id"
    ))
    .bind(user.id)
    .bind(id)
    .bind(content)
    .fetch_optional(&state.db)
    .await?;
    match comment {
        Some(comment) => Ok(Reply::ok(comment)),
        None => Err(crate::refusal(&state.db, EXISTS, id).await),
    }
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
    // One statement: the comment goes and its post's count with it.
    let deleted = sqlx::query(
        "WITH c AS (
             UPDATE comments c SET deleted_at = now()
             FROM posts p
             WHERE c.id = $1 AND c.author_id = $2 AND c.deleted_at IS NULL
               AND p.id = c.post_id AND p.deleted_at IS NULL
             RETURNING c.post_id
         )
         UPDATE posts SET comment_count = comment_count - 1 FROM c WHERE posts.id = c.post_id",
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
