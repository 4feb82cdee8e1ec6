//! The feed: posts newest first (`latest`) or most liked first, ties by recency
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

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shared::envelope::Envelope;
use shared::http::{AuthUser, Query};
use shared::pagination::{Keyset, Page, PageParams};
use shared::{ApiResult, AppState, Fields, Reply};
use sqlx::FromRow;
use utoipa::IntoParams;
use uuid::Uuid;

use crate::model::{Category, Post, post_columns};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FeedParams {
    /// `daily`, `worry`, `gratitude` or `free`; all when absent.
    category: Option<String>,
    /// `latest` (default) or `popular`.
    sort: Option<String>,
    /// 1..=100, default 20.
    limit: Option<u32>,
    cursor: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Latest,
    Popular,
}

impl Sort {
    fn parse(value: &str) -> Result<Self, &'static str> {
        match value {
            "latest" => Ok(Self::Latest),
            "popular" => Ok(Self::Popular),
            _ => Err("must be latest or popular"),
        }
    }
}

/// Where a `popular` page ends: the snapshot its ranking is as of, and the last post's
/// place in it (likes then, creation time, id).
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Ranked {
    #[serde(rename = "s")]
    snapshot: DateTime<Utc>,
    #[serde(rename = "n")]
    likes: i32,
    #[serde(rename = "t")]
    at: DateTime<Utc>,
    #[serde(rename = "i")]
    id: Uuid,
}

/// A post of a `popular` page, with its place in the ranking.
#[derive(FromRow)]
struct RankedPost {
    #[sqlx(flatten)]
    post: Post,
    score: i32,
    snapshot: DateTime<Utc>,
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
/// `$3, $4, $5` (none: the top); `$6` the limit, `$7` the category where there is one.
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
             after AS (
                 SELECT COALESCE($3, 2147483647) AS likes,
                        COALESCE($4, 'infinity'::timestamptz) AS at,
                        COALESCE($5, 'ffffffff-ffff-ffff-ffff-ffffffffffff'::uuid) AS id
             ),
             ranked AS (
                 (SELECT p.id, p.like_count AS score, p.created_at FROM posts p, snap, after
                  WHERE p.deleted_at IS NULL",
            $category,
            " AND (p.like_count, p.created_at, p.id) < (after.likes, after.at, after.id)
                    AND p.created_at <= snap.t
                    AND p.id NOT IN (SELECT post_id FROM changed)
                  ORDER BY p.like_count DESC, p.created_at DESC, p.id DESC
                  LIMIT $6)
                 UNION ALL
                 SELECT p.id, p.like_count - c.gained, p.created_at
                 FROM changed c JOIN posts p ON p.id = c.post_id, snap, after
                 WHERE p.deleted_at IS NULL",
            $category,
            " AND (p.like_count - c.gained, p.created_at, p.id) < (after.likes, after.at, after.id)
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

/// The feed.
#[utoipa::path(get, path = "/posts", tag = "community", security(("bearer" = [])), params(FeedParams),
    responses((status = 200, description = "A page of posts", body = Envelope<Page<Post>>),
              (status = 400, description = "BAD_REQUEST: bad cursor"), (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all)]
pub async fn list(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<FeedParams>,
) -> ApiResult<Reply<Page<Post>>> {
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    };
    let mut f = Fields::default();
    let limit = f.check(
        "limit",
        page.limit().map_err(|_| "must be between 1 and 100"),
    );
    let sort = f.check(
        "sort",
        params.sort.as_deref().map_or(Ok(Sort::Latest), Sort::parse),
    );
    let category = params
        .category
        .as_deref()
        .map(|c| f.check("category", Category::parse(c)));
    let (limit, sort) = f.finish((limit, sort))?;
    let category = category.flatten();
    // A cursor belongs to one sort of one category: another's keyset means nothing there.
    let scope = format!(
        "posts:{}:{}",
        if sort == Sort::Latest {
            "latest"
        } else {
            "popular"
        },
        category.map_or("all", Category::as_str)
    );
    let fetch = i64::from(limit) + 1;
    let page = match sort {
        Sort::Latest => {
            let after: Option<Keyset> = page.position(&state.cursors, &scope)?;
            let sql = if category.is_some() {
                LATEST_IN_CATEGORY
            } else {
                LATEST
            };
            let query = sqlx::query_as(sql)
                .bind(user.id)
                .bind(after.map(|k| k.at))
                .bind(after.map(|k| k.id))
                .bind(fetch);
            let rows: Vec<Post> = match category {
                Some(c) => query.bind(c).fetch_all(&state.db).await?,
                None => query.fetch_all(&state.db).await?,
            };
            Page::from_rows(rows, limit, &state.cursors, &scope, |p| Keyset {
                at: p.created_at,
                id: p.id,
            })
        }
        Sort::Popular => {
            let after: Option<Ranked> = page.position(&state.cursors, &scope)?;
            let sql = if category.is_some() {
                POPULAR_IN_CATEGORY
            } else {
                POPULAR
            };
            let query = sqlx::query_as(sql)
                .bind(user.id)
                .bind(after.map(|r| r.snapshot))
                .bind(after.map(|r| r.likes))
                .bind(after.map(|r| r.at))
                .bind(after.map(|r| r.id))
                .bind(fetch);
            let rows: Vec<RankedPost> = match category {
                Some(c) => query.bind(c).fetch_all(&state.db).await?,
                None => query.fetch_all(&state.db).await?,
            };
            let page = Page::from_rows(rows, limit, &state.cursors, &scope, |r| Ranked {
                snapshot: r.snapshot,
                likes: r.score,
                at: r.post.created_at,
                id: r.post.id,
            });
            Page {
                items: page.items.into_iter().map(|r| r.post).collect(),
                next_cursor: page.next_cursor,
            }
        }
    };
    Ok(Reply::ok(page))
}
