//! Community content — `posts`, `comments` and `post_likes` — owned here because two
//! functions write it: community (people) and admin (moderation). Every statement that writes
//! these tables is in this module; reads for the API are here too, with the shapes they fill.
//!
//! Who wrote something is decided in SQL ([`author_columns`]): for anonymous content the
//! query returns no author id at all, so no row a caller holds could leak it.

pub mod comments;
pub mod feed;
pub mod likes;
pub mod posts;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;
use crate::safety::Safety;

/// What an anonymous author is called, to everyone (the author included).
pub const ANONYMOUS: &str = "익명";
/// What the author of content whose account was deleted is called.
/// Posts their authors or moderators removed, by the time of removal: kept 30 days (for
/// appeals and reports), then deleted for good with their comments and likes (retention).
pub const REMOVED_POSTS: crate::db::Expiring = crate::db::Expiring {
    table: "posts",
    key: &["id"],
    at: "deleted_at",
};

/// Removed comments, likewise (the post's count dropped when they were removed).
pub const REMOVED_COMMENTS: crate::db::Expiring = crate::db::Expiring {
    table: "comments",
    key: &["id"],
    at: "deleted_at",
};

pub const DEPARTED: &str = "탈퇴한 사용자";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Category {
    /// 일상
    Daily,
    /// 고민
    Worry,
    /// 감사
    Gratitude,
    /// 자유
    Free,
}

impl Category {
    pub fn parse(value: &str) -> Result<Self, &'static str> {
        match value {
            "daily" => Ok(Self::Daily),
            "worry" => Ok(Self::Worry),
            "gratitude" => Ok(Self::Gratitude),
            "free" => Ok(Self::Free),
            _ => Err("must be one of daily, worry, gratitude, free"),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Daily => "daily",
            Self::Worry => "worry",
            Self::Gratitude => "gratitude",
            Self::Free => "free",
        }
    }
}

/// `author` of the API.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Author {
    /// `null` for anonymous content and for accounts that were deleted.
    #[sqlx(rename = "author_id")]
    pub id: Option<Uuid>,
    /// "익명" for anonymous content, "탈퇴한 사용자" for deleted accounts.
    #[sqlx(rename = "author_nickname")]
    pub nickname: String,
}

/// `author_id`, `author_nickname` and `is_mine` of the row aliased `$table` (posts or
/// comments, joined to its author as `u`), for the caller `$1`.
macro_rules! author_columns {
    ($table:literal) => {
        concat!(
            "CASE WHEN ", $table, ".is_anonymous THEN NULL ELSE u.id END AS author_id, ",
            "CASE WHEN ", $table, ".is_anonymous THEN '익명' ELSE COALESCE(u.nickname, '탈퇴한 사용자') END AS author_nickname, ",
            "COALESCE(", $table, ".author_id = $1, false) AS is_mine"
        )
    };
}
pub(crate) use author_columns;

/// `post` of the API.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Post {
    pub id: Uuid,
    pub title: String,
    pub content: String,
    pub category: Category,
    #[sqlx(flatten)]
    pub author: Author,
    pub is_anonymous: bool,
    pub like_count: i32,
    pub comment_count: i32,
    pub liked_by_me: bool,
    /// Whether the caller wrote it (also for their anonymous posts).
    pub is_mine: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Only in the answer to `POST /posts`, when the text shows risk.
    #[sqlx(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety: Option<Safety>,
}

/// The columns of [`Post`] for the row `p` joined to its author `u`, for the caller `$1`.
macro_rules! post_columns {
    () => {
        concat!(
            "p.id, p.title, p.content, p.category, p.is_anonymous, p.like_count, p.comment_count, ",
            "p.created_at, p.updated_at, ",
            crate::domain::community::author_columns!("p"),
            ", EXISTS (SELECT FROM post_likes l WHERE l.post_id = p.id AND l.user_id = $1 AND l.unliked_at IS NULL) AS liked_by_me"
        )
    };
}
pub(crate) use post_columns;

/// `comment` of the API.
#[derive(Debug, Clone, Serialize, FromRow, ToSchema)]
pub struct Comment {
    pub id: Uuid,
    pub post_id: Uuid,
    pub content: String,
    #[sqlx(flatten)]
    pub author: Author,
    pub is_anonymous: bool,
    pub is_mine: bool,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Only in the answer to `POST /posts/{id}/comments`, when the text shows risk.
    #[sqlx(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub safety: Option<Safety>,
}

/// The columns of [`Comment`] for the row `c` joined to its author `u`, for the caller `$1`.
macro_rules! comment_columns {
    () => {
        concat!(
            "c.id, c.post_id, c.content, c.is_anonymous, c.created_at, c.updated_at, ",
            crate::domain::community::author_columns!("c")
        )
    };
}
pub(crate) use comment_columns;

/// `{liked, like_count}`: the caller's like and the post's count after the request.
#[derive(Debug, Serialize, FromRow, ToSchema)]
pub struct LikeState {
    pub liked: bool,
    pub like_count: i32,
}

/// Content a moderator removed: whom to tell, and about what.
#[derive(Debug, FromRow)]
pub struct Removed {
    /// `None` when the author's account is gone.
    pub author_id: Option<Uuid>,
    /// The post's title (for a comment: the title of its post).
    pub title: String,
}

/// Why an author-only write to `id` changed nothing: `exists` (a query of `$1` for it)
/// finds it, so it is someone else's (403), or there is no such thing (404).
async fn refusal(db: &PgPool, exists: &'static str, id: Uuid) -> ApiError {
    match sqlx::query_scalar::<_, Uuid>(exists)
        .bind(id)
        .fetch_optional(db)
        .await
    {
        Ok(Some(_)) => ApiError::forbidden(),
        Ok(None) => ApiError::not_found(),
        Err(e) => e.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn categories_are_the_contracts_four() {
        for c in ["daily", "worry", "gratitude", "free"] {
            assert_eq!(Category::parse(c).unwrap().as_str(), c);
        }
        assert!(Category::parse("news").is_err());
    }
}
