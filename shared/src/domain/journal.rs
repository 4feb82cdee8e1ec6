//! The mood journal: its logs' writes (`emotion_logs`) and its daily rollup (`emotion_days`,
//! `emotion_daily_tags`) in the user's time zone. Each write of a log and its part of the
//! rollup is one statement ([`record`], [`revise`], [`erase`]): one round trip, atomic by
//! itself, the rollup exact. The users function rebuilds the rollup when the time zone
//! changes, in its transaction.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::postgres::PgRow;
use sqlx::{FromRow, PgConnection, PgExecutor};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::error::ApiError;

/// The ten emotions, in the API's order, which also breaks ties. The rollup's arrays are
/// indexed by it (`emotion_days.counts[e as usize + 1]` counts `e`): append only.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema, sqlx::Type)]
#[serde(rename_all = "lowercase")]
#[sqlx(type_name = "text", rename_all = "lowercase")]
pub enum Emotion {
    /// 기쁨
    Happy,
    /// 평온
    Calm,
    /// 감사
    Grateful,
    /// 설렘
    Excited,
    /// 슬픔
    Sad,
    /// 불안
    Anxious,
    /// 화남
    Angry,
    /// 스트레스
    Stressed,
    /// 피곤
    Tired,
    /// 외로움
    Lonely,
}

impl Emotion {
    pub const ALL: [Emotion; 10] = [
        Self::Happy,
        Self::Calm,
        Self::Grateful,
        Self::Excited,
        Self::Sad,
        Self::Anxious,
        Self::Angry,
        Self::Stressed,
        Self::Tired,
        Self::Lonely,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Happy => "happy",
            Self::Calm => "calm",
            Self::Grateful => "grateful",
            Self::Excited => "excited",
            Self::Sad => "sad",
            Self::Anxious => "anxious",
            Self::Angry => "angry",
            Self::Stressed => "stressed",
            Self::Tired => "tired",
            Self::Lonely => "lonely",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        Self::ALL
            .into_iter()
            .find(|e| e.as_str() == raw)
            .ok_or("must be one of happy, calm, grateful, excited, sad, anxious, angry, stressed, tired, lonely")
    }
}

/// A new log, its note sealed already.
#[derive(Debug)]
pub struct NewLog<'a> {
    pub id: Uuid,
    pub user_id: Uuid,
    pub emotion: Emotion,
    pub intensity: i16,
    pub note: Option<&'a [u8]>,
    pub tags: &'a [String],
    pub recorded_at: DateTime<Utc>,
}

/// The columns [`record`] returns (`RETURNING`), in this order.
pub const LOG_COLUMNS: &str =
    "id, emotion, intensity, note, tags, recorded_at, created_at, updated_at";

/// Writes a log and adds it to the rollup in one statement: one round trip, atomic without
/// a transaction (the write rate is the database's). The user's time zone is read `FOR KEY
/// SHARE` — the lock the foreign key takes anyway, so it costs nothing more — which
/// [`rebuild`]'s `FOR UPDATE` waits for (and which waits for it, then reads the new zone).
/// `None` when the user no longer exists.
pub async fn record<R>(db: impl PgExecutor<'_>, log: &NewLog<'_>) -> Result<Option<R>, ApiError>
where
    R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    let slot = log.emotion as usize;
    let intensity = i32::from(log.intensity);
    let (mut counts, mut sums) = ([0; Emotion::ALL.len()], [0; Emotion::ALL.len()]);
    counts[slot] = 1;
    sums[slot] = intensity;
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "WITH me AS (SELECT timezone FROM users WHERE id = $2 FOR KEY SHARE),
         log AS (
             INSERT INTO emotion_logs (id, user_id, emotion, intensity, note, tags, recorded_at)
             SELECT $1, $2, $3, $4, $5, $6, $7 FROM me
             RETURNING {LOG_COLUMNS}
         ),
         day AS (SELECT ($7::timestamptz AT TIME ZONE timezone)::date AS day FROM me),
         days AS (
             INSERT INTO emotion_days (user_id, day, n, counts, intensity_sums)
             SELECT $2, day, 1, $9, $10 FROM day
             ON CONFLICT (user_id, day) DO UPDATE
             SET n = emotion_days.n + 1,
                 counts[$8] = emotion_days.counts[$8] + 1,
                 intensity_sums[$8] = emotion_days.intensity_sums[$8] + $11
         ),
         tags AS (
             INSERT INTO emotion_daily_tags (user_id, day, tag, n)
             SELECT $2, day, tag, 1 FROM day, unnest($6::text[]) AS tag
             ON CONFLICT (user_id, day, tag) DO UPDATE SET n = emotion_daily_tags.n + 1
         )
         SELECT * FROM log"
        )
    });
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(SQL.as_str()))
        .bind(log.id)
        .bind(log.user_id)
        .bind(log.emotion)
        .bind(log.intensity)
        .bind(log.note)
        .bind(log.tags)
        .bind(log.recorded_at)
        .bind(slot as i32 + 1)
        .bind(&counts[..])
        .bind(&sums[..])
        .bind(intensity)
        .fetch_optional(db)
        .await?)
}

