//! Likes, idempotent both ways. One row per time someone liked a post (`liked_at`,
//! `unliked_at`): liking again adds a row, and the history serves the popular feed's
//! snapshot and "once per liker". A like, its count and the author's notification are one
//! statement (docs/decisions.md, "Writes at the database's pace"); `like_count = like_count
//! ± 1` under the row lock never loses an update.

use sqlx::PgPool;
use uuid::Uuid;

use crate::domain::notifications::{Kind, Localized};
use crate::error::ApiError;

/// `user` likes `post` (already liked: nothing changes) and the post's author hears of it,
/// with `title` and the post's title, the first time this person likes it (never of their
/// own like). The count after it, or `None` when there is no such post.
pub async fn like(
    db: &PgPool,
    user: Uuid,
    post: Uuid,
    title: Localized<'_>,
) -> Result<Option<i32>, ApiError> {
    // `NOT EXISTS` reads the likes as they were before this statement's insert; `told` is
    // joined so that it runs (a `SELECT` in `WITH` runs only as far as it is read).
    Ok(sqlx::query_scalar(
        "WITH post AS (
             SELECT id, author_id, title, like_count FROM posts
             WHERE id = $1 AND deleted_at IS NULL
         ),
         added AS (
             INSERT INTO post_likes (post_id, user_id) SELECT id, $2 FROM post
             ON CONFLICT (post_id, user_id) WHERE unliked_at IS NULL DO NOTHING
             RETURNING post_id
         ),
         counted AS (
             UPDATE posts SET like_count = like_count + 1
             WHERE id = (SELECT post_id FROM added)
             RETURNING like_count
         ),
         told AS MATERIALIZED (
             SELECT notify($3, author_id, $4, $5, $6, title, title, jsonb_build_object('post_id', id))
             FROM post
             WHERE author_id <> $2 AND EXISTS (SELECT FROM added)
               AND NOT EXISTS (SELECT FROM post_likes WHERE post_id = $1 AND user_id = $2)
         )
         SELECT COALESCE((SELECT like_count FROM counted), post.like_count)
         FROM post LEFT JOIN told ON true",
    )
    .bind(post)
    .bind(user)
    .bind(Uuid::now_v7())
    .bind(Kind::Like)
    .bind(title.ko)
    .bind(title.en)
    .fetch_optional(db)
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
