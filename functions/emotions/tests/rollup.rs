//! The daily rollup agrees with the logs it summarizes, and its migration kept every count.

mod common;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

/// The daily rollup (whole days in the user's zone) and the logs (the same range given as
/// instants) give the same statistics after creates, updates and deletes.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_rollup_agrees_with_the_logs(pool: PgPool) {
    let h = harness(pool);
    let (_, token) = person(&h, "Asia/Seoul").await;
    let emotions = ["happy", "calm", "sad", "tired", "lonely", "angry"];
    let tags = [
        vec![],
        vec!["산책"],
        vec!["일", "야근"],
        vec!["친구", "산책"],
    ];
    let start = DateTime::parse_from_rfc3339("2025-03-01T00:00:00+09:00")
        .unwrap()
        .with_timezone(&Utc);
    let mut ids = Vec::new();
    let mut seed: u64 = 7;
    let mut next = |n: u64| {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (seed >> 33) % n
    };
    for _ in 0..90 {
        let at = start + Duration::minutes(next(20 * 24 * 60) as i64);
        let t: Vec<&str> = tags[next(4) as usize].clone();
        let log = log(
            &h,
            &token,
            emotions[next(6) as usize],
            1 + next(5) as i64,
            &at.to_rfc3339(),
            &t,
        )
        .await;
        ids.push(log["id"].as_str().unwrap().to_owned());
    }
    for id in ids.iter().take(30) {
        let at = start + Duration::minutes(next(20 * 24 * 60) as i64);
        let body = json!({ "emotion": emotions[next(6) as usize], "intensity": 1 + next(5), "recorded_at": at.to_rfc3339(), "tags": tags[next(4) as usize] });
        assert_eq!(
            h.call("PATCH", &format!("/{id}"), Some(&token), body)
                .await
                .status,
            200
        );
    }
    for id in ids.iter().skip(60).take(15) {
        assert_eq!(
            h.call("DELETE", &format!("/{id}"), Some(&token), Value::Null)
                .await
                .status,
            200
        );
    }
    let rollup = h
        .call(
            "GET",
            "/stats?from=2025-03-01&to=2025-03-20",
            Some(&token),
            Value::Null,
        )
        .await;
    let logs = h
        .call(
            "GET",
            "/stats?from=2025-02-28T15:00:00Z&to=2025-03-20T15:00:00Z",
            Some(&token),
            Value::Null,
        )
        .await;
    let (a, b) = (&rollup.body["data"], &logs.body["data"]);
    assert_eq!(a["total"], 75);
    for field in [
        "total",
        "average_intensity",
        "by_emotion",
        "daily",
        "top_tags",
        "longest_streak_days",
        "from",
        "to",
    ] {
        assert_eq!(a[field], b[field], "{field}");
    }
}

/// Migration 0006 turns the per-emotion rollup of 0005 into one row per day: a database
/// holding logs from before it ends up with exactly the rollup a rebuild computes.
#[sqlx::test(migrations = false)]
async fn the_day_rollup_migration_keeps_every_count(pool: PgPool) {
    let apply = |up_to: i64, after: i64| {
        let pool = pool.clone();
        async move {
            for m in shared::db::MIGRATOR
                .iter()
                .filter(|m| m.version > after && m.version <= up_to)
            {
                sqlx::raw_sql(m.sql.clone()).execute(&pool).await.unwrap();
            }
        }
    };
    apply(20261126000004, 0).await;
    let user = Uuid::now_v7();
    sqlx::query("INSERT INTO users (id, email, nickname, timezone) VALUES ($1, 'm@example.com', '마이그', 'Asia/Seoul')")
        .bind(user)
        .execute(&pool)
        .await
        .unwrap();
    // Two local days in Seoul (00:30 KST is still the previous day in UTC; 23:59 KST is not the
    // next), several emotions and tags.
    for (i, (emotion, intensity, at)) in [
        ("calm", 3, "2025-03-01T15:30:00Z"),
        ("calm", 5, "2025-03-01T16:00:00Z"),
        ("sad", 2, "2025-03-02T01:00:00Z"),
        ("lonely", 4, "2025-03-02T14:59:00Z"),
        ("happy", 1, "2025-03-02T15:01:00Z"),
    ]
    .into_iter()
    .enumerate()
    {
        sqlx::query("INSERT INTO emotion_logs (id, user_id, emotion, intensity, tags, recorded_at) VALUES ($1, $2, $3, $4, $5, $6::timestamptz)")
            .bind(Uuid::now_v7())
            .bind(user)
            .bind(emotion)
            .bind(intensity as i16)
            .bind(if i % 2 == 0 { vec!["산책"] } else { vec![] })
            .bind(at)
            .execute(&pool)
            .await
            .unwrap();
    }
    apply(i64::MAX, 20261126000004).await;
    let rollup = |pool: PgPool| async move {
        sqlx::query_as::<_, (NaiveDate, i32, Vec<i32>, Vec<i32>)>(
            "SELECT day, n, counts, intensity_sums FROM emotion_days ORDER BY day",
        )
        .fetch_all(&pool)
        .await
        .unwrap()
    };
    let migrated = rollup(pool.clone()).await;
    let day = |d: &str| d.parse::<NaiveDate>().unwrap();
    assert_eq!(
        migrated,
        vec![
            (
                day("2025-03-02"),
                4,
                vec![0, 2, 0, 0, 1, 0, 0, 0, 0, 1],
                vec![0, 8, 0, 0, 2, 0, 0, 0, 0, 4]
            ),
            (
                day("2025-03-03"),
                1,
                vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                vec![1, 0, 0, 0, 0, 0, 0, 0, 0, 0]
            ),
        ]
    );
    let mut conn = pool.acquire().await.unwrap();
    shared::domain::journal::rebuild(&mut conn, user)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(rollup(pool.clone()).await, migrated);
}

