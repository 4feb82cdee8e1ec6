//! Statistics in the user's time zone: midnight and DST edges, streaks, ties, the cache and
//! range checks.

mod common;

use chrono::{Duration, NaiveDate, Utc};
use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

fn day(stats: &Value, date: &str) -> Value {
    stats["daily"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["date"] == date)
        .cloned()
        .unwrap_or(Value::Null)
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn stats_count_local_days_across_midnight(pool: PgPool) {
    let h = harness(pool);
    let (_, token) = person(&h, "Asia/Seoul").await;
    // 23:30 and 00:30 KST: different local days, the same UTC day.
    log(&h, &token, "sad", 2, "2025-03-01T14:30:00Z", &["밤"]).await;
    log(
        &h,
        &token,
        "calm",
        4,
        "2025-03-01T15:30:00Z",
        &["밤", "새벽"],
    )
    .await;
    let s = h
        .call(
            "GET",
            "/stats?from=2025-03-01&to=2025-03-03",
            Some(&token),
            Value::Null,
        )
        .await;
    assert_eq!(s.status, 200, "{}", s.body);
    let s = &s.body["data"];
    assert_eq!(
        (s["from"].as_str(), s["to"].as_str(), s["timezone"].as_str()),
        (Some("2025-03-01"), Some("2025-03-03"), Some("Asia/Seoul"))
    );
    assert_eq!(s["total"], 2);
    assert_eq!(s["average_intensity"], 3.0);
    assert_eq!(s["daily"].as_array().unwrap().len(), 3);
    assert_eq!(
        day(s, "2025-03-01"),
        json!({ "date": "2025-03-01", "count": 1, "average_intensity": 2.0, "dominant_emotion": "sad" })
    );
    assert_eq!(
        day(s, "2025-03-02"),
        json!({ "date": "2025-03-02", "count": 1, "average_intensity": 4.0, "dominant_emotion": "calm" })
    );
    assert_eq!(
        day(s, "2025-03-03"),
        json!({ "date": "2025-03-03", "count": 0, "average_intensity": null, "dominant_emotion": null })
    );
    assert_eq!(
        s["top_tags"],
        json!([{ "tag": "밤", "count": 2 }, { "tag": "새벽", "count": 1 }])
    );
    assert_eq!(s["longest_streak_days"], 2);
    let by_emotion = s["by_emotion"].as_array().unwrap();
    assert_eq!(by_emotion.len(), 10);
    assert_eq!(
        by_emotion[0],
        json!({ "emotion": "happy", "count": 0, "average_intensity": null })
    );
    assert_eq!(
        by_emotion[1],
        json!({ "emotion": "calm", "count": 1, "average_intensity": 4.0 })
    );
    // The same logs seen from UTC fall on one day.
    let utc = h
        .call(
            "GET",
            "/stats?from=2025-03-01&to=2025-03-01&tz=UTC",
            Some(&token),
            Value::Null,
        )
        .await;
    assert_eq!(day(&utc.body["data"], "2025-03-01")["count"], 2);
    assert_error(
        &h.call("GET", "/stats?tz=Mars/Base", Some(&token), Value::Null)
            .await,
        422,
        "VALIDATION_ERROR",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn stats_follow_dst(pool: PgPool) {
    let h = harness(pool);
    let (_, token) = person(&h, "America/New_York").await;
    // 2025-03-09 has 23 hours in New York (clocks jump 02:00 → 03:00 EST → EDT).
    log(&h, &token, "tired", 1, "2025-03-09T04:30:00Z", &[]).await; // Mar 8, 23:30 EST
    log(&h, &token, "tired", 3, "2025-03-09T05:30:00Z", &[]).await; // Mar 9, 00:30 EST
    log(&h, &token, "calm", 5, "2025-03-10T03:30:00Z", &[]).await; // Mar 9, 23:30 EDT
    log(&h, &token, "calm", 5, "2025-03-10T04:30:00Z", &[]).await; // Mar 10, 00:30 EDT
    let s = h
        .call(
            "GET",
            "/stats?from=2025-03-08&to=2025-03-10",
            Some(&token),
            Value::Null,
        )
        .await;
    let s = &s.body["data"];
    assert_eq!(day(s, "2025-03-08")["count"], 1);
    assert_eq!(day(s, "2025-03-09")["count"], 2);
    assert_eq!(day(s, "2025-03-10")["count"], 1);
    // Ties: one tired (3) and one calm (5) → the higher average intensity wins.
    assert_eq!(day(s, "2025-03-09")["dominant_emotion"], "calm");
    // The November change (25-hour day) lists each day once too.
    let nov = h
        .call(
            "GET",
            "/stats?from=2025-11-01&to=2025-11-03",
            Some(&token),
            Value::Null,
        )
        .await;
    let dates: Vec<_> = nov.body["data"]["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(dates, ["2025-11-01", "2025-11-02", "2025-11-03"]);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn dominant_ties_fall_back_to_the_enum_order(pool: PgPool) {
    let h = harness(pool);
    let (_, token) = person(&h, "UTC").await;
    log(&h, &token, "lonely", 3, "2025-05-01T10:00:00Z", &[]).await;
    log(&h, &token, "calm", 3, "2025-05-01T11:00:00Z", &[]).await;
    log(&h, &token, "sad", 3, "2025-05-01T12:00:00Z", &[]).await;
    let s = h
        .call(
            "GET",
            "/stats?from=2025-05-01&to=2025-05-01",
            Some(&token),
            Value::Null,
        )
        .await;
    assert_eq!(
        day(&s.body["data"], "2025-05-01")["dominant_emotion"],
        "calm"
    );
    log(&h, &token, "sad", 1, "2025-05-01T13:00:00Z", &[]).await;
    let s = h
        .call(
            "GET",
            "/stats?from=2025-05-01&to=2025-05-01",
            Some(&token),
            Value::Null,
        )
        .await;
    assert_eq!(
        day(&s.body["data"], "2025-05-01")["dominant_emotion"],
        "sad",
        "most frequent first"
    );
}

fn utc_day(offset: i64) -> NaiveDate {
    (Utc::now() + Duration::days(offset)).date_naive()
}

async fn log_on(h: &Harness, token: &str, offset: i64) {
    let at = (Utc::now() + Duration::days(offset))
        .date_naive()
        .and_hms_opt(12, 0, 0)
        .unwrap()
        .and_utc();
    let at = at.min(Utc::now());
    log(h, token, "happy", 3, &at.to_rfc3339(), &[]).await;
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn streaks(pool: PgPool) {
    let h = harness(pool);
    let (_, token) = person(&h, "UTC").await;
    // Days -6, -5 | -3, -2, -1 (today empty): the current streak counts through yesterday.
    for offset in [-6, -5, -3, -2, -1] {
        log_on(&h, &token, offset).await;
    }
    let s = h.call("GET", "/stats", Some(&token), Value::Null).await;
    assert_eq!(s.status, 200, "{}", s.body);
    let s = &s.body["data"];
    assert_eq!(s["to"], utc_day(0).to_string());
    assert_eq!(s["from"], utc_day(-29).to_string());
    assert_eq!(s["daily"].as_array().unwrap().len(), 30);
    assert_eq!(
        (
            s["current_streak_days"].as_i64(),
            s["longest_streak_days"].as_i64()
        ),
        (Some(3), Some(3))
    );

    // A log today extends it; the cache was invalidated by the write.
    log_on(&h, &token, 0).await;
    let s = h.call("GET", "/stats", Some(&token), Value::Null).await;
    assert_eq!(s.body["data"]["current_streak_days"], 4);
    // The longest run inside a range that cuts it.
    let from = utc_day(-2);
    let s = h
        .call(
            "GET",
            &format!("/stats?from={from}"),
            Some(&token),
            Value::Null,
        )
        .await;
    assert_eq!(
        (
            s.body["data"]["longest_streak_days"].as_i64(),
            s.body["data"]["current_streak_days"].as_i64()
        ),
        (Some(3), Some(4))
    );
    // A range in the past still reports the current streak.
    let s = h
        .call(
            "GET",
            &format!("/stats?from={}&to={}", utc_day(-6), utc_day(-5)),
            Some(&token),
            Value::Null,
        )
        .await;
    assert_eq!(
        (
            s.body["data"]["longest_streak_days"].as_i64(),
            s.body["data"]["current_streak_days"].as_i64()
        ),
        (Some(2), Some(4))
    );
    // Nothing yesterday or today: no current streak.
    let (_, other) = person(&h, "UTC").await;
    log_on(&h, &other, -2).await;
    let s = h.call("GET", "/stats", Some(&other), Value::Null).await;
    assert_eq!(s.body["data"]["current_streak_days"], 0);
    assert_eq!(s.body["data"]["longest_streak_days"], 1);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_streak_longer_than_the_range_is_counted_whole(pool: PgPool) {
    let h = harness(pool);
    let (_, token) = person(&h, "UTC").await;
    for offset in -40..=0 {
        log_on(&h, &token, offset).await;
    }
    let s = h.call("GET", "/stats", Some(&token), Value::Null).await;
    assert_eq!(s.body["data"]["current_streak_days"], 41);
    assert_eq!(s.body["data"]["longest_streak_days"], 30);
}

/// A `from` instant after a day's log cuts that log out of the range, not out of the streak.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_streak_through_a_day_cut_by_an_instant_is_counted_whole(pool: PgPool) {
    let h = harness(pool);
    let (_, token) = person(&h, "UTC").await;
    for offset in -3..=0 {
        log_on(&h, &token, offset).await;
    }
    let cut = (Utc::now() - Duration::days(2))
        .date_naive()
        .and_hms_opt(13, 0, 0)
        .unwrap()
        .and_utc()
        .format("%Y-%m-%dT%H:%M:%SZ");
    let s = h
        .call(
            "GET",
            &format!("/stats?from={cut}"),
            Some(&token),
            Value::Null,
        )
        .await;
    assert_eq!(s.status, 200, "{}", s.body);
    assert_eq!(s.body["data"]["current_streak_days"], 4, "{}", s.body);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn stats_are_cached_until_a_write(pool: PgPool) {
    let h = harness(pool);
    let (id, token) = person(&h, "UTC").await;
    let total = |a: Answer| a.body["data"]["total"].as_i64().unwrap();
    log(&h, &token, "calm", 3, &Utc::now().to_rfc3339(), &[]).await;
    assert_eq!(
        total(h.call("GET", "/stats", Some(&token), Value::Null).await),
        1
    );
    // A log written behind the API's back (with its rollup) is not seen: the cache answers.
    sqlx::query("INSERT INTO emotion_logs (id, user_id, emotion, intensity, recorded_at) VALUES ($1, $2, 'calm', 3, now())")
        .bind(Uuid::now_v7())
        .bind(id)
        .execute(&h.admin)
        .await
        .unwrap();
    let mut conn = h.admin.acquire().await.unwrap();
    shared::domain::journal::rebuild(&mut conn, id)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(
        total(h.call("GET", "/stats", Some(&token), Value::Null).await),
        1
    );
    // Create, update and delete each make it fresh.
    let log = log(&h, &token, "calm", 3, &Utc::now().to_rfc3339(), &[]).await;
    assert_eq!(
        total(h.call("GET", "/stats", Some(&token), Value::Null).await),
        3
    );
    let log_id = log["id"].as_str().unwrap();
    h.call(
        "PATCH",
        &format!("/{log_id}"),
        Some(&token),
        json!({ "emotion": "sad" }),
    )
    .await;
    let s = h.call("GET", "/stats", Some(&token), Value::Null).await;
    assert_eq!(
        s.body["data"]["by_emotion"][4]["count"], 1,
        "sad counted after the update"
    );
    h.call("DELETE", &format!("/{log_id}"), Some(&token), Value::Null)
        .await;
    assert_eq!(
        total(h.call("GET", "/stats", Some(&token), Value::Null).await),
        2
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn stats_ranges_are_checked(pool: PgPool) {
    let h = harness(pool);
    let (_, token) = person(&h, "Asia/Seoul").await;
    assert_eq!(
        h.call(
            "GET",
            "/stats?from=2024-01-01&to=2024-12-31",
            Some(&token),
            Value::Null
        )
        .await
        .status,
        200
    );
    assert_error(
        &h.call(
            "GET",
            "/stats?from=2024-01-01&to=2025-01-01",
            Some(&token),
            Value::Null,
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    assert_error(
        &h.call(
            "GET",
            "/stats?from=2025-02-01&to=2025-01-01",
            Some(&token),
            Value::Null,
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    assert_error(
        &h.call("GET", "/stats?from=someday", Some(&token), Value::Null)
            .await,
        422,
        "VALIDATION_ERROR",
    );
    let instants = h
        .call(
            "GET",
            "/stats?from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z",
            Some(&token),
            Value::Null,
        )
        .await;
    assert_eq!(instants.status, 200, "{}", instants.body);
    // In Seoul that instant range covers two local days.
    assert_eq!(
        (
            instants.body["data"]["from"].as_str(),
            instants.body["data"]["to"].as_str()
        ),
        (Some("2025-01-01"), Some("2025-01-02"))
    );
}
