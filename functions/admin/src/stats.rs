//! System statistics, computed at most once a minute (cached): counting a million people
//! and a week of ten million logs on every call would be wasted work.

use std::time::Duration;

use axum::extract::State;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use shared::envelope::Envelope;
use shared::{ApiResult, AppState, Reply};
use sqlx::FromRow;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::Admin;

const KEY: &str = "admin:stats";
const FRESH_FOR: Duration = Duration::from_secs(60);

#[derive(Debug, Serialize, Deserialize, FromRow, ToSchema)]
pub struct PeopleStats {
    pub total: i64,
    /// Active (signed in or refreshed) in the last 7 days.
    pub active_7d: i64,
    /// Joined in the last 7 days.
    pub new_7d: i64,
    /// Suspended now.
    pub suspended: i64,
}

/// Counts over the last 7 days (rows created then).
#[derive(Debug, Serialize, Deserialize, FromRow, ToSchema)]
#[schema(as = ServiceStats)]
pub struct Stats {
    #[sqlx(flatten)]
    pub users: PeopleStats,
    pub emotions_7d: i64,
    pub posts_7d: i64,
    pub comments_7d: i64,
    pub chat_messages_7d: i64,
}

/// The smallest UUIDv7 of an instant: rows created since then have ids at least this (their
/// ids are UUIDv7s, time-ordered), so a week is a range of each primary key.
fn first_id_at(millis: i64) -> Uuid {
    Uuid::from_u128((millis.max(0) as u128) << 80)
}

async fn compute(state: &AppState) -> ApiResult<Stats> {
    let week_ago = first_id_at((Utc::now() - chrono::Duration::days(7)).timestamp_millis());
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM users) AS total,
                (SELECT count(*) FROM users WHERE last_active_at > now() - interval '7 days') AS active_7d,
                (SELECT count(*) FROM users WHERE created_at > now() - interval '7 days') AS new_7d,
                (SELECT count(*) FROM users
                 WHERE status = 'suspended' AND (suspended_until IS NULL OR suspended_until > now())) AS suspended,
                (SELECT count(*) FROM emotion_logs WHERE id >= $1) AS emotions_7d,
                (SELECT count(*) FROM posts WHERE id >= $1) AS posts_7d,
                (SELECT count(*) FROM comments WHERE id >= $1) AS comments_7d,
                (SELECT count(*) FROM chat_messages WHERE id >= $1) AS chat_messages_7d",
    )
    .bind(week_ago)
    .fetch_one(&state.db)
    .await?)
}

/// How many people, logs, posts, comments and chat messages; at most a minute old.
#[utoipa::path(get, path = "/stats", tag = "admin", security(("bearer" = [])),
    responses((status = 200, description = "The statistics", body = Envelope<Stats>), (status = 403, description = "FORBIDDEN: not an admin")))]
#[tracing::instrument(skip_all, fields(admin_id = %admin.id))]
pub async fn stats(State(state): State<AppState>, admin: Admin) -> ApiResult<Reply<Stats>> {
    if let Some(stats) = state
        .cache
        .get(KEY)
        .await
        .and_then(|cached| serde_json::from_str(&cached).ok())
    {
        return Ok(Reply::ok(stats));
    }
    let stats = compute(&state).await?;
    if let Ok(json) = serde_json::to_string(&stats) {
        state.cache.set(KEY, &json, FRESH_FOR).await;
    }
    Ok(Reply::ok(stats))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_id_of_an_instant_sorts_before_every_later_uuid7() {
        let now = Utc::now().timestamp_millis();
        let bound = first_id_at(now);
        let later = Uuid::now_v7();
        assert!(later >= bound);
        assert!(first_id_at(now + 10_000) > later);
        // PostgreSQL compares UUIDs byte by byte, as these bytes do.
        assert!(later.as_bytes() >= bound.as_bytes());
    }
}