/// A change to a log: `None` keeps a field as it is (`note: Some(None)` clears the note,
/// sealed already otherwise).
#[derive(Debug, Default)]
pub struct LogChange<'a> {
    pub emotion: Option<Emotion>,
    pub intensity: Option<i16>,
    pub note: Option<Option<&'a [u8]>>,
    pub tags: Option<&'a [String]>,
    pub recorded_at: Option<DateTime<Utc>>,
}

/// The rollup's side of a change, for the statements of [`revise`] and [`erase`]: from a CTE
/// `changes (day, sign, emotion, intensity, tags)` of `$2`'s logs, the per-day sums of every
/// change added to `emotion_days` and `emotion_daily_tags` at once (one statement may not
/// update a row twice, so an edit within a day is summed first). Spelled out per emotion:
/// ten filtered sums and element-wise additions cost less than unnesting arrays.
fn rollup_of_changes() -> String {
    let per_emotion = |expr: &str| {
        Emotion::ALL
            .iter()
            .map(|e| {
                format!(
                    "COALESCE(sum({expr}) FILTER (WHERE emotion = '{}'), 0)",
                    e.as_str()
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let added = |column: &str| {
        (1..=Emotion::ALL.len())
            .map(|i| format!("d.{column}[{i}] + EXCLUDED.{column}[{i}]"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "per_day AS (
             SELECT day, sum(sign)::int AS n, ARRAY[{counts}]::int[] AS counts,
                    ARRAY[{sums}]::int[] AS sums
             FROM changes GROUP BY day
         ),
         days AS (
             INSERT INTO emotion_days AS d (user_id, day, n, counts, intensity_sums)
             SELECT $2, day, n, counts, sums FROM per_day
             ON CONFLICT (user_id, day) DO UPDATE SET
                 n = d.n + EXCLUDED.n,
                 counts = ARRAY[{counts_added}],
                 intensity_sums = ARRAY[{sums_added}]
         ),
         tag_changes AS (
             SELECT day, tag, sum(sign)::int AS n FROM changes, unnest(tags) AS tag
             GROUP BY day, tag HAVING sum(sign) <> 0
         ),
         tags AS (
             INSERT INTO emotion_daily_tags AS t (user_id, day, tag, n)
             SELECT $2, day, tag, n FROM tag_changes
             ON CONFLICT (user_id, day, tag) DO UPDATE SET n = t.n + EXCLUDED.n
         )",
        counts = per_emotion("sign"),
        sums = per_emotion("sign * intensity"),
        counts_added = added("counts"),
        sums_added = added("intensity_sums"),
    )
}

/// Changes log `id` of `user_id` and its rollup in one statement (the old row locked, its
/// contribution taken out and the new one put in). `None` when there is no such log.
pub async fn revise<R>(
    db: impl PgExecutor<'_>,
    user_id: Uuid,
    id: Uuid,
    change: &LogChange<'_>,
) -> Result<Option<R>, ApiError>
where
    R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
{
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "WITH me AS (SELECT timezone FROM users WHERE id = $2 FOR KEY SHARE),
             old AS (
                 SELECT id, emotion, intensity, tags, recorded_at FROM emotion_logs
                 WHERE id = $1 AND user_id = $2 FOR UPDATE
             ),
             new AS (
                 UPDATE emotion_logs l SET
                     emotion = COALESCE($3, l.emotion),
                     intensity = COALESCE($4, l.intensity),
                     note = CASE WHEN $5 THEN $6 ELSE l.note END,
                     tags = COALESCE($7, l.tags),
                     recorded_at = COALESCE($8, l.recorded_at),
                     updated_at = now()
                 FROM old WHERE l.id = old.id
                 RETURNING l.id, l.emotion, l.intensity, l.note, l.tags, l.recorded_at,
                           l.created_at, l.updated_at
             ),
             changes AS (
                 SELECT (recorded_at AT TIME ZONE timezone)::date AS day, -1 AS sign,
                        emotion, intensity, tags FROM old, me
                 UNION ALL
                 SELECT (recorded_at AT TIME ZONE timezone)::date, 1, emotion, intensity, tags
                 FROM new, me
             ), {rollup}
             SELECT {LOG_COLUMNS} FROM new",
            rollup = rollup_of_changes()
        )
    });
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(SQL.as_str()))
        .bind(id)
        .bind(user_id)
        .bind(change.emotion)
        .bind(change.intensity)
        .bind(change.note.is_some())
        .bind(change.note.flatten())
        .bind(change.tags)
        .bind(change.recorded_at)
        .fetch_optional(db)
        .await?)
}

