//! Liking a post, idempotently both ways. The count moves in the transaction of the like,
//! under the post's row lock (taken last, so it is held only until the commit): 50 people
//! liking at once end at exactly 50. A post's author hears of a like once per person.

use axum::extract::State;
use serde_json::json;
use shared::domain::notifications::{self, Kind, Localized};
use shared::envelope::Envelope;
use shared::http::{AuthUser, ResourceId};
use shared::{ApiError, ApiResult, AppState, Reply};
use uuid::Uuid;

use crate::model::LikeState;

/// Like a post (again: nothing changes).
#[utoipa::path(post, path = "/posts/{id}/like", tag = "community", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "`liked: true` and the count", body = Envelope<LikeState>), (status = 404, description = "NOT_FOUND")))]
#[tracing::instrument(skip_all, fields(post_id = %id))]
pub async fn like(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<LikeState>> {
    let mut tx = state.db.begin().await?;
    // `liked_before` reads the table as it was before this statement's insert.
    let found: Option<(Option<Uuid>, String, i32, bool, bool)> = sqlx::query_as(
        "WITH post AS (
             SELECT id, author_id, title, like_count FROM posts
             WHERE id = $1 AND deleted_at IS NULL
         ),
         added AS (
             INSERT INTO post_likes (post_id, user_id) SELECT id, $2 FROM post
             ON CONFLICT (post_id, user_id) WHERE unliked_at IS NULL DO NOTHING
             RETURNING post_id
         )
         SELECT author_id, title, like_count,
                EXISTS (SELECT FROM added),
                EXISTS (SELECT FROM post_likes WHERE post_id = $1 AND user_id = $2)
         FROM post",
    )
    .bind(id)
    .bind(user.id)
    .fetch_optional(&mut *tx)
    .await?;
    let (author, title, like_count, added, liked_before) = found.ok_or_else(ApiError::not_found)?;
    if !added {
        return Ok(Reply::ok(LikeState {
            liked: true,
            like_count,
        }));
    }
    if let Some(author) = author.filter(|a| !liked_before && *a != user.id) {
        notifications::notify(
            &mut tx,
            author,
            Kind::Like,
            Localized {
                ko: "누군가 회원님의 글을 좋아해요",
                en: "Someone liked your post",
            },
            Localized {
                ko: &title,
                en: &title,
            },
            &json!({ "post_id": id }),
        )
        .await?;
    }
    let like_count: i32 = sqlx::query_scalar(
        "UPDATE posts SET like_count = like_count + 1 WHERE id = $1 RETURNING like_count",
    )
    .bind(id)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Reply::ok(LikeState {
        liked: true,
        like_count,
    }))
}

/// Take your like back (not liked: nothing changes).
#[utoipa::path(delete, path = "/posts/{id}/like", tag = "community", security(("bearer" = [])), params(("id" = Uuid, Path)),
    responses((status = 200, description = "`liked: false` and the count", body = Envelope<LikeState>), (status = 404, description = "NOT_FOUND")))]
#[tracing::instrument(skip_all, fields(post_id = %id))]
pub async fn unlike(
    State(state): State<AppState>,
    user: AuthUser,
    ResourceId(id): ResourceId,
) -> ApiResult<Reply<LikeState>> {
    // One statement: the like withdrawn, then the count, or the count as it stands.
    let like_count: Option<i32> = sqlx::query_scalar(
        "WITH post AS (
             SELECT id, like_count FROM posts WHERE id = $1 AND deleted_at IS NULL
         ),
         withdrawn AS (
             UPDATE post_likes SET unliked_at = now()
             WHERE post_id = (SELECT id FROM post) AND user_id = $2 AND unliked_at IS NULL
             RETURNING post_id
         ),
         counted AS (
             UPDATE posts SET like_count = like_count - 1
             WHERE id = (SELECT post_id FROM withdrawn)
             RETURNING like_count
         )
         SELECT COALESCE((SELECT like_count FROM counted), post.like_count) FROM post",
    )
    .bind(id)
    .bind(user.id)
    .fetch_optional(&state.db)
    .await?;
    Ok(Reply::ok(LikeState {
        liked: false,
        like_count: like_count.ok_or_else(ApiError::not_found)?,
    }))
}
