//! The admin function: who gets in, search, suspension, moderation, the audit trail and the
//! statistics.

use serde_json::{Value, json};
use shared::auth::Role;
use shared::domain::accounts::{self, Email, Tokens};
use shared::testing::*;
use sqlx::PgPool;
use uuid::Uuid;

fn harness(pool: PgPool) -> Harness {
    Harness::new(
        pool,
        "admin",
        admin::routes(),
        &[("RATE_LIMIT_GENERAL", "100000/minute")],
    )
}

/// Someone named `nickname` (email `<nickname>@example.com`) of `role`, signed in: their id
/// and tokens.
async fn someone(h: &Harness, nickname: &str, role: Role) -> (Uuid, Tokens) {
    let id = Uuid::now_v7();
    let mut tx = h.admin.begin().await.unwrap();
    sqlx::query(
        "INSERT INTO users (id, email, nickname, role, password_hash) VALUES ($1, $2, $3, $4, 'x')",
    )
    .bind(id)
    .bind(format!("{}@example.com", nickname.to_lowercase()))
    .bind(nickname)
    .bind(role)
    .execute(&mut *tx)
    .await
    .unwrap();
    let tokens = accounts::sessions::start(&h.state, &mut tx, id, role)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (id, tokens)
}

async fn expect(
    h: &Harness,
    token: &str,
    method: &str,
    path: &str,
    body: Value,
    status: u16,
) -> Value {
    let a = h.call(method, path, Some(token), body).await;
    assert_eq!(a.status, status, "{method} {path}: {}", a.body);
    a.body["data"].clone()
}

/// A post by `author` with `comments` comments by `commenter`, made the way community makes
/// them; the post's id and the comments' ids.
async fn post_with_comments(
    h: &Harness,
    author: Uuid,
    commenter: Uuid,
    comments: usize,
) -> (Uuid, Vec<Uuid>) {
    use shared::domain::community::{Category, comments as c, posts};
    use shared::domain::notifications::Localized;
    let post = posts::publish(
        &h.admin,
        author,
        posts::NewPost {
            title: "오늘의 글".into(),
            content: "내용".into(),
            category: Category::Free,
            is_anonymous: false,
        },
    )
    .await
    .unwrap();
    let mut ids = Vec::new();
    for n in 0..comments {
        let text = format!("댓글 {n}");
        let title = Localized {
            ko: "새 댓글",
            en: "New comment",
        };
        let comment = c::write(&h.admin, commenter, post.id, &text, false, title, &text)
            .await
            .unwrap()
            .unwrap();
        ids.push(comment.id);
    }
    (post.id, ids)
}

