//! The feed's reads: posts newest first (`latest`) or most liked first, ties by recency
//! (`popular`), optionally of one category, in keyset pages that neither repeat nor skip a
//! post while posts and likes arrive.
//!
//! `latest` pages on `(created_at, id)`, which never change. Like counts do, so a
//! `popular` feed ranks by the counts *as they were* at its snapshot — one second before its
//! first page was read, carried in every cursor — and leaves out posts newer than that.
//! A post liked or unliked since counts as it did then: the likes table keeps each like's
//! `liked_at` and `unliked_at`, and only the posts changed since the snapshot (a handful)
//! are corrected; the rest come in index order. The second's margin covers a like whose
//! transaction began before the snapshot and committed after the first page was read.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgPool};
use uuid::Uuid;

use super::{Category, Post, post_columns};
use crate::error::ApiError;
use crate::pagination::Keyset;

/// Where a `popular` page ends: the snapshot its ranking is as of, and the last post's
/// place in it (likes then, creation time, id).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Standing {
    #[serde(rename = "s")]
    pub snapshot: DateTime<Utc>,
    #[serde(rename = "n")]
    pub likes: i32,
    #[serde(rename = "t")]
    pub at: DateTime<Utc>,
    #[serde(rename = "i")]
    pub id: Uuid,
}

/// A post of a `popular` page, with its place in the ranking.
#[derive(FromRow)]
pub struct RankedPost {
    #[sqlx(flatten)]
    pub post: Post,
    pub score: i32,
    pub snapshot: DateTime<Utc>,
}

impl RankedPost {
    /// Where a page ending with this post ends.
    pub fn standing(&self) -> Standing {
        Standing {
            snapshot: self.snapshot,
            likes: self.score,
            at: self.post.created_at,
            id: self.post.id,
        }
    }
}

/// The newest first; `$2`/`$3` the keyset after which the page starts (none: the top), `$4`
/// the limit, `$5` the category where there is one.
macro_rules! latest_sql {
    ($category:literal) => {
        concat!(
            "SELECT ",
            post_columns!(),
            " FROM posts p LEFT JOIN users u ON u.id = p.author_id
             WHERE p.deleted_at IS NULL",
            $category,
            " AND (p.created_at, p.id) < (COALESCE($2::timestamptz, 'infinity'), COALESCE($3::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
             ORDER BY p.created_at DESC, p.id DESC
             LIMIT $4"
        )
    };
}

/// The most liked first as of the snapshot `$2` (none: one second ago), after the place
/// `$3, $4, $5` (none: the top; given inline, so the index scan starts there); `$6` the
/// limit, `$7` the category where there is one.
/// `changed` is each post's likes gained since the snapshot (a like given or withdrawn
/// since counts as it stood then); unchanged posts come straight from the index.
macro_rules! popular_sql {
    ($category:literal) => {
        concat!(
            "WITH snap AS (SELECT COALESCE($2::timestamptz, clock_timestamp() - interval '1 second') AS t),
             changed AS (
                 SELECT l.post_id,
                        sum((l.unliked_at IS NULL)::int
                            - (l.liked_at <= snap.t AND (l.unliked_at IS NULL OR l.unliked_at > snap.t))::int
                        )::int AS gained
                 FROM post_likes l, snap WHERE l.changed_at > snap.t
                 GROUP BY l.post_id
             ),
             ranked AS (
                 (SELECT p.id, p.like_count AS score, p.created_at FROM posts p, snap
                  WHERE p.deleted_at IS NULL",
            $category,
            " AND (p.like_count, p.created_at, p.id) < (COALESCE($3::int, 2147483647), COALESCE($4::timestamptz, 'infinity'), COALESCE($5::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
                    AND p.created_at <= snap.t
                    AND p.id NOT IN (SELECT post_id FROM changed)
                  ORDER BY p.like_count DESC, p.created_at DESC, p.id DESC
                  LIMIT $6)
                 UNION ALL
                 SELECT p.id, p.like_count - c.gained, p.created_at
                 FROM changed c JOIN posts p ON p.id = c.post_id, snap
                 WHERE p.deleted_at IS NULL",
            $category,
            " AND (p.like_count - c.gained, p.created_at, p.id) < (COALESCE($3::int, 2147483647), COALESCE($4::timestamptz, 'infinity'), COALESCE($5::uuid, 'ffffffff-ffff-ffff-ffff-ffffffffffff'))
                   AND p.created_at <= snap.t
             ),
             page AS (
                 SELECT id, score, created_at FROM ranked
                 ORDER BY score DESC, created_at DESC, id DESC LIMIT $6
             )
             SELECT ",
            post_columns!(),
            ", page.score, snap.t AS snapshot
             FROM page JOIN posts p ON p.id = page.id LEFT JOIN users u ON u.id = p.author_id, snap
             ORDER BY page.score DESC, page.created_at DESC, page.id DESC"
        )
    };
}

const LATEST: &str = latest_sql!("");
const LATEST_IN_CATEGORY: &str = latest_sql!(" AND p.category = $5");
const POPULAR: &str = popular_sql!("");
const POPULAR_IN_CATEGORY: &str = popular_sql!(" AND p.category = $7");

/// The newest posts (of `category`) after `after`, as `viewer` sees them.
pub async fn latest(
    db: &PgPool,
    viewer: Uuid,
    category: Option<Category>,
    after: Option<Keyset>,
    limit: i64,
) -> Result<Vec<Post>, ApiError> {
    let sql = if category.is_some() {
        LATEST_IN_CATEGORY
    } else {
        LATEST
    };
    let query = sqlx::query_as(sql)
        .bind(viewer)
        .bind(after.map(|k| k.at))
        .bind(after.map(|k| k.id))
        .bind(limit);
    Ok(match category {
        Some(c) => query.bind(c).fetch_all(db).await?,
        None => query.fetch_all(db).await?,
    })
}

/// The most liked posts (of `category`) as of the snapshot of `after` (none: a new one),
/// after its place, as `viewer` sees them.
pub async fn popular(
    db: &PgPool,
    viewer: Uuid,
    category: Option<Category>,
    after: Option<Standing>,
    limit: i64,
) -> Result<Vec<RankedPost>, ApiError> {
    let sql = if category.is_some() {
        POPULAR_IN_CATEGORY
    } else {
        POPULAR
    };
    let query = sqlx::query_as(sql)
        .bind(viewer)
        .bind(after.map(|r| r.snapshot))
        .bind(after.map(|r| r.likes))
        .bind(after.map(|r| r.at))
        .bind(after.map(|r| r.id))
        .bind(limit);
    Ok(match category {
        Some(c) => query.bind(c).fetch_all(db).await?,
        None => query.fetch_all(db).await?,
    })
}
