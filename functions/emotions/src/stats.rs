//! `GET /emotions/stats`: totals, per emotion, every local day of the range, top tags and
//! streaks, in the user's time zone — aggregated in PostgreSQL, cached in Redis until the
//! user writes a log.

use std::collections::{BTreeMap, BTreeSet};

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
    #[param(schema_with = shared::openapi::date_or_instant)]
    from: Option<String>,
    /// A local date or an RFC 3339 instant; default: today.
    #[param(schema_with = shared::openapi::date_or_instant)]
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

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, FromRow)]
pub struct TagCount {
    pub tag: String,
    pub count: i64,
}

/// `stats` of the API.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[schema(as = EmotionStats)]
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
    /// `from_date`, or the day after when `from` is an instant (which may cut the day).
    first_whole_day: NaiveDate,
    to_date: NaiveDate,
    from_start: DateTime<Utc>,
    to_end: DateTime<Utc>,
}

/// Statistics of your logs in your time zone.
#[utoipa::path(get, path = "/stats", tag = "emotions", security(("bearer" = [])), params(StatsParams),
    responses((status = 200, description = "Statistics", body = Envelope<Stats>), (status = 422, description = "VALIDATION_ERROR")))]
#[tracing::instrument(skip_all, fields(user_id = %user.id))]
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
        && !shared::domain::accounts::is_time_zone(&state.db, tz).await?
    {
        f.add("tz", "must be an IANA time zone such as Asia/Seoul");
    }
    f.finish(())?;

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
        version(&state, user.id).await,
        span.tz,
        span.today,
        span.from_date,
        span.to_date,
        span.from_start.timestamp_micros(),
        span.to_end.timestamp_micros()
    );
    if let Some(cached) = state.cache.get(&key).await
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
    state.cache.set(&key, &json, state.settings.cache_ttl).await;
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
        "SELECT tz, user_tz, today, from_date,
                CASE WHEN $4::timestamptz IS NULL THEN from_date ELSE from_date + 1 END
                    AS first_whole_day,
                to_date,
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

/// Where the numbers come from: the daily rollup (the user's own time zone, whole local
/// days: the common case, at most 366 rows) or the logs themselves (another time zone, or
/// instants that cut days).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Rollup,
    Logs,
}

const EMOTIONS: usize = Emotion::ALL.len();

/// One local day of the journal: logs and intensity sums per emotion, in `Emotion::ALL`'s
/// order.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Day {
    counts: [i64; EMOTIONS],
    sums: [i64; EMOTIONS],
}

impl Day {
    fn count(&self) -> i64 {
        self.counts.iter().sum()
    }

    /// The most logged emotion; ties go to the higher mean intensity, then to the enum order.
    fn dominant(&self) -> Option<Emotion> {
        (0..EMOTIONS)
            .filter(|&i| self.counts[i] > 0)
            .min_by(|&a, &b| {
                let (na, nb) = (self.counts[a], self.counts[b]);
                nb.cmp(&na)
                    .then((self.sums[b] * na).cmp(&(self.sums[a] * nb)))
                    .then(a.cmp(&b))
            })
            .map(|i| Emotion::ALL[i])
    }
}

/// A mean rounded half up to two decimals, computed on integers so that it is exact.
fn mean(sum: i64, n: i64) -> Option<f64> {
    (n > 0).then(|| ((sum * 200 + n) / (2 * n)) as f64 / 100.0)
}

