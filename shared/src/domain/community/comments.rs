//! Comments: writing one (counted, and the post's author told, in the same statement), the
//! list oldest first, the author's edits and deletes, and a moderator's removal.
//! `comment_count` moves in the statement that adds or removes the comment.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Comment, Removed, comment_columns, refusal};
use crate::domain::notifications::{Kind, Localized};
use crate::error::ApiError;
use crate::pagination::Keyset;

/// Whether comment `$1` is there for anyone (it and its post not deleted).
const EXISTS: &str = "SELECT c.id FROM comments c JOIN posts p ON p.id = c.post_id
                      WHERE c.id = $1 AND c.deleted_at IS NULL AND p.deleted_at IS NULL";

/// `author` comments on `post`, which counts it, and the post's author (unless it is them)
/// hears of it with `title` and `snippet`, in one statement; `None` when there is no such
/// post.
pub async fn write(
    db: &PgPool,
    author: Uuid,
    post: Uuid,
    content: &str,
    is_anonymous: bool,
    title: Localized<'_>,
    snippet: &str,
) -> Result<Option<Comment>, ApiError> {
    // `told` is joined so that it runs (a `SELECT` in `WITH` runs only as far as it is read).
    Ok(sqlx::query_as(concat!(
        "WITH post AS (SELECT id, author_id FROM posts WHERE id = $2 AND deleted_at IS NULL),
         c AS (
             INSERT INTO comments (id, post_id, author_id, content, is_anonymous)
             SELECT $3, id, $1, $4, $5 FROM post
             RETURNING *
         ),
         counted AS (
             UPDATE posts SET comment_count = comment_count + 1 WHERE id = (SELECT post_id FROM c)
         ),
         told AS MATERIALIZED (
             SELECT notify($6, author_id, $7, $8, $9, $10, $10,
                           jsonb_build_object('post_id', id, 'comment_id', $3::uuid))
             FROM post WHERE author_id <> $1 AND EXISTS (SELECT FROM c)
         )
         SELECT ",
        comment_columns!(),
        " FROM c LEFT JOIN users u ON u.id = c.author_id LEFT JOIN told ON true"
    ))
    .bind(author)
    .bind(post)
    .bind(Uuid::now_v7())
    .bind(content)
    .bind(is_anonymous)
    .bind(Uuid::now_v7())
    .bind(Kind::Comment)
    .bind(title.ko)
    .bind(title.en)
    .bind(snippet)
    .fetch_optional(db)
    .await?)
}

/// A page of `post`'s comments, oldest first, after `after`; `None` when there is no such
/// post.
pub async fn page(
    db: &PgPool,
    viewer: Uuid,
    post: Uuid,
    after: Option<Keyset>,
    limit: i64,
) -> Result<Option<Vec<Comment>>, ApiError> {
    let exists = sqlx::query_scalar::<_, Uuid>(super::posts::EXISTS)
        .bind(post)
        .fetch_optional(db);
    let rows = sqlx::query_as::<_, Comment>(concat!(
        "SELECT ",
        comment_columns!(),
        " FROM comments c LEFT JOIN users u ON u.id = c.author_id
         WHERE c.post_id = $2 AND c.deleted_at IS NULL
           AND (c.created_at, c.id) > (COALESCE($3::timestamptz, '-infinity'), COALESCE($4::uuid, '00000000-0000-0000-0000-000000000000'))
         ORDER BY c.created_at, c.id
         LIMIT $5"
    ))
    .bind(viewer)
    .bind(post)
    .bind(after.map(|k| k.at))
    .bind(after.map(|k| k.id))
    .bind(limit)
    .fetch_all(db);
    let (exists, rows) = tokio::try_join!(exists, rows)?;
    Ok(exists.map(|_| rows))
}

/// The author edits their comment; someone else's is 403, a missing one 404.
pub async fn edit(db: &PgPool, author: Uuid, id: Uuid, content: &str) -> Result<Comment, ApiError> {
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
    .bind(author)
    .bind(id)
    .bind(content)
    .fetch_optional(db)
    .await?;
    match comment {
        Some(comment) => Ok(comment),
        None => Err(refusal(db, EXISTS, id).await),
    }
}

/// The author deletes their comment (softly; its post's count drops in the same
/// statement); someone else's is 403, a missing one 404.
pub async fn delete(db: &PgPool, author: Uuid, id: Uuid) -> Result<(), ApiError> {
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
    .bind(author)
    .execute(db)
    .await?
    .rows_affected();
    if deleted == 0 {
        return Err(refusal(db, EXISTS, id).await);
    }
    Ok(())
}

/// A moderator removes comment `id` (softly; its post's count drops in the same statement)
/// inside their transaction; `None` when there is no such comment (or it is already gone).
pub async fn remove(db: &mut PgConnection, id: Uuid) -> Result<Option<Removed>, ApiError> {
    Ok(sqlx::query_as(
        "WITH c AS (
             UPDATE comments c SET deleted_at = now()
             WHERE c.id = $1 AND c.deleted_at IS NULL
             RETURNING c.post_id, c.author_id
         ),
         counted AS (
             UPDATE posts SET comment_count = comment_count - 1 FROM c
             WHERE posts.id = c.post_id
             RETURNING posts.title
         )
         SELECT c.author_id, counted.title FROM c, counted",
    )
    .bind(id)
    .fetch_optional(db)
    .await?)
}
