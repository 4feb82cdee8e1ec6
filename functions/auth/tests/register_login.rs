//! Registration and login: every rule of the contract, identical answers for wrong and
//! unknown credentials, and the login limit.

mod common;

use common::*;
use serde_json::{Value, json};
use shared::events::email::Template;
use sqlx::PgPool;

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn register_signs_in_and_sends_the_welcome_email(pool: PgPool) {
    let h = harness(pool, &[("FRONTEND_URL", "https://app.mindpause.kr")]);
    let data = register(&h, "  Sky@Example.COM ", "하늘", "correct horse battery").await;
    let user = &data["user"];
    assert_eq!(user["email"], "sky@example.com");
    assert_eq!(user["nickname"], "하늘");
    assert_eq!(user["role"], "user");
    assert_eq!(user["timezone"], "Asia/Seoul");
    assert_eq!(user["locale"], "ko");
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["providers"], json!(["password"]));
    assert_eq!(user["bio"], serde_json::Value::Null);
    assert!(user.get("password_hash").is_none());
    let tokens = &data["tokens"];
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["expires_in"], 3600);
    assert!(tokens["access_token"].as_str().unwrap().len() > 100);

    let mails = h.mails(1).await;
    assert_eq!(mails.len(), 1);
    let welcome = &mails[0];
    assert_eq!(welcome.template, Template::Welcome);
    assert_eq!(welcome.to, "sky@example.com");
    assert_eq!(welcome.locale, "ko");
    let token = param(welcome, "token");
    assert_eq!(
        param(welcome, "link"),
        format!("https://app.mindpause.kr/verify-email?token={token}")
    );
    assert_eq!(param(welcome, "nickname"), "하늘");

    // The access token works on an authenticated route.
    let a = h
        .call(
            "POST",
            "/resend-verification",
            tokens["access_token"].as_str(),
            serde_json::Value::Null,
        )
        .await;
    assert_ne!(a.status, 401);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn english_clients_get_english_mail(pool: PgPool) {
    let h = harness(pool, &[]);
    let request = json_request(
        "POST",
        &h.path("/register"),
        None,
        Some(&json!({ "email": "en@example.com", "password": "correct horse battery", "nickname": "Sky" }).to_string()),
    );
    let mut request = request;
    request
        .headers_mut()
        .insert("accept-language", "en-US,en;q=0.9".parse().unwrap());
    let a = send(&h.app, request).await;
    assert_eq!(a.body["data"]["user"]["locale"], "en");
    assert_eq!(h.mails(1).await[0].locale, "en");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn emails_and_nicknames_are_unique(pool: PgPool) {
    let h = harness(pool, &[]);
    register(&h, "a@example.com", "Haneul", "correct horse battery").await;
    let again = h.post("/register", json!({ "email": " A@EXAMPLE.com", "password": "correct horse battery", "nickname": "other" })).await;
    assert_error(&again, 409, "EMAIL_TAKEN");
    let same_nick = h.post("/register", json!({ "email": "b@example.com", "password": "correct horse battery", "nickname": "HANEUL" })).await;
    assert_error(&same_nick, 409, "NICKNAME_TAKEN");
    // Nothing half-written: the refused registrations left no rows.
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&h.admin)
        .await
        .unwrap();
    assert_eq!(users, 1);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn bad_registrations_name_every_field(pool: PgPool) {
    let h = harness(pool, &[]);
    for weak in ["short", "aaaaaaaaaaaa", "        ", &"x".repeat(129)] {
        let a = h
            .post(
                "/register",
                json!({ "email": "a@example.com", "password": weak, "nickname": "하늘" }),
            )
            .await;
        let e = assert_error(&a, 422, "VALIDATION_ERROR");
        assert!(e["details"]["fields"]["password"].is_array(), "{weak}: {e}");
    }
    let a = h
        .post(
            "/register",
            json!({ "email": "nope", "password": "x", "nickname": "!" }),
        )
        .await;
    let e = assert_error(&a, 422, "VALIDATION_ERROR");
    for field in ["email", "password", "nickname"] {
        assert!(e["details"]["fields"][field].is_array(), "{field}: {e}");
    }
    let a = h
        .post(
            "/register",
            json!({ "email": "a@example.com", "password": "correct horse battery" }),
        )
        .await;
    assert_eq!(
        assert_error(&a, 422, "VALIDATION_ERROR")["details"]["fields"]["nickname"][0],
        "required"
    );
    let a = h.post("/register", json!({ "email": "a@example.com", "password": "correct horse battery", "nickname": "하늘", "role": "admin" })).await;
    assert_eq!(
        assert_error(&a, 422, "VALIDATION_ERROR")["details"]["fields"]["role"][0],
        "unknown field"
    );
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&h.admin)
        .await
        .unwrap();
    assert_eq!(users, 0);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn wrong_and_unknown_credentials_answer_identically(pool: PgPool) {
    let h = harness(pool, &[]);
    register(&h, "a@example.com", "하늘", "correct horse battery").await;
    let ok = h
        .post(
            "/login",
            json!({ "email": "A@example.com ", "password": "correct horse battery" }),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_eq!(ok.body["data"]["user"]["email"], "a@example.com");
    assert!(ok.body["data"]["tokens"]["refresh_token"].is_string());

    let wrong = h
        .post(
            "/login",
            json!({ "email": "a@example.com", "password": "wrong horse battery" }),
        )
        .await;
    let unknown = h
        .post(
            "/login",
            json!({ "email": "b@example.com", "password": "wrong horse battery" }),
        )
        .await;
    let strip = |mut v: serde_json::Value| {
        v.as_object_mut().unwrap().remove("timestamp");
        v
    };
    assert_error(&wrong, 401, "INVALID_CREDENTIALS");
    assert_eq!(strip(wrong.body.clone()), strip(unknown.body.clone()));
    assert_eq!(wrong.status, unknown.status);
}

/// Each account brings limits of its own: one address opens a bounded number of them.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn one_address_opens_a_bounded_number_of_accounts(pool: PgPool) {
    let h = harness(pool, &[("RATE_LIMIT_REGISTER", "3/hour")]);
    let body = |n: u8| json!({ "email": format!("many{n}@example.com"), "password": "correct horse battery", "nickname": format!("여럿{n}") });
    // A refused attempt counts too.
    let bad = h
        .call_from(
            [10, 1, 1, 1],
            "POST",
            "/register",
            None,
            json!({ "email": "x", "password": "short", "nickname": "n" }),
        )
        .await;
    assert_eq!(bad.status, 422, "{}", bad.body);
    assert_eq!(bad.headers["ratelimit-limit"], "3");
    for n in 0..2 {
        let a = h
            .call_from([10, 1, 1, 1], "POST", "/register", None, body(n))
            .await;
        assert_eq!(a.status, 201, "{}", a.body);
    }
    let fourth = h
        .call_from([10, 1, 1, 1], "POST", "/register", None, body(2))
        .await;
    assert_error(&fourth, 429, "RATE_LIMITED");
    let elsewhere = h
        .call_from([10, 1, 1, 2], "POST", "/register", None, body(2))
        .await;
    assert_eq!(elsewhere.status, 201, "another address is counted apart");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_sixth_login_attempt_is_limited(pool: PgPool) {
    let h = Harness::with_cache(pool, "auth", auth::routes(), &[], redis_cache());
    let tag = uuid::Uuid::new_v4().simple().to_string();
    let email = format!("{}@example.com", &tag[..12]);
    register(&h, &email, &tag[..10], "correct horse battery").await;
    // Per email from one address: every attempt counts (successes too).
    let from = |i: u8| [10, 9, tag.as_bytes()[0], i];
    for i in 0..5u8 {
        let password = if i == 2 {
            "correct horse battery"
        } else {
            "wrong horse battery"
        };
        let body = json!({ "email": email, "password": password });
        let a = h.call_from(from(1), "POST", "/login", None, body).await;
        assert_ne!(a.status, 429, "attempt {}", i + 1);
        assert_eq!(a.headers["ratelimit-limit"], "5");
    }
    let right = json!({ "email": email, "password": "correct horse battery" });
    let sixth = h
        .call_from(from(1), "POST", "/login", None, right.clone())
        .await;
    assert_error(&sixth, 429, "RATE_LIMITED");
    let retry: u64 = sixth.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry));
    // Issue 12: a stranger cannot lock the account: from elsewhere its owner signs in.
    let owner = h
        .call_from(from(2), "POST", "/login", None, right.clone())
        .await;
    assert_eq!(owner.status, 200, "{}", owner.body);
    // Guesses spread over many addresses meet the email's ceiling (ten times the limit).
    let wrong = json!({ "email": email, "password": "wrong horse battery" });
    let mut statuses = Vec::new();
    for i in 3..60u8 {
        let a = h
            .call_from(from(i), "POST", "/login", None, wrong.clone())
            .await;
        statuses.push(a.status.as_u16());
    }
    // Seven attempts so far; the 50th overall is the last allowed.
    assert_eq!(statuses.iter().filter(|s| **s == 401).count(), 43);
    assert!(statuses[43..].iter().all(|s| *s == 429), "{statuses:?}");

    // Per address: one address trying many emails.
    let peer = [10, 8, tag.as_bytes()[0], tag.as_bytes()[1]];
    for i in 0..5 {
        let a = h
            .call_from(
                peer,
                "POST",
                "/login",
                None,
                json!({ "email": format!("{i}-{tag}@example.com"), "password": "whatever pass" }),
            )
            .await;
        assert_error(&a, 401, "INVALID_CREDENTIALS");
    }
    let sixth = h
        .call_from(
            peer,
            "POST",
            "/login",
            None,
            json!({ "email": format!("x-{tag}@example.com"), "password": "whatever pass" }),
        )
        .await;
    assert_error(&sixth, 429, "RATE_LIMITED");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn suspended_accounts_are_refused_everywhere(pool: PgPool) {
    let h = harness(pool, &[]);
    let data = register(&h, "a@example.com", "하늘", "correct horse battery").await;
    let access = data["tokens"]["access_token"].as_str().unwrap().to_owned();
    let refresh = data["tokens"]["refresh_token"].as_str().unwrap().to_owned();
    let resend = || h.call("POST", "/resend-verification", Some(&access), Value::Null);
    // The session was used: its gate is cached as open until the suspension replaces it.
    let me = resend().await;
    assert_eq!(me.status, 429, "{}", me.body);
    let user = session_user(&h, &access);
    let mut tx = h.admin.begin().await.unwrap();
    let suspension = shared::domain::accounts::suspend(&mut tx, user, None, "test")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    suspension.announce(&h.state).await;
    // Suspending revokes every session (API.md): lifting it later brings none back.
    let live: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM sessions WHERE user_id = $1 AND revoked_at IS NULL",
    )
    .bind(user)
    .fetch_one(&h.admin)
    .await
    .unwrap();
    assert_eq!(live, 0);

    let login = h
        .post(
            "/login",
            json!({ "email": "a@example.com", "password": "correct horse battery" }),
        )
        .await;
    assert_error(&login, 403, "ACCOUNT_SUSPENDED");
    // A wrong password does not reveal the suspension.
    let wrong = h
        .post(
            "/login",
            json!({ "email": "a@example.com", "password": "wrong horse battery" }),
        )
        .await;
    assert_error(&wrong, 401, "INVALID_CREDENTIALS");
    assert_error(
        &h.post("/refresh", json!({ "refresh_token": refresh }))
            .await,
        403,
        "ACCOUNT_SUSPENDED",
    );
    assert_error(&resend().await, 403, "ACCOUNT_SUSPENDED");

    // A suspension with an end says when; once it has passed, login works by itself.
    sqlx::query("UPDATE users SET suspended_until = '2999-01-01T00:00:00Z' WHERE id = $1")
        .bind(user)
        .execute(&h.admin)
        .await
        .unwrap();
    let login = h
        .post(
            "/login",
            json!({ "email": "a@example.com", "password": "correct horse battery" }),
        )
        .await;
    let error = assert_error(&login, 403, "ACCOUNT_SUSPENDED");
    assert_eq!(error["details"]["suspended_until"], "2999-01-01T00:00:00Z");
    sqlx::query("UPDATE users SET suspended_until = now() - interval '1 second' WHERE id = $1")
        .bind(user)
        .execute(&h.admin)
        .await
        .unwrap();
    let login = h
        .post(
            "/login",
            json!({ "email": "a@example.com", "password": "correct horse battery" }),
        )
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
}

fn session_user(h: &Harness, access: &str) -> uuid::Uuid {
    let claims: shared::auth::AccessClaims = h
        .state
        .tokens
        .verify(shared::auth::TokenKind::Access, access)
        .unwrap();
    claims.sub
}

/// Issue 12 (M1): anonymous routes count the client address, whatever bearer comes along.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn bearers_buy_no_budget_on_anonymous_routes(pool: PgPool) {
    let h = harness(pool, &[("RATE_LIMIT_GENERAL", "3/minute")]);
    let mut statuses = Vec::new();
    for _ in 0..10 {
        let (_, token) = h.person().await;
        let body = json!({ "email": "someone@example.com" });
        let a = h
            .call_from(
                [10, 7, 7, 7],
                "POST",
                "/forgot-password",
                Some(&token),
                body,
            )
            .await;
        statuses.push(a.status.as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429, 429, 429, 429, 429, 429]);
}