async fn audit_rows(h: &Harness) -> Vec<(String, Uuid, Option<String>)> {
    sqlx::query_as("SELECT action, target_id, reason FROM admin_audit ORDER BY id")
        .fetch_all(&h.admin)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn only_admins_reach_admin_routes_and_a_demotion_counts_at_once(pool: PgPool) {
    let h = harness(pool);
    let (_, user) = someone(&h, "평범한사람", Role::User).await;
    let (admin_id, admin) = someone(&h, "운영자", Role::Admin).await;
    let some = Uuid::now_v7();
    let routes = [
        ("GET", "/users".to_owned(), Value::Null),
        (
            "PATCH",
            format!("/users/{some}/suspend"),
            json!({ "suspended": true, "reason": "x" }),
        ),
        ("DELETE", format!("/posts/{some}"), Value::Null),
        ("DELETE", format!("/comments/{some}"), Value::Null),
        ("GET", "/stats".to_owned(), Value::Null),
        ("GET", "/audit".to_owned(), Value::Null),
    ];
    for (method, path, body) in &routes {
        let anonymous = h.call(method, path, None, body.clone()).await;
        assert_error(&anonymous, 401, "UNAUTHORIZED");
        let a = h
            .call(method, path, Some(&user.access_token), body.clone())
            .await;
        assert_error(&a, 403, "FORBIDDEN");
    }
    expect(&h, &admin.access_token, "GET", "/stats", Value::Null, 200).await;

    // Ops demote with plain SQL: the very next request is refused, same token.
    sqlx::query("UPDATE users SET role = 'user' WHERE id = $1")
        .bind(admin_id)
        .execute(&h.admin)
        .await
        .unwrap();
    let a = h
        .call("GET", "/stats", Some(&admin.access_token), Value::Null)
        .await;
    assert_error(&a, 403, "FORBIDDEN");

    // The command promotes (old tokens, of the old role, are refused) and demotes.
    let email = Email::parse("평범한사람@example.com").unwrap();
    let promoted = admin::roles::change(&h.state, &email, Role::Admin)
        .await
        .unwrap();
    assert!(promoted.is_some());
    let stale = h
        .call("GET", "/stats", Some(&user.access_token), Value::Null)
        .await;
    assert_error(&stale, 401, "UNAUTHORIZED");
    let missing = Email::parse("nobody@example.com").unwrap();
    assert_eq!(
        admin::roles::change(&h.state, &missing, Role::Admin)
            .await
            .unwrap(),
        None
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn search_finds_people_by_part_of_an_email_or_nickname(pool: PgPool) {
    let h = harness(pool);
    let (_, admin) = someone(&h, "운영자", Role::Admin).await;
    for nickname in ["하늘바다", "SkyWalker", "바다거북", "moon_light", "별빛"] {
        someone(&h, nickname, Role::User).await;
    }
    let names = |page: &Value| -> Vec<String> {
        let mut names: Vec<String> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["nickname"].as_str().unwrap().to_owned())
            .collect();
        names.sort();
        names
    };
    let token = &admin.access_token;
    for (q, expected) in [
        ("walk", vec!["SkyWalker"]),
        ("SKYW", vec!["SkyWalker"]),
        ("바다", vec![]),       // two characters: exact only
        ("별빛", vec!["별빛"]), // …which this is
        ("하늘바", vec!["하늘바다"]),
        ("바다거", vec!["바다거북"]),
        (
            "example.com",
            vec![
                "SkyWalker",
                "moon_light",
                "바다거북",
                "별빛",
                "운영자",
                "하늘바다",
            ],
        ),
        ("n_l", vec!["moon_light"]), // `_` is a character, not a wildcard
        ("%%%", vec![]),
    ] {
        let page = expect(
            &h,
            token,
            "GET",
            &format!("/users?q={}", encode(q)),
            Value::Null,
            200,
        )
        .await;
        assert_eq!(names(&page), expected, "q={q}");
    }
    let page = expect(&h, token, "GET", "/users?q=sky", Value::Null, 200).await;
    let person = &page["items"][0];
    for field in [
        "id",
        "email",
        "nickname",
        "role",
        "created_at",
        "status",
        "suspended_until",
        "suspension_reason",
        "last_active_at",
    ] {
        assert!(person.get(field).is_some(), "{field}: {person}");
    }
    assert_eq!(person["status"], "active");
    assert_eq!(person["providers"], json!(["password"]));
    // Nothing but the email and nickname is searched: no hash can be probed.
    sqlx::query("UPDATE users SET password_hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA'")
        .execute(&h.admin)
        .await
        .unwrap();
    for q in ["argon2id", "c2FsdA", "m=19456"] {
        let page = expect(
            &h,
            token,
            "GET",
            &format!("/users?q={}", encode(q)),
            Value::Null,
            200,
        )
        .await;
        assert_eq!(page["items"], json!([]), "q={q}");
    }
    let everything = expect(&h, token, "GET", "/users?limit=100", Value::Null, 200).await;
    let text = everything.to_string();
    assert!(
        !text.contains("password_hash") && !text.contains("refresh"),
        "{text}"
    );
    assert_eq!(everything["items"].as_array().unwrap().len(), 6);

    let mut seen = Vec::new();
    let mut query = "/users?limit=4".to_owned();
    loop {
        let page = expect(&h, token, "GET", &query, Value::Null, 200).await;
        seen.extend(
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["id"].clone()),
        );
        match page["next_cursor"].as_str() {
            Some(c) => query = format!("/users?limit=4&cursor={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6, "pages cover everyone once");
    for query in ["/users?status=banned", "/users?limit=0"] {
        assert_error(
            &h.call("GET", query, Some(token), Value::Null).await,
            422,
            "VALIDATION_ERROR",
        );
    }
}

fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_suspension_ends_every_session_at_once_and_lifting_it_restores_login(pool: PgPool) {
    let h = harness(pool);
    let (admin_id, admin) = someone(&h, "운영자", Role::Admin).await;
    let (other_admin, _) = someone(&h, "다른운영자", Role::Admin).await;
    let (user_id, user) = someone(&h, "문제의사람", Role::User).await;
    let token = &admin.access_token;
    let path = format!("/users/{user_id}/suspend");

    for (body, field) in [
        (json!({ "suspended": true }), "reason"),
        (json!({ "suspended": true, "reason": "  " }), "reason"),
        (
            json!({ "suspended": true, "reason": "x", "until": "2020-01-01T00:00:00Z" }),
            "until",
        ),
        (
            json!({ "suspended": false, "until": "2999-01-01T00:00:00Z" }),
            "until",
        ),
        (
            json!({ "suspended": true, "reason": "가".repeat(501) }),
            "reason",
        ),
    ] {
        let a = h.call("PATCH", &path, Some(token), body).await;
        let error = assert_error(&a, 422, "VALIDATION_ERROR");
        assert!(error["details"]["fields"][field].is_array(), "{error}");
    }
    // Yourself, another admin, nobody.
    for (target, status, code) in [
        (admin_id, 403, "FORBIDDEN"),
        (other_admin, 403, "FORBIDDEN"),
        (Uuid::nil(), 404, "NOT_FOUND"),
    ] {
        let a = h
            .call(
                "PATCH",
                &format!("/users/{target}/suspend"),
                Some(token),
                json!({ "suspended": true, "reason": "x" }),
            )
            .await;
        assert_error(&a, status, code);
    }
    assert!(audit_rows(&h).await.is_empty(), "refused: nothing recorded");

    let until = "2999-01-01T00:00:00Z";
    let person = expect(
        &h,
        token,
        "PATCH",
        &path,
        json!({ "suspended": true, "reason": "욕설", "until": until }),
        200,
    )
    .await;
    assert_eq!(person["status"], "suspended");
    assert_eq!(person["suspension_reason"], "욕설");
    assert_eq!(person["suspended_until"], until);
    // Their access token is refused at once, and so is their refresh token.
    let a = h
        .call("GET", "/stats", Some(&user.access_token), Value::Null)
        .await;
    assert_error(&a, 403, "ACCOUNT_SUSPENDED");
    let refreshed = accounts::sessions::refresh(&h.state, &user.refresh_token).await;
    assert!(
        refreshed.is_err(),
        "the refresh token died with the session"
    );
    let page = expect(
        &h,
        token,
        "GET",
        "/users?status=suspended",
        Value::Null,
        200,
    )
    .await;
    assert_eq!(page["items"].as_array().unwrap().len(), 1);

    // A suspension whose end has passed is over, without any job.
    sqlx::query("UPDATE users SET suspended_until = now() - interval '1 second' WHERE id = $1")
        .bind(user_id)
        .execute(&h.admin)
        .await
        .unwrap();
    let page = expect(
        &h,
        token,
        "GET",
        "/users?status=suspended",
        Value::Null,
        200,
    )
    .await;
    assert_eq!(page["items"], json!([]));

    let lifted = expect(
        &h,
        token,
        "PATCH",
        &path,
        json!({ "suspended": false, "reason": "소명 확인" }),
        200,
    )
    .await;
    assert_eq!(lifted["status"], "active");
    assert_eq!(lifted["suspension_reason"], Value::Null);
    let (_, again) = {
        let mut tx = h.admin.begin().await.unwrap();
        let tokens = accounts::sessions::start(&h.state, &mut tx, user_id, Role::User)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        ((), tokens)
    };
    let a = h
        .call("GET", "/stats", Some(&again.access_token), Value::Null)
        .await;
    assert_error(&a, 403, "FORBIDDEN");
    assert_eq!(
        audit_rows(&h).await,
        [
            ("suspend_user".to_owned(), user_id, Some("욕설".to_owned())),
            (
                "unsuspend_user".to_owned(),
                user_id,
                Some("소명 확인".to_owned())
            ),
        ]
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn moderation_removes_content_corrects_counts_tells_the_author_and_is_audited(pool: PgPool) {
    let h = harness(pool);
    let (_, admin) = someone(&h, "운영자", Role::Admin).await;
    let (author, _) = someone(&h, "글쓴이", Role::User).await;
    let (commenter, _) = someone(&h, "댓글러", Role::User).await;
    let (post, comments) = post_with_comments(&h, author, commenter, 2).await;
    let token = &admin.access_token;

    expect(
        &h,
        token,
        "DELETE",
        &format!("/comments/{}", comments[0]),
        json!({ "reason": "광고" }),
        200,
    )
    .await;
    let count: i32 = sqlx::query_scalar("SELECT comment_count FROM posts WHERE id = $1")
        .bind(post)
        .fetch_one(&h.admin)
        .await
        .unwrap();
    assert_eq!(count, 1);
    let again = h
        .call(
            "DELETE",
            &format!("/comments/{}", comments[0]),
            Some(token),
            Value::Null,
        )
        .await;
    assert_error(&again, 404, "NOT_FOUND");

    // No body at all is fine too.
    expect(
        &h,
        token,
        "DELETE",
        &format!("/posts/{post}"),
        Value::Null,
        200,
    )
    .await;
    let gone = shared::domain::community::posts::get(&h.admin, author, post)
        .await
        .unwrap();
    assert!(gone.is_none(), "gone for everyone");
    let bad = h
        .call(
            "DELETE",
            &format!("/posts/{post}"),
            Some(token),
            json!({ "reason": 5 }),
        )
        .await;
    assert_error(&bad, 422, "VALIDATION_ERROR");

    let told: Vec<(Uuid, String, String, Value)> = sqlx::query_as(
        "SELECT user_id, kind, body, data FROM notifications WHERE kind = 'system' ORDER BY id",
    )
    .fetch_all(&h.admin)
    .await
    .unwrap();
    assert_eq!(told.len(), 2);
    assert_eq!((told[0].0, told[0].1.as_str()), (commenter, "system"));
    assert_eq!(told[0].2, "'오늘의 글': 광고");
    assert_eq!(told[0].3, json!({ "comment_id": comments[0] }));
    assert_eq!(
        (told[1].0, told[1].3.clone()),
        (author, json!({ "post_id": post }))
    );
    assert_eq!(
        audit_rows(&h).await,
        [
            (
                "delete_comment".to_owned(),
                comments[0],
                Some("광고".to_owned())
            ),
            ("delete_post".to_owned(), post, None),
        ]
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_audit_trail_is_append_only_and_exists_exactly_when_its_action_committed(pool: PgPool) {
    let h = harness(pool);
    let (_, admin) = someone(&h, "운영자", Role::Admin).await;
    let (author, _) = someone(&h, "글쓴이", Role::User).await;
    let (post, _) = post_with_comments(&h, author, author, 0).await;

    // The author cannot be told: the removal fails whole, and nothing is recorded.
    sqlx::query("REVOKE INSERT ON notifications FROM mindpause_admin")
        .execute(&h.admin)
        .await
        .unwrap();
    let failed = h
        .call(
            "DELETE",
            &format!("/posts/{post}"),
            Some(&admin.access_token),
            Value::Null,
        )
        .await;
    assert_error(&failed, 500, "INTERNAL_ERROR");
    assert!(audit_rows(&h).await.is_empty());
    assert!(
        shared::domain::community::posts::get(&h.admin, author, post)
            .await
            .unwrap()
            .is_some()
    );
    sqlx::query("GRANT INSERT ON notifications TO mindpause_admin")
        .execute(&h.admin)
        .await
        .unwrap();
    expect(
        &h,
        &admin.access_token,
        "DELETE",
        &format!("/posts/{post}"),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(audit_rows(&h).await.len(), 1);

    // The function's own role may not change it; nor may anyone else.
    for statement in [
        "UPDATE admin_audit SET reason = 'x'",
        "DELETE FROM admin_audit",
    ] {
        let err = sqlx::query(statement)
            .execute(&h.state.db)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("permission denied"), "{err}");
        let err = sqlx::query(statement).execute(&h.admin).await.unwrap_err();
        assert!(err.to_string().contains("append-only"), "{err}");
    }
    assert_eq!(audit_rows(&h).await.len(), 1);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_audit_trail_lists_newest_first_by_admin_or_target(pool: PgPool) {
    let h = harness(pool);
    let (first_id, first) = someone(&h, "첫운영자", Role::Admin).await;
    let (second_id, second) = someone(&h, "둘째운영자", Role::Admin).await;
    let (user, _) = someone(&h, "사용자", Role::User).await;
    let (post, comments) = post_with_comments(&h, user, user, 1).await;
    let suspend = format!("/users/{user}/suspend");
    expect(
        &h,
        &first.access_token,
        "PATCH",
        &suspend,
        json!({ "suspended": true, "reason": "도배" }),
        200,
    )
    .await;
    expect(
        &h,
        &second.access_token,
        "PATCH",
        &suspend,
        json!({ "suspended": false }),
        200,
    )
    .await;
    expect(
        &h,
        &second.access_token,
        "DELETE",
        &format!("/comments/{}", comments[0]),
        Value::Null,
        200,
    )
    .await;
    expect(
        &h,
        &first.access_token,
        "DELETE",
        &format!("/posts/{post}"),
        Value::Null,
        200,
    )
    .await;

    let token = &first.access_token;
    let all = expect(&h, token, "GET", "/audit", Value::Null, 200).await;
    let actions: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "delete_post",
            "delete_comment",
            "unsuspend_user",
            "suspend_user"
        ]
    );
    let entry = &all["items"][3];
    assert_eq!(
        entry["admin"],
        json!({ "id": first_id, "nickname": "첫운영자" })
    );
    assert_eq!(entry["target_type"], "user");
    assert_eq!(entry["target_id"], user.to_string());
    assert_eq!(entry["reason"], "도배");
    let by_second = expect(
        &h,
        token,
        "GET",
        &format!("/audit?admin_id={second_id}"),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(by_second["items"].as_array().unwrap().len(), 2);
    let on_user = expect(
        &h,
        token,
        "GET",
        &format!("/audit?target_id={user}&limit=1"),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(on_user["items"][0]["action"], "unsuspend_user");
    let cursor = on_user["next_cursor"].as_str().unwrap();
    let next = expect(
        &h,
        token,
        "GET",
        &format!("/audit?target_id={user}&limit=1&cursor={cursor}"),
        Value::Null,
        200,
    )
    .await;
    assert_eq!(next["items"][0]["action"], "suspend_user");
    assert_eq!(next["next_cursor"], Value::Null);
    let a = h
        .call(
            "GET",
            &format!("/audit?cursor={cursor}"),
            Some(token),
            Value::Null,
        )
        .await;
    assert_error(&a, 400, "BAD_REQUEST");
    let a = h
        .call("GET", "/audit?admin_id=nope", Some(token), Value::Null)
        .await;
    assert_error(&a, 422, "VALIDATION_ERROR");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn statistics_count_the_week_and_are_cached_for_a_minute(pool: PgPool) {
    let h = harness(pool);
    let (_, admin) = someone(&h, "운영자", Role::Admin).await;
    let (user, _) = someone(&h, "사용자", Role::User).await;
    post_with_comments(&h, user, user, 3).await;
    sqlx::query(
        "INSERT INTO users (id, email, nickname, created_at, last_active_at, status)
         VALUES ($1, 'old@example.com', '오래된사람', now() - interval '30 days', now() - interval '10 days', 'suspended')",
    )
    .bind(Uuid::now_v7())
    .execute(&h.admin)
    .await
    .unwrap();
    sqlx::query("UPDATE users SET last_active_at = now() WHERE id = $1")
        .bind(user)
        .execute(&h.admin)
        .await
        .unwrap();
    let stats = expect(&h, &admin.access_token, "GET", "/stats", Value::Null, 200).await;
    assert_eq!(
        stats,
        json!({
            "users": { "total": 3, "active_7d": 1, "new_7d": 2, "suspended": 1 },
            "emotions_7d": 0, "posts_7d": 1, "comments_7d": 3, "chat_messages_7d": 0
        })
    );
    post_with_comments(&h, user, user, 0).await;
    let cached = expect(&h, &admin.access_token, "GET", "/stats", Value::Null, 200).await;
    assert_eq!(cached["posts_7d"], 1, "a minute old at most");
    h.state.cache.del("admin:stats").await;
    let fresh = expect(&h, &admin.access_token, "GET", "/stats", Value::Null, 200).await;
    assert_eq!(fresh["posts_7d"], 2);
}

/// `admin promote EMAIL` and `admin demote EMAIL` as ops run them.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn ops_promote_and_demote_from_a_shell(pool: PgPool) {
    let h = harness(pool.clone());
    let (id, _) = someone(&h, "새운영자", Role::User).await;
    let database = pool.connect_options().get_database().unwrap().to_owned();
    let url = database_url();
    let url = format!("{}/{database}", url.rsplit_once('/').unwrap().0);
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_admin"))
            .env_clear()
            .env("DATABASE_URL", &url)
            .env("APP_ENV", "test")
            .env("LOG_LEVEL", "error")
            .args(args)
            .output()
            .unwrap()
    };
    let role = || async {
        sqlx::query_scalar::<_, String>("SELECT role FROM users WHERE id = $1")
            .bind(id)
            .fetch_one(&pool)
            .await
            .unwrap()
    };
    let promoted = run(&["promote", "새운영자@example.com"]);
    assert!(
        promoted.status.success(),
        "{}",
        String::from_utf8_lossy(&promoted.stderr)
    );
    let printed: Value = serde_json::from_str(
        String::from_utf8(promoted.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        printed,
        json!({ "id": id, "email": "새운영자@example.com", "role": "admin" })
    );
    assert_eq!(role().await, "admin");
    assert!(run(&["demote", "새운영자@example.com"]).status.success());
    assert_eq!(role().await, "user");
    assert_eq!(
        run(&["promote", "nobody@example.com"]).status.code(),
        Some(2)
    );
    assert_eq!(run(&["promote"]).status.code(), Some(64));
    assert_eq!(run(&["demote", "not an email"]).status.code(), Some(64));
}
