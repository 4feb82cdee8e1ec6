//! Challenges: fields, the local day of a check-in (midnight in Seoul and UTC, a DST zone, a
//! move between zones), parallel check-ins, completion with its notification, the state
//! machine, pages, and someone else's challenge.

mod common;

use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_challenge_starts_on_the_local_today_with_every_field(pool: PgPool) {
    let h = harness(pool);
    // 16:00 UTC on 1 March is 01:00 on 2 March in Seoul.
    at(&h, "2026-03-01T16:00:00Z");
    let (_, token) = person_in(&h, "Asia/Seoul").await;
    let c = expect(
        &h,
        &token,
        "POST",
        "",
        json!({ "title": " 물 마시기 ", "target_days": 30 }),
        201,
    )
    .await;
    assert_eq!(c["title"], "물 마시기");
    assert_eq!(c["description"], Value::Null);
    assert_eq!(c["target_days"], 30);
    assert_eq!(c["start_date"], "2026-03-02");
    assert_eq!(c["status"], "active");
    assert_eq!(c["progress_days"], 0);
    assert_eq!(c["last_check_in_date"], Value::Null);
    assert!(c["created_at"].as_str().unwrap().ends_with('Z'));
    assert!(c["id"].is_string() && c["updated_at"].is_string());

    let (_, in_utc) = person_in(&h, "UTC").await;
    let c = expect(&h, &in_utc, "POST", "", json!({ "title": "산책", "target_days": 7, "description": "매일 20분", "start_date": "2026-02-01" }), 201).await;
    assert_eq!(c["start_date"], "2026-02-01", "29 days ago in UTC");
    assert_eq!(c["description"], "매일 20분");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_bad_challenge_gets_one_422_naming_every_field(pool: PgPool) {
    let h = harness(pool);
    at(&h, "2026-03-31T12:00:00Z");
    let (_, token) = person_in(&h, "UTC").await;
    let body = json!({ "title": " ", "target_days": 366, "description": "가".repeat(501), "start_date": "2026-02-28" });
    let a = h.call("POST", "", Some(&token), body).await;
    let error = assert_error(&a, 422, "VALIDATION_ERROR");
    let fields = &error["details"]["fields"];
    for field in ["title", "target_days", "description", "start_date"] {
        assert!(fields[field].is_array(), "{field}: {error}");
    }
    for body in [
        json!({ "title": "t", "target_days": 0 }),
        json!({ "title": "t" }),
        json!({ "title": "t", "target_days": 3, "start_date": "2026-13-01" }),
        json!({ "title": "t", "target_days": 3, "status": "active" }),
        json!({ "title": "가".repeat(51), "target_days": 3 }),
    ] {
        let a = h.call("POST", "", Some(&token), body.clone()).await;
        assert_error(&a, 422, "VALIDATION_ERROR");
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM challenges")
        .fetch_one(&h.admin)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

/// One check-in per local day: Seoul's midnight is 15:00 UTC, UTC's is 00:00.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn check_ins_count_once_a_local_day_across_midnight(pool: PgPool) {
    let h = harness(pool);
    at(&h, "2026-03-02T10:00:00Z");
    let (_, seoul) = person_in(&h, "Asia/Seoul").await;
    let (_, utc) = person_in(&h, "UTC").await;
    let in_seoul = start(&h, &seoul, "일기", 10).await;
    let in_utc = start(&h, &utc, "일기", 10).await;

    at(&h, "2026-03-02T14:59:59Z"); // 23:59:59 in Seoul, 2 March
    for (token, id) in [(&seoul, &in_seoul), (&utc, &in_utc)] {
        let a = check_in(&h, token, id).await;
        assert_eq!(a.status, 200, "{}", a.body);
        assert_eq!(a.body["data"]["last_check_in_date"], "2026-03-02");
        assert_eq!(a.body["data"]["progress_days"], 1);
    }
    at(&h, "2026-03-02T15:00:00Z"); // midnight in Seoul: 3 March there, still 2 March in UTC
    let a = check_in(&h, &seoul, &in_seoul).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["data"]["last_check_in_date"], "2026-03-03");
    assert_eq!(a.body["data"]["progress_days"], 2);
    refused(&check_in(&h, &seoul, &in_seoul).await, "already_checked_in");
    refused(&check_in(&h, &utc, &in_utc).await, "already_checked_in");
    at(&h, "2026-03-03T00:00:00Z");
    assert_eq!(check_in(&h, &utc, &in_utc).await.status, 200);

    let days: Vec<String> = sqlx::query_scalar(
        "SELECT day::text FROM challenge_check_ins WHERE challenge_id = $1::uuid ORDER BY day",
    )
    .bind(&in_seoul)
    .fetch_all(&h.admin)
    .await
    .unwrap();
    assert_eq!(days, ["2026-03-02", "2026-03-03"], "one row a local day");
}

/// New York: 8 March 2026 skips 02:00-03:00, 1 November repeats 01:00-02:00.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_dst_zone_counts_its_own_days(pool: PgPool) {
    let h = harness(pool);
    at(&h, "2026-03-07T12:00:00Z");
    let (_, token) = person_in(&h, "America/New_York").await;
    let id = start(&h, &token, "명상", 100).await;
    let mut days = Vec::new();
    for (instant, ok) in [
        ("2026-03-08T04:59:00Z", true),  // 23:59 EST, 7 March
        ("2026-03-08T05:00:00Z", true),  // 00:00 EST, 8 March
        ("2026-03-08T07:30:00Z", false), // 03:30 EDT, still 8 March
        ("2026-03-09T03:59:00Z", false), // 23:59 EDT, 8 March
        ("2026-03-09T04:00:00Z", true),  // 00:00 EDT, 9 March
    ] {
        at(&h, instant);
        let a = check_in(&h, &token, &id).await;
        if ok {
            assert_eq!(a.status, 200, "{instant}: {}", a.body);
            days.push(
                a.body["data"]["last_check_in_date"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        } else {
            refused(&a, "already_checked_in");
        }
    }
    assert_eq!(days, ["2026-03-07", "2026-03-08", "2026-03-09"]);

    at(&h, "2026-11-01T04:00:00Z"); // 00:00 EDT, 1 November
    assert_eq!(check_in(&h, &token, &id).await.status, 200);
    at(&h, "2026-11-01T06:30:00Z"); // 01:30 EST: the repeated hour, the same day
    refused(&check_in(&h, &token, &id).await, "already_checked_in");
    at(&h, "2026-11-02T04:59:00Z"); // 23:59 EST, 1 November
    refused(&check_in(&h, &token, &id).await, "already_checked_in");
    at(&h, "2026-11-02T05:00:00Z"); // 00:00 EST, 2 November
    let a = check_in(&h, &token, &id).await;
    assert_eq!(a.body["data"]["last_check_in_date"], "2026-11-02");
    assert_eq!(a.body["data"]["progress_days"], 5);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn moving_to_another_time_zone_rewrites_no_past_day(pool: PgPool) {
    let h = harness(pool);
    at(&h, "2026-03-02T15:30:00Z"); // 00:30 on 3 March in Seoul
    let (me, token) = person_in(&h, "Asia/Seoul").await;
    let c = expect(
        &h,
        &token,
        "POST",
        "",
        json!({ "title": "운동", "target_days": 10, "start_date": "2026-03-01" }),
        201,
    )
    .await;
    let id = c["id"].as_str().unwrap().to_owned();
    assert_eq!(check_in(&h, &token, &id).await.status, 200);
    // In Los Angeles it is 07:30 on 2 March: a day before the one already counted.
    move_to(&h, me, "America/Los_Angeles").await;
    refused(&check_in(&h, &token, &id).await, "already_checked_in");
    at(&h, "2026-03-04T08:00:00Z"); // 00:00 on 4 March in Los Angeles
    let a = check_in(&h, &token, &id).await;
    assert_eq!(a.body["data"]["last_check_in_date"], "2026-03-04");
    let days: Vec<String> = sqlx::query_scalar(
        "SELECT day::text FROM challenge_check_ins WHERE challenge_id = $1::uuid ORDER BY day",
    )
    .bind(&id)
    .fetch_all(&h.admin)
    .await
    .unwrap();
    assert_eq!(days, ["2026-03-03", "2026-03-04"]);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn no_check_in_before_the_start_or_after_the_end(pool: PgPool) {
    let h = harness(pool);
    at(&h, "2026-03-02T12:00:00Z");
    let (_, token) = person_in(&h, "UTC").await;
    let later = expect(
        &h,
        &token,
        "POST",
        "",
        json!({ "title": "다음 주부터", "target_days": 3, "start_date": "2026-03-09" }),
        201,
    )
    .await;
    refused(
        &check_in(&h, &token, later["id"].as_str().unwrap()).await,
        "not_started",
    );
    let id = start(&h, &token, "그만둘 것", 3).await;
    expect(
        &h,
        &token,
        "PATCH",
        &format!("/{id}"),
        json!({ "status": "abandoned" }),
        200,
    )
    .await;
    refused(&check_in(&h, &token, &id).await, "not_active");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn reaching_the_target_completes_it_and_tells_the_person_atomically(pool: PgPool) {
    let h = harness(pool);
    at(&h, "2026-03-02T12:00:00Z");
    let (me, token) = person_in(&h, "UTC").await;
    let id = start(&h, &token, "감사 일기", 2).await;
    assert_eq!(check_in(&h, &token, &id).await.status, 200);

    // The notification cannot be written: the completing check-in leaves nothing behind.
    sqlx::query("REVOKE INSERT ON notifications FROM mindpause_challenges")
        .execute(&h.admin)
        .await
        .unwrap();
    at(&h, "2026-03-03T12:00:00Z");
    let failed = check_in(&h, &token, &id).await;
    assert_error(&failed, 500, "INTERNAL_ERROR");
    let (progress, status, rows): (i32, String, i64) = sqlx::query_as(
        "SELECT progress_days, status, (SELECT count(*) FROM challenge_check_ins WHERE challenge_id = c.id)
         FROM challenges c WHERE id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&h.admin)
    .await
    .unwrap();
    assert_eq!(
        (progress, status.as_str(), rows),
        (1, "active", 1),
        "rolled back"
    );

    sqlx::query("GRANT INSERT ON notifications TO mindpause_challenges")
        .execute(&h.admin)
        .await
        .unwrap();
    let done = check_in(&h, &token, &id).await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert_eq!(done.body["data"]["status"], "completed");
    assert_eq!(done.body["data"]["progress_days"], 2);
    let told: Vec<(String, Value, String)> =
        sqlx::query_as("SELECT kind, data, title FROM notifications WHERE user_id = $1")
            .bind(me)
            .fetch_all(&h.admin)
            .await
            .unwrap();
    assert_eq!(
        told,
        [(
            "challenge".to_owned(),
            json!({ "challenge_id": id }),
            "챌린지를 완료했어요!".to_owned()
        )]
    );
    at(&h, "2026-03-04T12:00:00Z");
    refused(&check_in(&h, &token, &id).await, "not_active");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn status_moves_follow_the_state_machine(pool: PgPool) {
    let h = harness(pool);
    at(&h, "2026-03-02T12:00:00Z");
    let (me, token) = person_in(&h, "UTC").await;
    let id = start(&h, &token, "책 읽기", 30).await;
    let path = format!("/{id}");
    let patch = |body: Value| h.call("PATCH", &path, Some(&token), body);

    assert_eq!(check_in(&h, &token, &id).await.status, 200);
    let a = patch(json!({ "status": "abandoned" })).await;
    assert_eq!(a.body["data"]["status"], "abandoned");
    let a = patch(json!({ "status": "active" })).await;
    assert_eq!(a.body["data"]["status"], "active", "resumed");
    assert_eq!(a.body["data"]["progress_days"], 1, "progress kept");
    let a = patch(json!({ "status": "completed", "title": "책 한 권 읽기" })).await;
    assert_eq!(a.body["data"]["status"], "completed");
    assert_eq!(a.body["data"]["title"], "책 한 권 읽기");
    for next in ["active", "abandoned"] {
        refused(
            &patch(json!({ "status": next })).await,
            "status_change_not_allowed",
        );
    }
    assert_eq!(
        patch(json!({ "status": "completed" })).await.status,
        200,
        "staying is fine"
    );
    assert!(
        sqlx::query_scalar::<_, i64>("SELECT count(*) FROM notifications WHERE user_id = $1")
            .bind(me)
            .fetch_one(&h.admin)
            .await
            .unwrap()
            == 0,
        "completing it by hand sends nothing"
    );

    for body in [
        json!({ "status": "paused" }),
        json!({ "status": null }),
        json!({ "check_in": false }),
        json!({ "check_in": true, "status": "active" }),
        json!({ "title": "" }),
        json!({ "progress_days": 5 }),
    ] {
        assert_error(&patch(body).await, 422, "VALIDATION_ERROR");
    }
    let cleared = patch(json!({ "description": null })).await;
    assert_eq!(cleared.body["data"]["description"], Value::Null);
}

/// Two devices (ten, really) check in at the same moment: it counts once.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn parallel_check_ins_count_once(pool: PgPool) {
    let h = harness(pool);
    at(&h, "2026-03-02T12:00:00Z");
    let (_, token) = person_in(&h, "Asia/Seoul").await;
    let id = start(&h, &token, "물 2L", 30).await;
    let answers = futures_util::future::join_all((0..10).map(|_| check_in(&h, &token, &id))).await;
    let ok = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(ok, 1);
    for a in answers.iter().filter(|a| a.status != 200) {
        refused(a, "already_checked_in");
    }
    let (progress, rows): (i32, i64) = sqlx::query_as(
        "SELECT progress_days, (SELECT count(*) FROM challenge_check_ins WHERE challenge_id = c.id)
         FROM challenges c WHERE id = $1::uuid",
    )
    .bind(&id)
    .fetch_one(&h.admin)
    .await
    .unwrap();
    assert_eq!((progress, rows), (1, 1));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn someone_elses_challenge_is_not_found_and_untouched(pool: PgPool) {
    let h = harness(pool);
    at(&h, "2026-03-02T12:00:00Z");
    let (_, owner) = person_in(&h, "UTC").await;
    let (_, other) = person_in(&h, "UTC").await;
    let id = start(&h, &owner, "비밀 목표", 5).await;
    for (method, body) in [
        ("PATCH", json!({ "check_in": true })),
        ("PATCH", json!({ "title": "바꿈", "status": "abandoned" })),
        ("DELETE", Value::Null),
    ] {
        let a = h.call(method, &format!("/{id}"), Some(&other), body).await;
        assert_error(&a, 404, "NOT_FOUND");
    }
    let theirs = expect(&h, &other, "GET", "", Value::Null, 200).await;
    assert_eq!(theirs["items"], json!([]));
    let mine = expect(&h, &owner, "GET", "", Value::Null, 200).await;
    let c = &mine["items"][0];
    assert_eq!(
        (
            c["title"].as_str(),
            c["status"].as_str(),
            c["progress_days"].as_i64()
        ),
        (Some("비밀 목표"), Some("active"), Some(0))
    );
    expect(&h, &owner, "DELETE", &format!("/{id}"), Value::Null, 200).await;
    let again = h
        .call("DELETE", &format!("/{id}"), Some(&owner), Value::Null)
        .await;
    assert_error(&again, 404, "NOT_FOUND");
    assert_error(&check_in(&h, &owner, "not-a-uuid").await, 404, "NOT_FOUND");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn challenges_list_newest_first_by_status_in_pages(pool: PgPool) {
    let h = harness(pool);
    at(&h, "2026-03-02T12:00:00Z");
    let (_, token) = person_in(&h, "UTC").await;
    let mut ids = Vec::new();
    for n in 0..5 {
        ids.push(start(&h, &token, &format!("목표 {n}"), 10).await);
    }
    expect(
        &h,
        &token,
        "PATCH",
        &format!("/{}", ids[1]),
        json!({ "status": "abandoned" }),
        200,
    )
    .await;
    let titles = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut seen = Vec::new();
    let mut query = "?status=active&limit=2".to_owned();
    loop {
        let page = expect(&h, &token, "GET", &query, Value::Null, 200).await;
        seen.extend(titles(&page));
        match page["next_cursor"].as_str() {
            Some(c) => query = format!("?status=active&limit=2&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen, ["목표 4", "목표 3", "목표 2", "목표 0"]);
    let abandoned = expect(&h, &token, "GET", "?status=abandoned", Value::Null, 200).await;
    assert_eq!(titles(&abandoned), ["목표 1"]);
    let all = expect(&h, &token, "GET", "?limit=1", Value::Null, 200).await;
    let cursor = all["next_cursor"].as_str().unwrap();
    let a = h
        .call(
            "GET",
            &format!("?status=active&cursor={cursor}"),
            Some(&token),
            Value::Null,
        )
        .await;
    assert_error(&a, 400, "BAD_REQUEST");
    for query in ["?status=paused", "?limit=0"] {
        let a = h.call("GET", query, Some(&token), Value::Null).await;
        assert_error(&a, 422, "VALIDATION_ERROR");
    }
}
