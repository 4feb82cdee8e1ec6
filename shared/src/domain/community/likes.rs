//! Likes, idempotent both ways. One row per time someone liked a post (`liked_at`,
//! `unliked_at`): liking again adds a row, and the history serves the popular feed's
//! snapshot and "once per liker". The count moves in the transaction of the like, under the
//! post's row lock taken last ([`count`]), so concurrent likes never lose an update.

use sqlx::{FromRow, PgConnection, PgPool};
use uuid::Uuid;

use crate::error::ApiError;

/// What a like found.
#[derive(Debug, FromRow)]
pub struct Liked {
    /// The post's author (`None`: their account is gone).
    pub author_id: Option<Uuid>,
    pub title: String,
    /// The count before this like.
    pub like_count: i32,
    /// Whether this request added the like (else it was standing already).
    pub added: bool,
    /// Whether this person had liked the post before (and took it back).
    pub liked_before: bool,
}

/// `user` likes `post` inside the caller's transaction; `None` when there is no such post.
/// When it `added` the like, [`count`] it as the transaction's last statement.
pub async fn like(
    db: &mut PgConnection,
    user: Uuid,
    post: Uuid,
) -> Result<Option<Liked>, ApiError> {
    // `liked_before` reads the table as it was before this statement's insert.
    Ok(sqlx::query_as(
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
                EXISTS (SELECT FROM added) AS added,
                EXISTS (SELECT FROM post_likes WHERE post_id = $1 AND user_id = $2) AS liked_before
         FROM post",
    )
    .bind(post)
    .bind(user)
    .fetch_optional(db)
    .await?)
}

/// Counts a like [`like`] added; the new count.
pub async fn count(db: &mut PgConnection, post: Uuid) -> Result<i32, ApiError> {
    Ok(sqlx::query_scalar(
        "UPDATE posts SET like_count = like_count + 1 WHERE id = $1 RETURNING like_count",
    )
    .bind(post)
    .fetch_one(db)
    .await?)
}

/// `user` takes their like of `post` back (not liked: nothing changes), in one statement;
/// the count after it, or `None` when there is no such post.
pub async fn unlike(db: &PgPool, user: Uuid, post: Uuid) -> Result<Option<i32>, ApiError> {
    Ok(sqlx::query_scalar(
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
    .bind(post)
    .bind(user)
    .fetch_optional(db)
    .await?)
}
