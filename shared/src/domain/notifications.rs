//! Notifications: the one owner of `notifications`.
//!
//! Whoever has something to tell someone calls the SQL function `notify()` inside the
//! statement of the action itself (community, challenges), or [`notify`] inside its
//! transaction (admin), so that a notification exists exactly when its cause committed. The
//! text is chosen in the recipient's language by the function's insert. The person then
//! lists, reads and deletes their own (the `notifications` function); the purge worker
//! removes them after 30 days ([`purge`]).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::{FromRow, PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::pagination::Keyset;

/// What a notification is about (`type` in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
#[schema(as = NotificationKind)]
pub enum Kind {
    Comment,
    Like,
    Challenge,
    System,
}

/// A text in both languages; the recipient's `locale` picks one.
#[derive(Debug, Clone, Copy)]
pub struct Localized<'a> {
    pub ko: &'a str,
    pub en: &'a str,
}

/// `notification` of the API.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Notification {
    pub id: Uuid,
    #[serde(rename = "type")]
    #[sqlx(rename = "kind")]
    pub kind: Kind,
    pub title: String,
    pub body: String,
    /// What the client needs to open the cause (e.g. `post_id`, `comment_id`).
    #[schema(value_type = Object)]
    pub data: Value,
    pub is_read: bool,
    pub created_at: DateTime<Utc>,
}

/// The columns of [`Notification`], for `SELECT`s and `RETURNING`s.
macro_rules! columns {
    () => {
        "id, kind, title, body, data, read_at IS NOT NULL AS is_read, created_at"
    };
}

/// Tells `recipient` about something, in their language, inside the caller's transaction
/// (rolled back with it). `data` is a JSON object. Returns the new notification's id, or
/// `None` when the recipient no longer exists (nothing to tell).
///
/// The insert itself is the SQL function `notify(id, recipient, kind, title_ko, title_en,
/// body_ko, body_en, data)` (migration `notify`), which a write calls inside its own
/// statement instead, to tell someone in the same round trip (community's likes and
/// comments).
pub async fn notify(
    db: &mut PgConnection,
    recipient: Uuid,
    kind: Kind,
    title: Localized<'_>,
    body: Localized<'_>,
    data: &Value,
) -> Result<Option<Uuid>, ApiError> {
    if !data.is_object() {
        return Err(ApiError::internal(
            "notification data must be a JSON object",
        ));
    }
    Ok(
        sqlx::query_scalar("SELECT notify($1, $2, $3, $4, $5, $6, $7, $8)")
            .bind(Uuid::now_v7())
            .bind(recipient)
            .bind(kind)
            .bind(title.ko)
            .bind(title.en)
            .bind(body.ko)
            .bind(body.en)
            .bind(data)
            .fetch_one(db)
            .await?,
    )
}

/// Marks one of `user_id`'s notifications read (reading it again keeps the first time);
/// someone else's is 404 and stays untouched.
pub async fn mark_read(db: &PgPool, user_id: Uuid, id: Uuid) -> Result<Notification, ApiError> {
    sqlx::query_as(concat!(
        "UPDATE notifications SET read_at = COALESCE(read_at, now())
         WHERE id = $1 AND user_id = $2
         RETURNING ",
        columns!()
    ))
    .bind(id)
    .bind(user_id)
    .fetch_optional(db)
    .await?
    .ok_or_else(ApiError::not_found)
}

/// Marks every unread notification of `user_id` read; how many were.
pub async fn mark_all_read(db: &PgPool, user_id: Uuid) -> Result<u64, ApiError> {
    Ok(sqlx::query(
        "UPDATE notifications SET read_at = now() WHERE user_id = $1 AND read_at IS NULL",
    )
    .bind(user_id)
    .execute(db)
    .await?
    .rows_affected())
}

/// Deletes one of `user_id`'s notifications; someone else's is 404 and stays.
pub async fn delete(db: &PgPool, user_id: Uuid, id: Uuid) -> Result<(), ApiError> {
    let deleted = sqlx::query("DELETE FROM notifications WHERE id = $1 AND user_id = $2")
        .bind(id)
        .bind(user_id)
        .execute(db)
        .await?
        .rows_affected();
    if deleted == 0 {
        return Err(ApiError::not_found());
    }
    Ok(())
}

/// One page of `user_id`'s notifications (all, or only the unread), newest first, after
/// `after`; `limit + 1` rows at most (the extra one says there is more).
pub async fn page(
    db: &PgPool,
    user_id: Uuid,
    unread_only: bool,
    after: Option<Keyset>,
    limit: u32,
) -> Result<Vec<Notification>, ApiError> {
    // Two statements, so that each matches its index (the unread one is partial).
    let sql = if unread_only {
        concat!(
            "SELECT ",
            columns!(),
            " FROM notifications
             WHERE user_id = $1 AND read_at IS NULL
               AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
             ORDER BY created_at DESC, id DESC LIMIT $4"
        )
    } else {
        concat!(
            "SELECT ",
            columns!(),
            " FROM notifications
             WHERE user_id = $1
               AND ($2::timestamptz IS NULL OR (created_at, id) < ($2, $3))
             ORDER BY created_at DESC, id DESC LIMIT $4"
        )
    };
    Ok(sqlx::query_as(sql)
        .bind(user_id)
        .bind(after.map(|k| k.at))
        .bind(after.map(|k| k.id))
        .bind(i64::from(limit) + 1)
        .fetch_all(db)
        .await?)
}

/// How many of `user_id`'s notifications are unread: read from the partial index of the
/// unread ones only (at most 30 days of them), never the whole history.
pub async fn unread_count(db: &PgPool, user_id: Uuid) -> Result<i64, ApiError> {
    Ok(sqlx::query_scalar(
        "SELECT count(*) FROM notifications WHERE user_id = $1 AND read_at IS NULL",
    )
    .bind(user_id)
    .fetch_one(db)
    .await?)
}

/// Notifications by age (`created_at`), for [`crate::db::delete_oldest`].
pub const BY_AGE: crate::db::Expiring = crate::db::Expiring {
    table: "notifications",
    key: &["id"],
    at: "created_at",
};
