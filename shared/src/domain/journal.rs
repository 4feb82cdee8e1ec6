//! The mood journal's daily rollup (`emotion_daily`, `emotion_daily_tags`), in the user's time
//! zone. The emotions function applies every log write to it; the users function rebuilds it
//! when the time zone changes. Both run inside the caller's transaction.

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::error::ApiError;

/// What a log contributes to the rollup.
#[derive(Debug, Clone)]
pub struct Contribution<'a> {
    pub emotion: &'a str,
    pub intensity: i16,
    pub tags: &'a [String],
    pub recorded_at: DateTime<Utc>,
}

/// Adds (`sign` = 1) or removes (`sign` = -1) one log. Reads the user's time zone `FOR SHARE`,
/// so a concurrent time-zone change (and its rebuild) waits for this write, or this write for
/// it.
pub async fn apply(
    db: &mut PgConnection,
    user_id: Uuid,
    log: &Contribution<'_>,
    sign: i32,
) -> Result<(), ApiError> {
    sqlx::query(
        "WITH day AS (
             SELECT ($2::timestamptz AT TIME ZONE timezone)::date AS day
             FROM users WHERE id = $1 FOR SHARE
         ),
         emotions AS (
             INSERT INTO emotion_daily (user_id, day, emotion, n, intensity_sum)
             SELECT $1, day, $3, $5, $4 * $5 FROM day
             ON CONFLICT (user_id, day, emotion) DO UPDATE
             SET n = emotion_daily.n + EXCLUDED.n,
                 intensity_sum = emotion_daily.intensity_sum + EXCLUDED.intensity_sum
         )
         INSERT INTO emotion_daily_tags (user_id, day, tag, n)
         SELECT $1, day, tag, $5 FROM day, unnest($6::text[]) AS tag
         ON CONFLICT (user_id, day, tag) DO UPDATE SET n = emotion_daily_tags.n + EXCLUDED.n",
    )
    .bind(user_id)
    .bind(log.recorded_at)
    .bind(log.emotion)
    .bind(i32::from(log.intensity))
    .bind(sign)
    .bind(log.tags)
    .execute(db)
    .await?;
    Ok(())
}

/// Recomputes a user's rollup from their logs (after a time-zone change).
pub async fn rebuild(db: &mut PgConnection, user_id: Uuid) -> Result<(), ApiError> {
    sqlx::query("DELETE FROM emotion_daily WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *db)
        .await?;
    sqlx::query("DELETE FROM emotion_daily_tags WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *db)
        .await?;
    sqlx::query(
        "INSERT INTO emotion_daily (user_id, day, emotion, n, intensity_sum)
         SELECT l.user_id, (l.recorded_at AT TIME ZONE u.timezone)::date, l.emotion, count(*), sum(l.intensity)
         FROM emotion_logs l JOIN users u ON u.id = l.user_id
         WHERE l.user_id = $1
         GROUP BY 1, 2, 3",
    )
    .bind(user_id)
    .execute(&mut *db)
    .await?;
    sqlx::query(
        "INSERT INTO emotion_daily_tags (user_id, day, tag, n)
         SELECT l.user_id, (l.recorded_at AT TIME ZONE u.timezone)::date, t.tag, count(*)
         FROM emotion_logs l JOIN users u ON u.id = l.user_id, unnest(l.tags) AS t(tag)
         WHERE l.user_id = $1
         GROUP BY 1, 2, 3",
    )
    .bind(user_id)
    .execute(&mut *db)
    .await?;
    Ok(())
}

/// The cache key holding the version of a user's cached statistics.
pub fn stats_version_key(user_id: Uuid) -> String {
    format!("stats-ver:{user_id}")
}

/// Any write of a user's logs (or of their time zone) makes their cached statistics stale.
pub async fn invalidate_stats(cache: &crate::cache::Cache, user_id: Uuid) -> Result<(), ApiError> {
    let fresh = Uuid::now_v7().to_string();
    cache
        .set(
            &stats_version_key(user_id),
            &fresh,
            std::time::Duration::from_secs(7 * 86_400),
        )
        .await?;
    Ok(())
}
