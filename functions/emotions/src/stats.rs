//! `GET /emotions/stats`: totals, per emotion, every local day of the range, top tags and
//! streaks, in the user's time zone — aggregated in PostgreSQL, cached in Redis until the
//! user writes a log.

use std::collections::BTreeSet;

use axum::extract::State;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shared::envelope::Envelope;
use shared::http::{AuthUser, Query};
use shared::{ApiError, ApiResult, AppState, Fields, Reply};
use sqlx::FromRow;
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

use crate::model::Emotion;
use crate::range::{self, Bound};
use shared::domain::journal;

const MAX_SPAN_DAYS: i64 = 366;
const DEFAULT_SPAN_DAYS: i64 = 30;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatsParams {
    /// A local date or an RFC 3339 instant; default: 30 days before `to`.
    from: Option<String>,
    /// A local date or an RFC 3339 instant; default: today.
    to: Option<String>,
    /// An IANA time zone; default: the user's.
    tz: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct EmotionStat {
    pub emotion: Emotion,
    pub count: i64,
    pub average_intensity: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DayStat {
    pub date: NaiveDate,
    pub count: i64,
    pub average_intensity: Option<f64>,
    pub dominant_emotion: Option<Emotion>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TagCount {
    pub tag: String,
    pub count: i64,
}

/// `stats` of the API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Stats {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub timezone: String,
    pub total: i64,
    pub average_intensity: Option<f64>,
    /// Every emotion, in the enum's order.
    pub by_emotion: Vec<EmotionStat>,
    /// Every local day of the range.
    pub daily: Vec<DayStat>,
    /// The ten most used tags.
    pub top_tags: Vec<TagCount>,
    pub current_streak_days: i64,
    pub longest_streak_days: i64,
}

/// The range, resolved in the user's time zone.
#[derive(Debug, FromRow)]
struct Span {
    tz: String,
    user_tz: String,
    today: NaiveDate,
    from_date: NaiveDate,
    to_date: NaiveDate,
    from_start: DateTime<Utc>,
    to_end: DateTime<Utc>,
}

#[derive(Debug, FromRow)]
struct Aggregates {
    total: i64,
    average: Option<f64>,
    by_emotion: sqlx::types::Json<Vec<EmotionStat>>,
    daily: sqlx::types::Json<Vec<DayStat>>,
    top_tags: sqlx::types::Json<Vec<TagCount>>,
    days: Vec<NaiveDate>,
}

/// Statistics of your logs in your time zone.
#[utoipa::path(get, path = "/stats", tag = "emotions", security(("bearer" = [])), params(StatsParams),
    responses((status = 200, description = "Statistics", body = Envelope<Stats>), (status = 422, description = "VALIDATION_ERROR")))]
pub async fn stats(
    State(state): State<AppState>,
    user: AuthUser,
    Query(params): Query<StatsParams>,
) -> ApiResult<Reply<Stats>> {
    let mut f = Fields::default();
    let from = params
        .from
        .as_deref()
        .and_then(|v| f.check("from", Bound::parse(v)));
    let to = params
        .to
        .as_deref()
        .and_then(|v| f.check("to", Bound::parse(v)));
    if let Some(tz) = params.tz.as_deref()
        && !shared::domain::users::is_time_zone(&state.db, tz).await?
    {
        f.add("tz", "must be an IANA time zone such as Asia/Seoul");
    }
    f.finish()?;

    let span = resolve(&state, user.id, params.tz.as_deref(), from, to).await?;
    let days = (span.to_date - span.from_date).num_days() + 1;
    if span.is_reversed() {
        return Err(ApiError::field("from", "must not be after to"));
    }
    if days > MAX_SPAN_DAYS {
        return Err(ApiError::field(
            "from",
            "the range may span at most 366 days",
        ));
    }

    let key = format!(
        "stats:{}:{}:{}:{}:{}:{}:{}:{}",
        user.id,
        version(&state, user.id).await?,
        span.tz,
        span.today,
        span.from_date,
        span.to_date,
        span.from_start.timestamp_micros(),
        span.to_end.timestamp_micros()
    );
    if let Some(cached) = state.cache.get(&key).await?
        && let Ok(stats) = serde_json::from_str::<Stats>(&cached)
    {
        return Ok(Reply::ok(stats));
    }
    // The rollup holds whole local days of the user's own time zone.
    let whole_days =
        !matches!(from, Some(Bound::Instant(_))) && !matches!(to, Some(Bound::Instant(_)));
    let source = if whole_days && span.tz == span.user_tz {
        Source::Rollup
    } else {
        Source::Logs
    };
    let stats = compute(&state, user.id, &span, source).await?;
    let json = serde_json::to_string(&stats).map_err(ApiError::internal)?;
    state
        .cache
        .set(&key, &json, state.settings.cache_ttl)
        .await?;
    Ok(Reply::ok(stats))
}

