//! The mood journal: validation bounds, someone else's logs, keyset pagination under
//! concurrent inserts, filters, and statistics in the user's time zone (midnight and DST
//! edges, streaks, ties, the cache).

use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde_json::{Value, json};
use shared::AppState;
use shared::auth::Role;
use shared::cache::Cache;
use shared::testing::*;
use sqlx::PgPool;
use uuid::Uuid;

struct Harness {
    app: axum::Router,
    state: AppState,
}

impl Harness {
    fn new(pool: PgPool) -> Self {
        // The general limit is tested elsewhere; these tests write a lot.
        let state = state(
            pool,
            Cache::memory(),
            settings(&[("RATE_LIMIT_GENERAL", "100000/minute")]),
        );
        Self {
            app: service_app(&state, "emotions", emotions::routes()),
            state,
        }
    }

    async fn person(&self, timezone: &str) -> (Uuid, String) {
        let (id, token) = access_token(&self.state, Role::User).await;
        sqlx::query("UPDATE users SET timezone = $2 WHERE id = $1")
            .bind(id)
            .bind(timezone)
            .execute(&self.state.db)
            .await
            .unwrap();
        (id, token)
    }

    async fn call(&self, method: &str, token: &str, path: &str, body: Value) -> Answer {
        let body = (!body.is_null()).then(|| body.to_string());
        send(
            &self.app,
            json_request(
                method,
                &format!("/api/v1/emotions{path}"),
                Some(token),
                body.as_deref(),
            ),
        )
        .await
    }