/// Deletes log `id` of `user_id` and takes it out of the rollup in one statement; whether
/// there was such a log.
pub async fn erase(db: impl PgExecutor<'_>, user_id: Uuid, id: Uuid) -> Result<bool, ApiError> {
    static SQL: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "WITH me AS (SELECT timezone FROM users WHERE id = $2 FOR KEY SHARE),
             old AS (
                 DELETE FROM emotion_logs WHERE id = $1 AND user_id = $2
                 RETURNING emotion, intensity, tags, recorded_at
             ),
             changes AS (
                 SELECT (recorded_at AT TIME ZONE timezone)::date AS day, -1 AS sign,
                        emotion, intensity, tags FROM old, me
             ), {rollup}
             SELECT count(*) FROM old",
            rollup = rollup_of_changes()
        )
    });
    let erased: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(SQL.as_str()))
        .bind(id)
        .bind(user_id)
        .fetch_one(db)
        .await?;
    Ok(erased > 0)
}

/// Locks the user `FOR UPDATE` until the transaction ends: call it before changing their time
/// zone. A log's write holds `FOR KEY SHARE`, which an UPDATE of the zone alone would not wait
/// for: writes in flight finish first, later ones wait for the commit and read the new zone.
pub async fn hold(db: &mut PgConnection, user_id: Uuid) -> Result<(), ApiError> {
    sqlx::query("SELECT 1 FROM users WHERE id = $1 FOR UPDATE")
        .bind(user_id)
        .execute(db)
        .await?;
    Ok(())
}

/// Recomputes a user's rollup from their logs (after a time-zone change), under [`hold`].
pub async fn rebuild(db: &mut PgConnection, user_id: Uuid) -> Result<(), ApiError> {
    hold(db, user_id).await?;
    sqlx::query("DELETE FROM emotion_days WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *db)
        .await?;
    sqlx::query("DELETE FROM emotion_daily_tags WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut *db)
        .await?;
    sqlx::query(
        "WITH per AS (
             SELECT (l.recorded_at AT TIME ZONE u.timezone)::date AS day,
                    array_position($2::text[], l.emotion) AS slot, count(*)::int AS n, sum(l.intensity)::int AS s
             FROM emotion_logs l JOIN users u ON u.id = l.user_id
             WHERE l.user_id = $1
             GROUP BY 1, 2
         )
         INSERT INTO emotion_days (user_id, day, n, counts, intensity_sums)
         SELECT $1, d.day, sum(COALESCE(p.n, 0)),
                array_agg(COALESCE(p.n, 0) ORDER BY k.slot), array_agg(COALESCE(p.s, 0) ORDER BY k.slot)
         FROM (SELECT DISTINCT day FROM per) d
         CROSS JOIN generate_series(1, cardinality($2::text[])) AS k(slot)
         LEFT JOIN per p ON p.day = d.day AND p.slot = k.slot
         GROUP BY d.day",
    )
    .bind(user_id)
    .bind(Emotion::ALL.map(Emotion::as_str).as_slice())
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
pub async fn invalidate_stats(cache: &crate::cache::Cache, user_id: Uuid) {
    let fresh = Uuid::now_v7().to_string();
    let week = std::time::Duration::from_secs(7 * 86_400);
    cache.set(&stats_version_key(user_id), &fresh, week).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emotions_keep_the_rollup_order_and_their_names() {
        for (i, e) in Emotion::ALL.into_iter().enumerate() {
            assert_eq!(e as usize, i);
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
            assert_eq!(Emotion::parse(e.as_str()), Ok(e));
        }
        assert!(Emotion::parse("Calm").is_err());
    }
}
