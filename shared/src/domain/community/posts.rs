//! Posts: publishing, reading, the author's edits and deletes, and a moderator's removal.

use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

use super::{Category, Post, Removed, post_columns, refusal};
use crate::error::ApiError;

/// Whether post `$1` is there for anyone.
pub const EXISTS: &str = "SELECT id FROM posts WHERE id = $1 AND deleted_at IS NULL";

/// A post ready to publish (validated by the caller).
pub struct NewPost {
    pub title: String,
    pub content: String,
    pub category: Category,
    pub is_anonymous: bool,
}

/// An edit of a post: `None` leaves a field as it is.
pub struct PostEdit {
    pub title: Option<String>,
    pub content: Option<String>,
    pub category: Option<Category>,
}

pub async fn publish(db: &PgPool, author: Uuid, new: NewPost) -> Result<Post, ApiError> {
    Ok(sqlx::query_as(concat!(
        "WITH p AS (
             INSERT INTO posts (id, author_id, title, content, category, is_anonymous)
             VALUES ($2, $1, $3, $4, $5, $6) RETURNING *
         )
         SELECT ",
        post_columns!(),
        " FROM p LEFT JOIN users u ON u.id = p.author_id"
    ))
    .bind(author)
    .bind(Uuid::now_v7())
    .bind(new.title)
    .bind(new.content)
    .bind(new.category)
    .bind(new.is_anonymous)
    .fetch_one(db)
    .await?)
}

/// Post `id` as `viewer` sees it; `None` when there is none (or it was deleted).
pub async fn get(db: &PgPool, viewer: Uuid, id: Uuid) -> Result<Option<Post>, ApiError> {
    Ok(sqlx::query_as(concat!(
        "SELECT ",
        post_columns!(),
        " FROM posts p LEFT JOIN users u ON u.id = p.author_id
         WHERE p.id = $2 AND p.deleted_at IS NULL"
    ))
    .bind(viewer)
    .bind(id)
    .fetch_optional(db)
    .await?)
}

/// The author edits their post; someone else's is 403, a missing one 404.
pub async fn edit(db: &PgPool, author: Uuid, id: Uuid, edit: PostEdit) -> Result<Post, ApiError> {
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
    .bind(author)
    .bind(id)
    .bind(edit.title)
    .bind(edit.content)
    .bind(edit.category)
    .fetch_optional(db)
    .await?;
    match post {
        Some(post) => Ok(post),
        None => Err(refusal(db, EXISTS, id).await),
    }
}

/// The author deletes their post (softly); someone else's is 403, a missing one 404.
pub async fn delete(db: &PgPool, author: Uuid, id: Uuid) -> Result<(), ApiError> {
    let deleted = sqlx::query(
        "UPDATE posts SET deleted_at = now()
         WHERE id = $1 AND author_id = $2 AND deleted_at IS NULL",
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

/// A moderator removes post `id` (softly), inside their transaction; `None` when there is
/// no such post (or it is already gone).
pub async fn remove(db: &mut PgConnection, id: Uuid) -> Result<Option<Removed>, ApiError> {
    Ok(sqlx::query_as(
        "UPDATE posts SET deleted_at = now() WHERE id = $1 AND deleted_at IS NULL
         RETURNING author_id, title",
    )
    .bind(id)
    .fetch_optional(db)
    .await?)
}