/// The day's row and tags of `user` on `day`: (n, counts, intensity sums, tags with counts).
async fn day_of(
    h: &Harness,
    user: uuid::Uuid,
    day: &str,
) -> (i32, Vec<i32>, Vec<i32>, Vec<(String, i32)>) {
    let (n, counts, sums): (i32, Vec<i32>, Vec<i32>) = sqlx::query_as(
        "SELECT n, counts, intensity_sums FROM emotion_days WHERE user_id = $1 AND day = $2::date",
    )
    .bind(user)
    .bind(day)
    .fetch_optional(&h.admin)
    .await
    .unwrap()
    .unwrap_or((0, vec![0; 10], vec![0; 10]));
    let tags: Vec<(String, i32)> = sqlx::query_as(
        "SELECT tag, n FROM emotion_daily_tags WHERE user_id = $1 AND day = $2::date AND n <> 0 ORDER BY tag",
    )
    .bind(user)
    .bind(day)
    .fetch_all(&h.admin)
    .await
    .unwrap();
    (n, counts, sums, tags)
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn an_edit_within_a_day_and_across_days_moves_the_rollup_exactly(pool: PgPool) {
    let h = harness(pool);
    let (me, token) = person(&h, "Asia/Seoul").await;
    let log = log(
        &h,
        &token,
        "calm",
        2,
        "2025-03-01T10:00:00+09:00",
        &["산책", "친구"],
    )
    .await;
    let id = log["id"].as_str().unwrap();
    let calm = 1; // the second emotion
    let t = |pairs: &[(&str, i32)]| {
        pairs
            .iter()
            .map(|(t, n)| (t.to_string(), *n))
            .collect::<Vec<_>>()
    };

    // The same day, the same emotion: one row changed once, summed before it is written.
    let edit = json!({ "intensity": 5, "tags": ["친구", "일"] });
    assert_eq!(
        h.call("PATCH", &format!("/{id}"), Some(&token), edit)
            .await
            .status,
        200
    );
    let (n, counts, sums, tags) = day_of(&h, me, "2025-03-01").await;
    assert_eq!((n, counts[calm], sums[calm]), (1, 1, 5));
    assert_eq!(tags, t(&[("일", 1), ("친구", 1)]));

    // Another day and another emotion: out of one day, into the other.
    let moved = json!({ "emotion": "sad", "recorded_at": "2025-03-02T23:30:00+09:00" });
    assert_eq!(
        h.call("PATCH", &format!("/{id}"), Some(&token), moved)
            .await
            .status,
        200
    );
    let (n, counts, sums, tags) = day_of(&h, me, "2025-03-01").await;
    assert_eq!(
        (
            n,
            counts.iter().sum::<i32>(),
            sums.iter().sum::<i32>(),
            tags
        ),
        (0, 0, 0, vec![])
    );
    let (n, counts, sums, tags) = day_of(&h, me, "2025-03-02").await;
    assert_eq!((n, counts[4], sums[4]), (1, 1, 5));
    assert_eq!(tags, t(&[("일", 1), ("친구", 1)]));

    assert_eq!(
        h.call("DELETE", &format!("/{id}"), Some(&token), Value::Null)
            .await
            .status,
        200
    );
    let (n, counts, _, tags) = day_of(&h, me, "2025-03-02").await;
    assert_eq!((n, counts.iter().sum::<i32>(), tags), (0, 0, vec![]));
    assert_eq!(
        h.call("DELETE", &format!("/{id}"), Some(&token), Value::Null)
            .await
            .status,
        404
    );
}
