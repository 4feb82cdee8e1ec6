//! Logs: create, read, update and delete with their bounds, someone else's logs, keyset
//! pagination under concurrent inserts, and filters.

mod common;

use chrono::{DateTime, Duration, Utc};
use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn create_read_update_delete(pool: PgPool) {
    let h = harness(pool);
    let (_, token) = person(&h, "Asia/Seoul").await;
    let created = h
        .call("POST", "", Some(&token), json!({ "emotion": "grateful", "intensity": 4, "note": "  친구가 전화해 줬다  ", "tags": [" 친구 ", "친구", "저녁"] }))
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

    let got = h
        .call("GET", &format!("/{id}"), Some(&token), Value::Null)
        .await;
    assert_eq!(got.body["data"], *log);

    let patched = h
        .call(
            "PATCH",
            &format!("/{id}"),
            Some(&token),
            json!({ "intensity": 2, "note": null, "tags": ["산책"] }),
        )
        .await;
    assert_eq!(patched.status, 200, "{}", patched.body);
    assert_eq!(patched.body["data"]["intensity"], 2);
    assert_eq!(patched.body["data"]["note"], Value::Null);
    assert_eq!(patched.body["data"]["tags"], json!(["산책"]));
    assert_eq!(patched.body["data"]["emotion"], "grateful");

    assert_eq!(
        h.call("DELETE", &format!("/{id}"), Some(&token), Value::Null)
            .await
            .status,
        200
    );
    assert_error(
        &h.call("GET", &format!("/{id}"), Some(&token), Value::Null)
            .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &h.call("DELETE", &format!("/{id}"), Some(&token), Value::Null)
            .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &h.call("GET", "/not-a-uuid", Some(&token), Value::Null)
            .await,
        404,
        "NOT_FOUND",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn validation_bounds(pool: PgPool) {
    let h = harness(pool);
    let (_, token) = person(&h, "Asia/Seoul").await;
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
            &h.call("POST", "", Some(&token), body.clone()).await,
            422,
            "VALIDATION_ERROR",
        );
        assert!(e["details"]["fields"][field].is_array(), "{body}: {e}");
    }
    let ok = json!({ "emotion": "happy", "intensity": 5, "note": "가".repeat(2000), "recorded_at": soon, "tags": (0..10).map(|i| i.to_string()).collect::<Vec<_>>() });
    assert_eq!(h.call("POST", "", Some(&token), ok).await.status, 201);

    let id = log(&h, &token, "calm", 3, "2025-01-01T00:00:00Z", &[]).await["id"]
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
            &h.call("PATCH", &format!("/{id}"), Some(&token), body.clone())
                .await,
            422,
            "VALIDATION_ERROR",
        );
        assert!(e["details"]["fields"][field].is_array(), "{body}: {e}");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM emotion_logs")
        .fetch_one(&h.admin)
        .await
        .unwrap();
    assert_eq!(count, 2, "nothing half-written");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn someone_elses_log_is_not_found_and_untouched(pool: PgPool) {
    let h = harness(pool);
    let (_, alice) = person(&h, "Asia/Seoul").await;
    let (_, mallory) = person(&h, "Asia/Seoul").await;
    let log = log(&h, &alice, "sad", 2, "2025-01-01T10:00:00Z", &["비밀"]).await;
    let id = log["id"].as_str().unwrap();
    assert_error(
        &h.call("GET", &format!("/{id}"), Some(&mallory), Value::Null)
            .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &h.call(
            "PATCH",
            &format!("/{id}"),
            Some(&mallory),
            json!({ "intensity": 5 }),
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_error(
        &h.call("DELETE", &format!("/{id}"), Some(&mallory), Value::Null)
            .await,
        404,
        "NOT_FOUND",
    );
    let list = h.call("GET", "", Some(&mallory), Value::Null).await;
    assert_eq!(list.body["data"]["items"], json!([]));
    assert_eq!(
        h.call("GET", &format!("/{id}"), Some(&alice), Value::Null)
            .await
            .body["data"],
        log
    );
    assert_error(
        &h.call("GET", "", Some("not-a-token"), Value::Null).await,
        401,
        "UNAUTHORIZED",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn pages_have_no_duplicates_or_gaps_under_concurrent_inserts(pool: PgPool) {
    let h = harness(pool);
    let (_, token) = person(&h, "Asia/Seoul").await;
    let start = DateTime::parse_from_rfc3339("2025-01-01T00:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut expected = Vec::new();
    for i in 0..45 {
        // Pairs share a timestamp: the id breaks the tie.
        let at = (start + Duration::hours(i / 2)).to_rfc3339();
        expected.push(
            log(&h, &token, "calm", 3, &at, &[]).await["id"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    let mut seen: Vec<String> = Vec::new();
    let mut path = "?limit=10".to_owned();
    let mut round = 0;
    loop {
        let page = h.call("GET", &path, Some(&token), Value::Null).await;
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
        log(&h, &token, "happy", 4, &Utc::now().to_rfc3339(), &[]).await;
        log(
            &h,
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
        &h.call("GET", "?cursor=abc.def", Some(&token), Value::Null)
            .await,
        400,
        "BAD_REQUEST",
    );
    assert_error(
        &h.call("GET", "?limit=101", Some(&token), Value::Null).await,
        422,
        "VALIDATION_ERROR",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn filters_by_emotion_and_local_dates(pool: PgPool) {
    let h = harness(pool);
    let (_, token) = person(&h, "Asia/Seoul").await;
    // 2025-03-01 in Seoul is 2025-02-28T15:00Z .. 2025-03-01T15:00Z.
    log(&h, &token, "happy", 3, "2025-02-28T14:59:00Z", &[]).await; // Feb 28, 23:59 KST
    log(&h, &token, "sad", 3, "2025-02-28T15:00:00Z", &[]).await; // Mar 1, 00:00 KST
    log(&h, &token, "happy", 3, "2025-03-01T14:59:59Z", &[]).await; // Mar 1, 23:59:59 KST
    log(&h, &token, "happy", 3, "2025-03-01T15:00:00Z", &[]).await; // Mar 2 KST
    let ids = |a: &Answer| a.body["data"]["items"].as_array().unwrap().len();
    let day = h
        .call(
            "GET",
            "?from=2025-03-01&to=2025-03-01",
            Some(&token),
            Value::Null,
        )
        .await;
    assert_eq!(ids(&day), 2, "{}", day.body);
    let happy = h
        .call(
            "GET",
            "?from=2025-03-01&to=2025-03-01&emotion=happy",
            Some(&token),
            Value::Null,
        )
        .await;
    assert_eq!(ids(&happy), 1);
    let instants = h
        .call(
            "GET",
            "?from=2025-02-28T15:00:00Z&to=2025-03-01T15:00:00Z",
            Some(&token),
            Value::Null,
        )
        .await;
    assert_eq!(ids(&instants), 2);
    for bad in ["?from=2025-02-30", "?emotion=joy", "?to=soon"] {
        assert_error(
            &h.call("GET", bad, Some(&token), Value::Null).await,
            422,
            "VALIDATION_ERROR",
        );
    }
}