    async fn log(
        &self,
        token: &str,
        emotion: &str,
        intensity: i64,
        at: &str,
        tags: &[&str],
    ) -> Value {
        let a = self.call("POST", token, "", json!({ "emotion": emotion, "intensity": intensity, "recorded_at": at, "tags": tags })).await;
        assert_eq!(a.status, 201, "{}", a.body);
        a.body["data"].clone()
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn create_read_update_delete(pool: PgPool) {
    let h = Harness::new(pool);
    let (_, token) = h.person("Asia/Seoul").await;
    let created = h
        .call("POST", &token, "", json!({ "emotion": "grateful", "intensity": 4, "note": "  친구가 전화해 줬다  ", "tags": [" 친구 ", "친구", "저녁"] }))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let log = &created.body["data"];
    assert_eq!(log["emotion"], "grateful");
    assert_eq!(log["note"], "친구가 전화해 줬다");
    assert_eq!(log["tags"], json!(["친구", "저녁"]));
    let recorded = DateTime::parse_from_rfc3339(log["recorded_at"].as_str().unwrap()).unwrap();
    assert!(
        (Utc::now() - recorded.with_timezone(&Utc))
            .num_seconds()
            .abs()
            < 5,
        "defaults to now"
    );
    let id = log["id"].as_str().unwrap();

    let got = h.call("GET", &token, &format!("/{id}"), Value::Null).await;
    assert_eq!(got.body["data"], *log);

    let patched = h
        .call(
            "PATCH",
            &token,
            &format!("/{id}"),
            json!({ "intensity": 2, "note": null, "tags": ["산책"] }),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["data"]["intensity"], 2);
    assert_eq!(patched.body["data"]["note"], Value::Null);
    assert_eq!(patched.body["data"]["tags"], json!(["산책"]));
    assert_eq!(patched.body["data"]["emotion"], "grateful");

    assert_eq!(
        h.call("DELETE", &token, &format!("/{id}"), Value::Null)
            .await
            .status,
        200
    );
    assert_error(
        &h.call("GET", &token, &format!("/{id}"), Value::Null).await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &h.call("DELETE", &token, &format!("/{id}"), Value::Null)
            .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &h.call("GET", &token, "/not-a-uuid", Value::Null).await,
        404,
        "NOT_FOUND",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn validation_bounds(pool: PgPool) {
    let h = Harness::new(pool);
    let (_, token) = h.person("Asia/Seoul").await;
    let future = (Utc::now() + Duration::minutes(6)).to_rfc3339();
    let soon = (Utc::now() + Duration::minutes(4)).to_rfc3339();
    let cases = [
        (json!({ "emotion": "happy", "intensity": 0 }), "intensity"),
        (json!({ "emotion": "happy", "intensity": 6 }), "intensity"),
        (json!({ "emotion": "happy", "intensity": 2.5 }), "intensity"),
        (json!({ "emotion": "joyful", "intensity": 3 }), "emotion"),
        (json!({ "intensity": 3 }), "emotion"),
        (
            json!({ "emotion": "happy", "intensity": 3, "note": "가".repeat(2001) }),
            "note",
        ),
        (
            json!({ "emotion": "happy", "intensity": 3, "tags": ["가".repeat(21)] }),
            "tags",
        ),
        (
            json!({ "emotion": "happy", "intensity": 3, "tags": ["  "] }),
            "tags",
        ),
        (
            json!({ "emotion": "happy", "intensity": 3, "tags": (0..11).map(|i| i.to_string()).collect::<Vec<_>>() }),
            "tags",
        ),
        (
            json!({ "emotion": "happy", "intensity": 3, "recorded_at": future }),
            "recorded_at",
        ),
        (
            json!({ "emotion": "happy", "intensity": 3, "recorded_at": "yesterday" }),
            "recorded_at",
        ),
        (
            json!({ "emotion": "happy", "intensity": 3, "mood": "x" }),
            "mood",
        ),
    ];
    for (body, field) in cases {
        let e = assert_error(
            &h.call("POST", &token, "", body.clone()).await,
            422,
            "VALIDATION_ERROR",
        );
        assert!(e["details"]["fields"][field].is_array(), "{body}: {e}");
    }
    let ok = json!({ "emotion": "happy", "intensity": 5, "note": "가".repeat(2000), "recorded_at": soon, "tags": (0..10).map(|i| i.to_string()).collect::<Vec<_>>() });
    assert_eq!(h.call("POST", &token, "", ok).await.status, 201);

    let id = h.log(&token, "calm", 3, "2025-01-01T00:00:00Z", &[]).await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for (body, field) in [
        (json!({ "emotion": null }), "emotion"),
        (json!({ "intensity": 9 }), "intensity"),
        (json!({ "recorded_at": null }), "recorded_at"),
        (json!({ "id": "x" }), "id"),
    ] {
        let e = assert_error(
            &h.call("PATCH", &token, &format!("/{id}"), body.clone())
                .await,
            422,
            "VALIDATION_ERROR",
        );
        assert!(e["details"]["fields"][field].is_array(), "{body}: {e}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM emotion_logs")
        .fetch_one(&h.state.db)
        .await
        .unwrap();
    assert_eq!(count, 2, "nothing half-written");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn someone_elses_log_is_not_found_and_untouched(pool: PgPool) {
    let h = Harness::new(pool);
    let (_, alice) = h.person("Asia/Seoul").await;
    let (_, mallory) = h.person("Asia/Seoul").await;
    let log = h
        .log(&alice, "sad", 2, "2025-01-01T10:00:00Z", &["비밀"])
        .await;
    let id = log["id"].as_str().unwrap();
    assert_error(
        &h.call("GET", &mallory, &format!("/{id}"), Value::Null)
            .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &h.call(
            "PATCH",
            &mallory,
            &format!("/{id}"),
            json!({ "intensity": 5 }),
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &h.call("DELETE", &mallory, &format!("/{id}"), Value::Null)
            .await,
        404,
        "NOT_FOUND",
    );
    let list = h.call("GET", &mallory, "", Value::Null).await;
    assert_eq!(list.body["data"]["items"], json!([]));
    assert_eq!(
        h.call("GET", &alice, &format!("/{id}"), Value::Null)
            .await
            .body["data"],
        log
    );
    assert_error(
        &h.call("GET", "not-a-token", "", Value::Null).await,
        401,
        "UNAUTHORIZED",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn pages_have_no_duplicates_or_gaps_under_concurrent_inserts(pool: PgPool) {
    let h = Harness::new(pool);
    let (_, token) = h.person("Asia/Seoul").await;
    let start = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut expected = Vec::new();
    for i in 0..45 {
        // Pairs share a timestamp: the id breaks the tie.
        let at = (start + Duration::hours(i / 2)).to_rfc3339();
        expected.push(
            h.log(&token, "calm", 3, &at, &[]).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut seen: Vec<String> = Vec::new();
    let mut path = "?limit=10".to_owned();
    let mut round = 0;
    loop {
        let page = h.call("GET", &token, &path, Value::Null).await;
        assert_eq!(page.status, 200, "{}", page.body);
        seen.extend(
            page.body["data"]["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["id"].as_str().unwrap().to_owned()),
        );
        // Between pages: a new log now, and one recorded before everything.
        round += 1;
        h.log(&token, "happy", 4, &Utc::now().to_rfc3339(), &[])
            .await;
        h.log(
            &token,
            "tired",
            2,
            &(start - Duration::days(round)).to_rfc3339(),
            &[],
        )
        .await;
        match page.body["data"]["next_cursor"].as_str() {
            Some(c) => path = format!("?limit=10&cursor={c}"),
            None => break,
        }
    }
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no duplicates");
    for id in &expected {
        assert!(seen.contains(id), "no gaps: {id} missing");
    }
    assert_error(
        &h.call("GET", &token, "?cursor=abc.def", Value::Null).await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &h.call("GET", &token, "?limit=101", Value::Null).await,
        422,
        "VALIDATION_ERROR",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn filters_by_emotion_and_local_dates(pool: PgPool) {
    let h = Harness::new(pool);
    let (_, token) = h.person("Asia/Seoul").await;
    // 2025-03-01 in Seoul is 2025-02-28T15:00Z .. 2025-03-01T15:00Z.
    h.log(&token, "happy", 3, "2025-02-28T14:59:00Z", &[]).await; // Feb 28, 23:59 KST
    h.log(&token, "sad", 3, "2025-02-28T15:00:00Z", &[]).await; // Mar 1, 00:00 KST
    h.log(&token, "happy", 3, "2025-03-01T14:59:59Z", &[]).await; // Mar 1, 23:59:59 KST
    h.log(&token, "happy", 3, "2025-03-01T15:00:00Z", &[]).await; // Mar 2 KST
    let ids = |a: &Answer| a.body["data"]["items"].as_array().unwrap().len();
    let day = h
        .call("GET", &token, "?from=2025-03-01&to=2025-03-01", Value::Null)
        .await;
    assert_eq!(ids(&day), 2, "{}", day.body);
    let happy = h
        .call(
            "GET",
            &token,
            "?from=2025-03-01&to=2025-03-01&emotion=happy",
            Value::Null,
        )
        .await;
    assert_eq!(ids(&happy), 1);
    let instants = h
        .call(
            "GET",
            &token,
            "?from=2025-02-28T15:00:00Z&to=2025-03-01T15:00:00Z",
            Value::Null,
        )
        .await;
    assert_eq!(ids(&instants), 2);
    for bad in ["?from=2025-02-30", "?emotion=joy", "?to=soon"] {
        assert_error(
            &h.call("GET", &token, bad, Value::Null).await,
            422,
            "VALIDATION_ERROR",
        );
    }
}

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
    let h = Harness::new(pool);
    let (_, token) = h.person("Asia/Seoul").await;
    // 23:30 and 00:30 KST: different local days, the same UTC day.
    h.log(&token, "sad", 2, "2025-03-01T14:30:00Z", &["밤"])
        .await;
    h.log(&token, "calm", 4, "2025-03-01T15:30:00Z", &["밤", "새벽"])
        .await;
    let s = h
        .call(
            "GET",
            &token,
            "/stats?from=2025-03-01&to=2025-03-03",
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
            &token,
            "/stats?from=2025-03-01&to=2025-03-01&tz=UTC",
            Value::Null,
        )
        .await;
    assert_eq!(day(&utc.body["data"], "2025-03-01")["count"], 2);
    assert_error(
        &h.call("GET", &token, "/stats?tz=Mars/Base", Value::Null)
            .await,
        422,
        "VALIDATION_ERROR",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn stats_follow_dst(pool: PgPool) {
    let h = Harness::new(pool);
    let (_, token) = h.person("America/New_York").await;
    // 2025-03-09 has 23 hours in New York (clocks jump 02:00 → 03:00 EST → EDT).
    h.log(&token, "tired", 1, "2025-03-09T04:30:00Z", &[]).await; // Mar 8, 23:30 EST
    h.log(&token, "tired", 3, "2025-03-09T05:30:00Z", &[]).await; // Mar 9, 00:30 EST
    h.log(&token, "calm", 5, "2025-03-10T03:30:00Z", &[]).await; // Mar 9, 23:30 EDT
    h.log(&token, "calm", 5, "2025-03-10T04:30:00Z", &[]).await; // Mar 10, 00:30 EDT
    let s = h
        .call(
            "GET",
            &token,
            "/stats?from=2025-03-08&to=2025-03-10",
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
            &token,
            "/stats?from=2025-11-01&to=2025-11-03",
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
    let h = Harness::new(pool);
    let (_, token) = h.person("UTC").await;
    h.log(&token, "lonely", 3, "2025-05-01T10:00:00Z", &[])
        .await;
    h.log(&token, "calm", 3, "2025-05-01T11:00:00Z", &[]).await;
    h.log(&token, "sad", 3, "2025-05-01T12:00:00Z", &[]).await;
    let s = h
        .call(
            "GET",
            &token,
            "/stats?from=2025-05-01&to=2025-05-01",
            Value::Null,
        )
        .await;
    assert_eq!(
        day(&s.body["data"], "2025-05-01")["dominant_emotion"],
        "calm"
    );
    h.log(&token, "sad", 1, "2025-05-01T13:00:00Z", &[]).await;
    let s = h
        .call(
            "GET",
            &token,
            "/stats?from=2025-05-01&to=2025-05-01",
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
    h.log(token, "happy", 3, &at.to_rfc3339(), &[]).await;
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn streaks(pool: PgPool) {
    let h = Harness::new(pool);
    let (_, token) = h.person("UTC").await;
    // Days -6, -5 | -3, -2, -1 (today empty): the current streak counts through yesterday.
    for offset in [-6, -5, -3, -2, -1] {
        log_on(&h, &token, offset).await;
    }
    let s = h.call("GET", &token, "/stats", Value::Null).await;
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
    let s = h.call("GET", &token, "/stats", Value::Null).await;
    assert_eq!(s.body["data"]["current_streak_days"], 4);
    // The longest run inside a range that cuts it.
    let from = utc_day(-2);
    let s = h
        .call("GET", &token, &format!("/stats?from={from}"), Value::Null)
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
            &token,
            &format!("/stats?from={}&to={}", utc_day(-6), utc_day(-5)),
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
    let (_, other) = h.person("UTC").await;
    log_on(&h, &other, -2).await;
    let s = h.call("GET", &other, "/stats", Value::Null).await;
    assert_eq!(s.body["data"]["current_streak_days"], 0);
    assert_eq!(s.body["data"]["longest_streak_days"], 1);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_streak_longer_than_the_range_is_counted_whole(pool: PgPool) {
    let h = Harness::new(pool);
    let (_, token) = h.person("UTC").await;
    for offset in -40..=0 {
        log_on(&h, &token, offset).await;
    }
    let s = h.call("GET", &token, "/stats", Value::Null).await;
    assert_eq!(s.body["data"]["current_streak_days"], 41);
    assert_eq!(s.body["data"]["longest_streak_days"], 30);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn stats_are_cached_until_a_write(pool: PgPool) {
    let h = Harness::new(pool);
    let (id, token) = h.person("UTC").await;
    let total = |a: Answer| a.body["data"]["total"].as_i64().unwrap();
    h.log(&token, "calm", 3, &Utc::now().to_rfc3339(), &[])
        .await;
    assert_eq!(total(h.call("GET", &token, "/stats", Value::Null).await), 1);
    // A log written behind the API's back (with its rollup) is not seen: the cache answers.
    sqlx::query("INSERT INTO emotion_logs (id, user_id, emotion, intensity, recorded_at) VALUES ($1, $2, 'calm', 3, now())")
        .bind(Uuid::now_v7())
        .bind(id)
        .execute(&h.state.db)
        .await
        .unwrap();
    let mut conn = h.state.db.acquire().await.unwrap();
    shared::domain::journal::rebuild(&mut conn, id)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(total(h.call("GET", &token, "/stats", Value::Null).await), 1);
    // Create, update and delete each make it fresh.
    let log = h
        .log(&token, "calm", 3, &Utc::now().to_rfc3339(), &[])
        .await;
    assert_eq!(total(h.call("GET", &token, "/stats", Value::Null).await), 3);
    let log_id = log["id"].as_str().unwrap();
    h.call(
        "PATCH",
        &token,
        &format!("/{log_id}"),
        json!({ "emotion": "sad" }),
    )
    .await;
    let s = h.call("GET", &token, "/stats", Value::Null).await;
    assert_eq!(
        s.body["data"]["by_emotion"][4]["count"], 1,
        "sad counted after the update"
    );
    h.call("DELETE", &token, &format!("/{log_id}"), Value::Null)
        .await;
    assert_eq!(total(h.call("GET", &token, "/stats", Value::Null).await), 2);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn stats_ranges_are_checked(pool: PgPool) {
    let h = Harness::new(pool);
    let (_, token) = h.person("Asia/Seoul").await;
    assert_eq!(
        h.call(
            "GET",
            &token,
            "/stats?from=2024-01-01&to=2024-12-31",
            Value::Null
        )
        .await
        .status,
        200
    );
    assert_error(
        &h.call(
            "GET",
            &token,
            "/stats?from=2024-01-01&to=2025-01-01",
            Value::Null,
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    assert_error(
        &h.call(
            "GET",
            &token,
            "/stats?from=2025-02-01&to=2025-01-01",
            Value::Null,
        )
        .await,
        422,
        "VALIDATION_ERROR",
    );
    assert_error(
        &h.call("GET", &token, "/stats?from=someday", Value::Null)
            .await,
        422,
        "VALIDATION_ERROR",
    );
    let instants = h
        .call(
            "GET",
            &token,
            "/stats?from=2025-01-01T00:00:00Z&to=2025-01-02T00:00:00Z",
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

/// The daily rollup (whole days in the user's zone) and the logs (the same range given as
/// instants) give the same statistics after creates, updates and deletes.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_rollup_agrees_with_the_logs(pool: PgPool) {
    let h = Harness::new(pool);
    let (_, token) = h.person("Asia/Seoul").await;
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
        let log = h
            .log(
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
            h.call("PATCH", &token, &format!("/{id}"), body)
                .await
                .status,
            200
        );
    }
    for id in ids.iter().skip(60).take(15) {
        assert_eq!(
            h.call("DELETE", &token, &format!("/{id}"), Value::Null)
                .await
                .status,
            200
        );
    }
    let rollup = h
        .call(
            "GET",
            &token,
            "/stats?from=2025-03-01&to=2025-03-20",
            Value::Null,
        )
        .await;
    let logs = h
        .call(
            "GET",
            &token,
            "/stats?from=2025-02-28T15:00:00Z&to=2025-03-20T15:00:00Z",
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