impl Span {
    fn is_reversed(&self) -> bool {
        self.from_date > self.to_date || self.from_start >= self.to_end
    }
}

async fn resolve(
    state: &AppState,
    user_id: Uuid,
    tz: Option<&str>,
    from: Option<Bound>,
    to: Option<Bound>,
) -> ApiResult<Span> {
    let (from_date, from_instant) = range::binds(from);
    let (to_date, to_instant) = range::binds(to);
    sqlx::query_as(
        "SELECT tz, user_tz, today, from_date, to_date,
                COALESCE($4, from_date::timestamp AT TIME ZONE tz) AS from_start,
                COALESCE($6, (to_date + 1)::timestamp AT TIME ZONE tz) AS to_end
         FROM (SELECT COALESCE($2, timezone) AS tz, timezone AS user_tz FROM users WHERE id = $1) u
         CROSS JOIN LATERAL (SELECT (now() AT TIME ZONE u.tz)::date AS today) t
         CROSS JOIN LATERAL (
             SELECT COALESCE($5::date, (($6::timestamptz - interval '1 microsecond') AT TIME ZONE u.tz)::date, t.today) AS to_date
         ) b
         CROSS JOIN LATERAL (
             SELECT COALESCE($3::date, ($4::timestamptz AT TIME ZONE u.tz)::date, b.to_date - $7::int) AS from_date
         ) a",
    )
    .bind(user_id)
    .bind(tz)
    .bind(from_date)
    .bind(from_instant)
    .bind(to_date)
    .bind(to_instant)
    .bind((DEFAULT_SPAN_DAYS - 1) as i32)
    .fetch_optional(&state.db)
    .await?
    .ok_or_else(ApiError::unauthorized)
}

/// The emotions' tie-breaking order, for SQL.
fn order() -> Vec<&'static str> {
    Emotion::ALL.iter().map(|e| e.as_str()).collect()
}

/// Where the numbers come from: the daily rollup (the user's own time zone, whole local
/// days: the common case, a few hundred rows a year) or the logs themselves (another time
/// zone, or instants that cut days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Rollup,
    Logs,
}

/// Defines `per_day_emotion(day, emotion, n, s)` and `tag_counts(tag, n)` from the logs.
macro_rules! from_logs {
    () => {
        "WITH logs AS MATERIALIZED (
             SELECT emotion, intensity, tags, (recorded_at AT TIME ZONE $2)::date AS day
             FROM emotion_logs
             WHERE user_id = $1 AND recorded_at >= $3 AND recorded_at < $4
         ),
         per_day_emotion AS (
             SELECT day, emotion, count(*) AS n, sum(intensity) AS s FROM logs GROUP BY day, emotion
         ),
         -- People reuse the same few tag sets: unnest each distinct set once, weighted.
         tag_sets AS (
             SELECT tags, count(*) AS n FROM logs WHERE cardinality(tags) > 0 GROUP BY tags
         ),
         tag_counts AS (
             SELECT tag, sum(n) AS n FROM tag_sets, unnest(tags) AS tag
             GROUP BY tag ORDER BY n DESC, tag LIMIT 10
         ),"
    };
}

