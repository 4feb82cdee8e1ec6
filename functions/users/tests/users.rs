//! `/users/me`: profile, password change and account deletion.

use serde_json::{Value, json};
use shared::auth::Role;
use shared::domain::accounts::{Password, passwords, sessions};
use shared::testing::*;
use sqlx::PgPool;
use uuid::Uuid;

fn harness(pool: PgPool) -> Harness {
    Harness::new(pool, "users", users::routes(), &[])
}

/// A user with a password and a session; returns (id, access token).
async fn person(h: &Harness, email: &str, nickname: &str, password: &str) -> (Uuid, String) {
    let id = Uuid::now_v7();
    let hash = passwords::hash(&Password::parse(password).unwrap())
        .await
        .unwrap();
    sqlx::query("INSERT INTO users (id, email, nickname, password_hash) VALUES ($1, $2, $3, $4)")
        .bind(id)
        .bind(email)
        .bind(nickname)
        .bind(hash)
        .execute(&h.admin)
        .await
        .unwrap();
    (id, sign_in(h, id).await)
}

/// Another session of the same user: its access token.
async fn sign_in(h: &Harness, id: Uuid) -> String {
    let mut conn = h.admin.acquire().await.unwrap();
    sessions::start(&h.state, &mut conn, id, Role::User)
        .await
        .unwrap()
        .access_token
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn me_and_profile_edits(pool: PgPool) {
    let h = harness(pool);
    let (id, token) = person(&h, "a@example.com", "하늘", "correct horse battery").await;
    person(&h, "b@example.com", "바다", "correct horse battery").await;

    let me = h.call("GET", "/me", Some(&token), Value::Null).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.body["data"]["id"], id.to_string());
    assert_eq!(me.body["data"]["providers"], json!(["password"]));

    let edited = h.call("PATCH", "/me", Some(&token), json!({ "nickname": "맑은 하늘", "bio": "  안녕하세요  ", "timezone": "America/New_York", "locale": "en" })).await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    let user = &edited.body["data"];
    assert_eq!(
        (user["nickname"].as_str(), user["bio"].as_str()),
        (Some("맑은 하늘"), Some("안녕하세요"))
    );
    assert_eq!(
        (user["timezone"].as_str(), user["locale"].as_str()),
        (Some("America/New_York"), Some("en"))
    );

    // Absent fields stay; null clears the bio.
    let cleared = h
        .call("PATCH", "/me", Some(&token), json!({ "bio": null }))
        .await;
    assert_eq!(cleared.body["data"]["bio"], Value::Null);
    assert_eq!(cleared.body["data"]["nickname"], "맑은 하늘");
    assert_eq!(
        h.call("PATCH", "/me", Some(&token), json!({})).await.status,
        200
    );

    assert_error(
        &h.call("PATCH", "/me", Some(&token), json!({ "nickname": "바다" }))
            .await,
        409,
        "NICKNAME_TAKEN",
    );
    for (body, field) in [
        (json!({ "bio": "가".repeat(201) }), "bio"),
        (json!({ "timezone": "Mars/Olympus" }), "timezone"),
        (json!({ "timezone": "" }), "timezone"),
        (json!({ "locale": "fr" }), "locale"),
        (json!({ "nickname": null }), "nickname"),
        (json!({ "nickname": "x" }), "nickname"),
        (json!({ "email": "new@example.com" }), "email"),
        (json!({ "role": "admin" }), "role"),
    ] {
        let e = assert_error(
            &h.call("PATCH", "/me", Some(&token), body.clone()).await,
            422,
            "VALIDATION_ERROR",
        );
        assert!(e["details"]["fields"][field].is_array(), "{body}: {e}");
    }
    assert_error(
        &send(&h.app, get("/api/v1/users/me")).await,
        401,
        "UNAUTHORIZED",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn changing_the_password_signs_out_the_rest(pool: PgPool) {
    let h = harness(pool);
    let (id, token) = person(&h, "a@example.com", "하늘", "correct horse battery").await;
    let other_device = sign_in(&h, id).await;

    let wrong = h
        .call(
            "PATCH",
            "/me/password",
            Some(&token),
            json!({ "current_password": "nope nope nope", "new_password": "a brand new secret" }),
        )
        .await;
    assert_eq!(
        assert_error(&wrong, 422, "VALIDATION_ERROR")["details"]["fields"]["current_password"][0],
        "is incorrect"
    );
    let weak = h
        .call(
            "PATCH",
            "/me/password",
            Some(&token),
            json!({ "current_password": "correct horse battery", "new_password": "short" }),
        )
        .await;
    assert!(
        assert_error(&weak, 422, "VALIDATION_ERROR")["details"]["fields"]["new_password"]
            .is_array()
    );
    let same = h.call("PATCH", "/me/password", Some(&token), json!({ "current_password": "correct horse battery", "new_password": "correct horse battery" })).await;
    assert_error(&same, 422, "VALIDATION_ERROR");

    let changed = h.call("PATCH", "/me/password", Some(&token), json!({ "current_password": "correct horse battery", "new_password": "a brand new secret" })).await;
    assert_eq!(changed.status, 200, "{}", changed.body);
    let fresh = changed.body["data"]["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    // Refused at once: the other device, and this session's token from before the change.
    assert_error(
        &h.call("GET", "/me", Some(&other_device), Value::Null).await,
        401,
        "UNAUTHORIZED",
    );
    assert_error(
        &h.call("GET", "/me", Some(&token), Value::Null).await,
        401,
        "UNAUTHORIZED",
    );
    assert_eq!(
        h.call("GET", "/me", Some(&fresh), Value::Null).await.status,
        200
    );
    let hash: String = sqlx::query_scalar("SELECT password_hash FROM users")
        .fetch_one(&h.admin)
        .await
        .unwrap();
    assert!(
        passwords::verify("a brand new secret", Some(&hash))
            .await
            .unwrap()
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn deleting_the_account_removes_the_person(pool: PgPool) {
    let h = harness(pool);
    let (id, token) = person(&h, "a@example.com", "하늘", "correct horse battery").await;
    let other_device = sign_in(&h, id).await;
    let (_, bystander) = person(&h, "b@example.com", "바다", "correct horse battery").await;

    let none = h.call("DELETE", "/me", Some(&token), Value::Null).await;
    assert_eq!(
        assert_error(&none, 422, "VALIDATION_ERROR")["details"]["fields"]["password"][0],
        "required"
    );
    let wrong = h
        .call(
            "DELETE",
            "/me",
            Some(&token),
            json!({ "password": "wrong horse battery" }),
        )
        .await;
    assert_error(&wrong, 422, "VALIDATION_ERROR");
    let deleted = h
        .call(
            "DELETE",
            "/me",
            Some(&token),
            json!({ "password": "correct horse battery" }),
        )
        .await;
    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.body["data"], Value::Null);

    for t in [&token, &other_device] {
        assert_error(
            &h.call("GET", "/me", Some(t), Value::Null).await,
            401,
            "UNAUTHORIZED",
        );
    }
    let rows: i64 = sqlx::query_scalar("SELECT (SELECT count(*) FROM users WHERE id = $1) + (SELECT count(*) FROM sessions WHERE user_id = $1)")
        .bind(id)
        .fetch_one(&h.admin)
        .await
        .unwrap();
    assert_eq!(rows, 0);
    // The email is free again; the others are untouched.
    person(&h, "a@example.com", "새하늘", "correct horse battery").await;
    assert_eq!(
        h.call("GET", "/me", Some(&bystander), Value::Null)
            .await
            .status,
        200
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn accounts_without_a_password_delete_without_one(pool: PgPool) {
    let h = harness(pool);
    let id = Uuid::now_v7();
    sqlx::query(
        "INSERT INTO users (id, email, nickname) VALUES ($1, 'oauth@example.com', '구글사람')",
    )
    .bind(id)
    .execute(&h.admin)
    .await
    .unwrap();
    let token = sign_in(&h, id).await;
    assert_eq!(
        h.call("GET", "/me", Some(&token), Value::Null).await.body["data"]["providers"],
        json!([])
    );
    assert_eq!(
        h.call("DELETE", "/me", Some(&token), Value::Null)
            .await
            .status,
        200
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_new_time_zone_moves_the_journal_days(pool: PgPool) {
    let h = harness(pool);
    let (id, token) = person(&h, "a@example.com", "하늘", "correct horse battery").await;
    // 00:30 on March 2 in Seoul is still March 1 in UTC.
    sqlx::query("INSERT INTO emotion_logs (id, user_id, emotion, intensity, tags, recorded_at) VALUES ($1, $2, 'calm', 3, '{산책}', '2025-03-01T15:30:00Z')")
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
    let days = |h: &Harness| {
        let db = h.state.db.clone();
        async move {
            let day: (String, String) = sqlx::query_as(
                "SELECT (SELECT day::text FROM emotion_days), (SELECT day::text FROM emotion_daily_tags)",
            )
            .fetch_one(&db)
            .await
            .unwrap();
            day
        }
    };
    assert_eq!(
        days(&h).await,
        ("2025-03-02".to_owned(), "2025-03-02".to_owned())
    );
    let moved = h
        .call("PATCH", "/me", Some(&token), json!({ "timezone": "UTC" }))
        .await;
    assert_eq!(moved.status, 200, "{}", moved.body);
    assert_eq!(
        days(&h).await,
        ("2025-03-01".to_owned(), "2025-03-01".to_owned())
    );
}

/// Issue 12: a stolen access token does not buy unlimited password guesses.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn password_guesses_with_a_token_are_limited_like_logins(pool: PgPool) {
    let h = Harness::new(
        pool,
        "users",
        users::routes(),
        &[("RATE_LIMIT_LOGIN", "3/minute")],
    );
    let (_, token) = person(&h, "a@example.com", "하늘", "correct horse battery").await;
    let guess = |password: &str| {
        h.call(
            "DELETE",
            "/me",
            Some(&token),
            json!({ "password": password }),
        )
    };
    let change = || {
        h.call(
            "PATCH",
            "/me/password",
            Some(&token),
            json!({ "current_password": "guess", "new_password": "a brand new secret" }),
        )
    };
    assert_error(&guess("guess one").await, 422, "VALIDATION_ERROR");
    assert_error(&change().await, 422, "VALIDATION_ERROR");
    assert_error(&guess("guess three").await, 422, "VALIDATION_ERROR");
    // The fourth attempt is refused, even with the right password.
    let limited = assert_error(&guess("correct horse battery").await, 429, "RATE_LIMITED");
    assert!(limited.is_object());
    assert_error(&change().await, 429, "RATE_LIMITED");
    assert_eq!(
        h.call("GET", "/me", Some(&token), Value::Null).await.status,
        200,
        "the account is still there"
    );
}

/// Logs written while the time zone changes back and forth land on the days of the zone that
/// won: the rollup always equals one rebuilt from the logs.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn logs_written_during_time_zone_changes_keep_the_rollup_exact(pool: PgPool) {
    use shared::domain::journal::{self, Emotion, NewLog};
    let h = harness(pool);
    let (id, token) = person(&h, "tz@example.com", "시차", "correct horse battery").await;
    // Around Seoul's midnight (15:00 UTC), where the zone decides the day.
    let start = chrono::DateTime::parse_from_rfc3339("2025-03-01T14:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    let writer = {
        let db = h.admin.clone();
        tokio::spawn(async move {
            for i in 0..150 {
                let tags = vec![format!("태그{}", i % 3)];
                let written: Option<(Uuid,)> = journal::record(
                    &db,
                    &NewLog {
                        id: Uuid::now_v7(),
                        user_id: id,
                        emotion: Emotion::ALL[i % 10],
                        intensity: 1 + (i % 5) as i16,
                        note: None,
                        tags: &tags,
                        recorded_at: start + chrono::Duration::minutes(i as i64),
                    },
                )
                .await
                .unwrap();
                assert!(written.is_some());
            }
        })
    };
    for zone in [
        "America/New_York",
        "Asia/Seoul",
        "UTC",
        "Asia/Seoul",
        "Pacific/Auckland",
        "UTC",
    ] {
        let moved = h
            .call("PATCH", "/me", Some(&token), json!({ "timezone": zone }))
            .await;
        assert_eq!(moved.status, 200, "{}", moved.body);
    }
    writer.await.unwrap();

    let rollup = |db: PgPool| async move {
        let days: Vec<(String, i32, Vec<i32>, Vec<i32>)> = sqlx::query_as(
            "SELECT day::text, n, counts, intensity_sums FROM emotion_days WHERE n <> 0 ORDER BY day",
        )
        .fetch_all(&db)
        .await
        .unwrap();
        let tags: Vec<(String, String, i32)> = sqlx::query_as(
            "SELECT day::text, tag, n FROM emotion_daily_tags WHERE n <> 0 ORDER BY day, tag",
        )
        .fetch_all(&db)
        .await
        .unwrap();
        (days, tags)
    };
    let kept = rollup(h.admin.clone()).await;
    let mut conn = h.admin.acquire().await.unwrap();
    journal::rebuild(&mut conn, id).await.unwrap();
    drop(conn);
    assert_eq!(kept, rollup(h.admin.clone()).await);
    assert_eq!(kept.0.iter().map(|d| d.1).sum::<i32>(), 150);
}