/// The days of the range that have logs (aggregated by PostgreSQL: at most 366 rows),
/// and the ten most used tags.
async fn read(
    state: &AppState,
    user_id: Uuid,
    span: &Span,
    source: Source,
) -> ApiResult<(BTreeMap<NaiveDate, Day>, Vec<TagCount>)> {
    let db = &state.db;
    let (days, top_tags) = match source {
        Source::Rollup => {
            let days = sqlx::query_as::<_, (NaiveDate, Vec<i32>, Vec<i32>)>(
                "SELECT day, counts, intensity_sums FROM emotion_days
                 WHERE user_id = $1 AND day BETWEEN $2 AND $3 AND n > 0",
            )
            .bind(user_id)
            .bind(span.from_date)
            .bind(span.to_date)
            .fetch_all(db);
            let tags = sqlx::query_as(
                "SELECT tag, sum(n)::bigint AS count FROM emotion_daily_tags
                 WHERE user_id = $1 AND day BETWEEN $2 AND $3 AND n > 0
                 GROUP BY tag ORDER BY count DESC, tag LIMIT 10",
            )
            .bind(user_id)
            .bind(span.from_date)
            .bind(span.to_date)
            .fetch_all(db);
            let (rows, tags) = tokio::try_join!(days, tags)?;
            let days = rows
                .into_iter()
                .map(|(date, counts, sums)| {
                    let mut day = Day::default();
                    for i in 0..EMOTIONS {
                        day.counts[i] = counts.get(i).copied().unwrap_or(0).into();
                        day.sums[i] = sums.get(i).copied().unwrap_or(0).into();
                    }
                    (date, day)
                })
                .collect();
            (days, tags)
        }
        Source::Logs => {
            let days = sqlx::query_as::<_, (NaiveDate, Emotion, i64, i64)>(
                "SELECT (recorded_at AT TIME ZONE $2)::date AS day, emotion, count(*), sum(intensity)
                 FROM emotion_logs
                 WHERE user_id = $1 AND recorded_at >= $3 AND recorded_at < $4
                 GROUP BY 1, 2",
            )
            .bind(user_id)
            .bind(&span.tz)
            .bind(span.from_start)
            .bind(span.to_end)
            .fetch_all(db);
            // People reuse the same few tag sets: unnest each distinct set once, weighted.
            let tags = sqlx::query_as(
                "WITH tag_sets AS (
                     SELECT tags, count(*) AS n FROM emotion_logs
                     WHERE user_id = $1 AND recorded_at >= $2 AND recorded_at < $3 AND cardinality(tags) > 0
                     GROUP BY tags
                 )
                 SELECT tag, sum(n)::bigint AS count FROM tag_sets, unnest(tags) AS tag
                 GROUP BY tag ORDER BY count DESC, tag LIMIT 10",
            )
            .bind(user_id)
            .bind(span.from_start)
            .bind(span.to_end)
            .fetch_all(db);
            let (rows, tags) = tokio::try_join!(days, tags)?;
            let mut days = BTreeMap::<NaiveDate, Day>::new();
            for (date, emotion, n, sum) in rows {
                let day = days.entry(date).or_default();
                day.counts[emotion as usize] += n;
                day.sums[emotion as usize] += sum;
            }
            (days, tags)
        }
    };
    Ok((days, top_tags))
}

async fn compute(state: &AppState, user_id: Uuid, span: &Span, source: Source) -> ApiResult<Stats> {
    let (days, top_tags) = read(state, user_id, span, source).await?;
    let mut all = Day::default();
    for day in days.values() {
        for i in 0..EMOTIONS {
            all.counts[i] += day.counts[i];
            all.sums[i] += day.sums[i];
        }
    }
    let by_emotion = Emotion::ALL
        .into_iter()
        .enumerate()
        .map(|(i, emotion)| EmotionStat {
            emotion,
            count: all.counts[i],
            average_intensity: mean(all.sums[i], all.counts[i]),
        })
        .collect();
    let daily = span
        .from_date
        .iter_days()
        .take_while(|date| *date <= span.to_date)
        .map(|date| {
            let day = days.get(&date).copied().unwrap_or_default();
            DayStat {
                date,
                count: day.count(),
                average_intensity: mean(day.sums.iter().sum(), day.count()),
                dominant_emotion: day.dominant(),
            }
        })
        .collect();

    let logged: BTreeSet<NaiveDate> = days.keys().copied().collect();
    let longest = longest_run(&logged);
    let current = current_streak(state, user_id, span, &logged, source).await?;
    Ok(Stats {
        from: span.from_date,
        to: span.to_date,
        timezone: span.tz.clone(),
        total: all.count(),
        average_intensity: mean(all.sums.iter().sum(), all.count()),
        by_emotion,
        daily,
        top_tags,
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
/// back to the range's first whole day (the days before it, or the part of a day an
/// instant `from` cut off, are not in the range's days).
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
        let first = anchor - chrono::Duration::days(run - 1);
        if run > 0 && first <= span.first_whole_day {
            let before = run_ending(first - chrono::Duration::days(1)).await?;
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
                 SELECT day FROM emotion_days WHERE user_id = $1 AND day <= $2 AND n > 0
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

async fn version(state: &AppState, user_id: Uuid) -> String {
    state
        .cache
        .get(&journal::stats_version_key(user_id))
        .await
        .unwrap_or_else(|| "0".into())
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

    #[test]
    fn means_round_half_up_exactly() {
        assert_eq!(mean(7, 3), Some(2.33));
        assert_eq!(mean(469, 200), Some(2.35));
        assert_eq!(mean(5, 2), Some(2.5));
        assert_eq!(mean(0, 0), None);
    }

    #[test]
    fn the_dominant_emotion_breaks_ties_by_mean_then_order() {
        let mut day = Day::default();
        assert_eq!(day.dominant(), None);
        day.counts[4] = 2; // sad, mean 2
        day.sums[4] = 4;
        day.counts[1] = 2; // calm, mean 2
        day.sums[1] = 4;
        assert_eq!(day.dominant(), Some(Emotion::Calm));
        day.sums[4] = 5;
        assert_eq!(day.dominant(), Some(Emotion::Sad));
        day.counts[9] = 3; // lonely, the most logged
        day.sums[9] = 3;
        assert_eq!(day.dominant(), Some(Emotion::Lonely));
    }
}