/// The same two from the daily rollup.
macro_rules! from_rollup {
    () => {
        "WITH per_day_emotion AS (
             SELECT day, emotion, n, intensity_sum AS s FROM emotion_daily
             WHERE user_id = $1 AND day BETWEEN $5 AND $6 AND n > 0
         ),
         tag_counts AS (
             SELECT tag, sum(n) AS n FROM emotion_daily_tags
             WHERE user_id = $1 AND day BETWEEN $5 AND $6 AND n > 0
             GROUP BY tag ORDER BY n DESC, tag LIMIT 10
         ),"
    };
}

/// Everything else, from `per_day_emotion` and `tag_counts`.
macro_rules! aggregates {
    () => {
        "per_day AS (
             SELECT day, sum(n) AS n, sum(s)::numeric / sum(n) AS mean,
                    (array_agg(emotion ORDER BY n DESC, s::numeric / n DESC, array_position($7::text[], emotion)))[1] AS dominant
             FROM per_day_emotion GROUP BY day
         ),
         per_emotion AS (
             SELECT emotion, sum(n) AS n, sum(s)::numeric / sum(n) AS mean FROM per_day_emotion GROUP BY emotion
         )
         SELECT
             (SELECT COALESCE(sum(n), 0)::bigint FROM per_day_emotion) AS total,
             (SELECT round(sum(s)::numeric / NULLIF(sum(n), 0), 2)::float8 FROM per_day_emotion) AS average,
             (SELECT json_agg(json_build_object(
                        'emotion', e.emotion, 'count', COALESCE(p.n, 0),
                        'average_intensity', round(p.mean, 2)) ORDER BY e.position)
              FROM unnest($7::text[]) WITH ORDINALITY AS e(emotion, position)
              LEFT JOIN per_emotion p ON p.emotion = e.emotion) AS by_emotion,
             (SELECT json_agg(json_build_object(
                        'date', d.day, 'count', COALESCE(p.n, 0),
                        'average_intensity', round(p.mean, 2), 'dominant_emotion', p.dominant) ORDER BY d.day)
              FROM generate_series($5::date, $6::date, interval '1 day') AS g(ts)
              CROSS JOIN LATERAL (SELECT g.ts::date AS day) d
              LEFT JOIN per_day p ON p.day = d.day) AS daily,
             (SELECT COALESCE(json_agg(json_build_object('tag', tag, 'count', n) ORDER BY n DESC, tag), '[]')
              FROM tag_counts) AS top_tags,
             (SELECT COALESCE(array_agg(day ORDER BY day), '{}') FROM per_day) AS days"
    };
}

async fn compute(state: &AppState, user_id: Uuid, span: &Span, source: Source) -> ApiResult<Stats> {
    let sql = match source {
        Source::Rollup => concat!(from_rollup!(), aggregates!()),
        Source::Logs => concat!(from_logs!(), aggregates!()),
    };
    let a: Aggregates = sqlx::query_as(sql)
        .bind(user_id)
        .bind(&span.tz)
        .bind(span.from_start)
        .bind(span.to_end)
        .bind(span.from_date)
        .bind(span.to_date)
        .bind(order())
        .fetch_one(&state.db)
        .await?;

    let days: BTreeSet<NaiveDate> = a.days.iter().copied().collect();
    let longest = longest_run(&days);
    let current = current_streak(state, user_id, span, &days, source).await?;
    Ok(Stats {
        from: span.from_date,
        to: span.to_date,
        timezone: span.tz.clone(),
        total: a.total,
        average_intensity: a.average,
        by_emotion: a.by_emotion.0,
        daily: a.daily.0,
        top_tags: a.top_tags.0,
        current_streak_days: current,
        longest_streak_days: longest,
    })
}

fn longest_run(days: &BTreeSet<NaiveDate>) -> i64 {
    let (mut best, mut run, mut previous) = (0, 0, None::<NaiveDate>);
    for &day in days {
        run = match previous {
            Some(p) if day - p == chrono::Duration::days(1) => run + 1,
            _ => 1,
        };
        best = best.max(run);
        previous = Some(day);
    }
    best
}

/// Consecutive days present in `days` ending at `anchor`.
fn run_back(days: &BTreeSet<NaiveDate>, anchor: NaiveDate) -> i64 {
    let mut n = 0;
    let mut day = anchor;
    while days.contains(&day) {
        n += 1;
        day -= chrono::Duration::days(1);
    }
    n
}

/// The run of days ending today, or yesterday when today has no log yet. Read from the
/// range's days when it covers them; from the database otherwise, or when the run reaches
/// back past the range.
async fn current_streak(
    state: &AppState,
    user_id: Uuid,
    span: &Span,
    days: &BTreeSet<NaiveDate>,
    source: Source,
) -> ApiResult<i64> {
    let yesterday = span.today - chrono::Duration::days(1);
    let run_ending = |anchor| run_in_database(state, user_id, &span.tz, anchor, source);
    if span.from_date <= yesterday && span.to_date >= span.today && span.to_end > Utc::now() {
        let anchor = if days.contains(&span.today) {
            span.today
        } else {
            yesterday
        };
        let run = run_back(days, anchor);
        if run > 0 && anchor - chrono::Duration::days(run - 1) == span.from_date {
            let before = run_ending(span.from_date - chrono::Duration::days(1)).await?;
            return Ok(run + before);
        }
        return Ok(run);
    }
    let today = run_ending(span.today).await?;
    if today > 0 {
        return Ok(today);
    }
    run_ending(yesterday).await
}

/// Consecutive local days with a log, ending exactly at `anchor`.
async fn run_in_database(
    state: &AppState,
    user_id: Uuid,
    tz: &str,
    anchor: NaiveDate,
    source: Source,
) -> ApiResult<i64> {
    let query = match source {
        Source::Rollup => sqlx::query_scalar(
            "WITH d AS (
                 SELECT day FROM emotion_daily WHERE user_id = $1 AND day <= $2 AND n > 0 GROUP BY day
             ),
             g AS (SELECT day, row_number() OVER (ORDER BY day DESC) AS rn FROM d)
             SELECT count(*) FROM g WHERE day = $2::date - (rn - 1)::int",
        )
        .bind(user_id)
        .bind(anchor),
        Source::Logs => sqlx::query_scalar(
            "WITH d AS (
                 SELECT DISTINCT (recorded_at AT TIME ZONE $2)::date AS day FROM emotion_logs
                 WHERE user_id = $1 AND recorded_at < ($3::date + 1)::timestamp AT TIME ZONE $2
             ),
             g AS (SELECT day, row_number() OVER (ORDER BY day DESC) AS rn FROM d)
             SELECT count(*) FROM g WHERE day = $3::date - (rn - 1)::int",
        )
        .bind(user_id)
        .bind(tz)
        .bind(anchor),
    };
    Ok(query.fetch_one(&state.db).await?)
}

async fn version(state: &AppState, user_id: Uuid) -> ApiResult<String> {
    Ok(state
        .cache
        .get(&journal::stats_version_key(user_id))
        .await?
        .unwrap_or_else(|| "0".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2025, 3, day).unwrap()
    }

    #[test]
    fn runs() {
        let days: BTreeSet<_> = [1, 2, 3, 5, 6, 9].map(d).into_iter().collect();
        assert_eq!(longest_run(&days), 3);
        assert_eq!(run_back(&days, d(6)), 2);
        assert_eq!(run_back(&days, d(4)), 0);
        assert_eq!(longest_run(&BTreeSet::new()), 0);
    }
}
