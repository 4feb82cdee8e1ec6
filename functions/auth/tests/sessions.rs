//! Refresh rotation and reuse, logout, password reset and email verification: tokens are
//! single-use, expire, and revoked access tokens are refused at once.

mod common;

use common::*;
use serde_json::{Value, json};
use shared::AppState;
use shared::auth::{AccessClaims, Role, TokenKind};
use shared::cache::Cache;
use shared::domain::accounts::{self, Email, emails};
use shared::events::email::Template;
use sqlx::PgPool;

fn tokens(data: &Value) -> (String, String) {
    let t = if data.get("tokens").is_some() {
        &data["tokens"]
    } else {
        data
    };
    (
        t["access_token"].as_str().unwrap().to_owned(),
        t["refresh_token"].as_str().unwrap().to_owned(),
    )
}

/// Passes the token check (200, or 429 for resending too soon).
async fn assert_authenticated(h: &Harness, access: &str) {
    let status = probe(h, access).await.status.as_u16();
    assert!(status == 200 || status == 429, "{status}");
}

/// An authenticated call: 200 while the token is good.
async fn probe(h: &Harness, access: &str) -> Answer {
    h.call("POST", "/resend-verification", Some(access), Value::Null)
        .await
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn refresh_rotates_and_reuse_revokes_the_session(pool: PgPool) {
    let h = harness(pool, &[]);
    let (access0, refresh0) =
        tokens(&register(&h, "a@example.com", "하늘", "correct horse battery").await);

    let first = h
        .post("/refresh", json!({ "refresh_token": refresh0 }))
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    let (access1, refresh1) = tokens(&first.body["data"]);
    assert_ne!(refresh1, refresh0);
    assert_authenticated(&h, &access1).await;

    // Within the grace, the rotated-out token still works (a client's concurrent refresh)...
    let racing = h
        .post("/refresh", json!({ "refresh_token": refresh0 }))
        .await;
    assert_eq!(racing.status, 200, "{}", racing.body);
    // ...after it, it is reuse: 401 TOKEN_REUSED and the whole session is revoked.
    sqlx::query("UPDATE sessions SET rotated_at = now() - interval '11 seconds'")
        .execute(&h.admin)
        .await
        .unwrap();
    assert_error(
        &h.post("/refresh", json!({ "refresh_token": refresh0 }))
            .await,
        401,
        "TOKEN_REUSED",
    );
    assert_error(
        &h.post("/refresh", json!({ "refresh_token": refresh1 }))
            .await,
        401,
        "UNAUTHORIZED",
    );
    for access in [&access0, &access1] {
        assert_error(&probe(&h, access).await, 401, "UNAUTHORIZED");
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn two_racing_refreshes_from_one_client_both_succeed(pool: PgPool) {
    let h = harness(pool, &[]);
    let (_, refresh) =
        tokens(&register(&h, "a@example.com", "하늘", "correct horse battery").await);
    let body = json!({ "refresh_token": refresh });
    let (x, y) = tokio::join!(
        h.post("/refresh", body.clone()),
        h.post("/refresh", body.clone())
    );
    assert_eq!(
        (x.status.as_u16(), y.status.as_u16()),
        (200, 200),
        "{} {}",
        x.body,
        y.body
    );
    // Both clients hold a working refresh token afterwards.
    let (_, rx) = tokens(&x.body["data"]);
    let (_, ry) = tokens(&y.body["data"]);
    let next = h.post("/refresh", json!({ "refresh_token": rx })).await;
    assert_eq!(next.status, 200);
    let _ = ry;
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn tokens_are_only_accepted_as_their_kind(pool: PgPool) {
    let h = harness(pool, &[]);
    let (access, refresh) =
        tokens(&register(&h, "a@example.com", "하늘", "correct horse battery").await);
    assert_error(&probe(&h, &refresh).await, 401, "UNAUTHORIZED");
    assert_error(
        &h.post("/refresh", json!({ "refresh_token": access })).await,
        401,
        "UNAUTHORIZED",
    );
    assert_error(
        &h.post("/refresh", json!({ "refresh_token": "garbage" }))
            .await,
        401,
        "UNAUTHORIZED",
    );
    assert_error(
        &h.post("/refresh", json!({})).await,
        422,
        "VALIDATION_ERROR",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn logout_refuses_the_sessions_tokens_at_once(pool: PgPool) {
    let h = harness(pool, &[]);
    let (access, refresh) =
        tokens(&register(&h, "a@example.com", "하늘", "correct horse battery").await);
    let other = h
        .post(
            "/login",
            json!({ "email": "a@example.com", "password": "correct horse battery" }),
        )
        .await;
    let (other_access, other_refresh) = tokens(&other.body["data"]);
    assert_authenticated(&h, &access).await;

    let out = h
        .call("POST", "/logout", None, json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(out.status, 200);
    assert_eq!(out.body["data"], Value::Null);
    assert_error(&probe(&h, &access).await, 401, "UNAUTHORIZED");
    assert_error(
        &h.post("/refresh", json!({ "refresh_token": refresh }))
            .await,
        401,
        "UNAUTHORIZED",
    );
    // Logging out twice is fine; the other session lives on.
    assert_eq!(
        h.call("POST", "/logout", None, json!({ "refresh_token": refresh }))
            .await
            .status,
        200
    );
    assert_ne!(probe(&h, &other_access).await.status, 401);
    // A bearer of another session sent along is signed out too.
    let third = h
        .post(
            "/login",
            json!({ "email": "a@example.com", "password": "correct horse battery" }),
        )
        .await;
    let (third_access, _) = tokens(&third.body["data"]);
    let out = h
        .call(
            "POST",
            "/logout",
            Some(&third_access),
            json!({ "refresh_token": other_refresh }),
        )
        .await;
    assert_eq!(out.status, 200);
    assert_error(&probe(&h, &other_access).await, 401, "UNAUTHORIZED");
    assert_error(&probe(&h, &third_access).await, 401, "UNAUTHORIZED");
    assert_error(
        &h.call("POST", "/logout", None, json!({ "refresh_token": "nope" }))
            .await,
        401,
        "UNAUTHORIZED",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn password_reset_is_single_use_expiring_and_signs_everyone_out(pool: PgPool) {
    let h = harness(pool, &[("FRONTEND_URL", "https://app.mindpause.kr")]);
    let (access, refresh) =
        tokens(&register(&h, "a@example.com", "하늘", "correct horse battery").await);

    let known = h
        .post("/forgot-password", json!({ "email": "A@example.com" }))
        .await;
    let unknown = h
        .post("/forgot-password", json!({ "email": "nobody@example.com" }))
        .await;
    assert_eq!((known.status.as_u16(), unknown.status.as_u16()), (200, 200));
    assert_eq!(known.body["data"], unknown.body["data"]);
    let mails = h.mails(2).await;
    assert_eq!(
        mails.len(),
        2,
        "welcome + reset, nothing for the unknown email"
    );
    let reset = &mails[1];
    assert_eq!(reset.template, Template::PasswordReset);
    let token = param(reset, "token");
    assert_eq!(
        param(reset, "link"),
        format!("https://app.mindpause.kr/reset-password?token={token}")
    );

    // A weak password is refused without using the token up.
    let weak = h
        .post(
            "/reset-password",
            json!({ "token": token, "new_password": "short" }),
        )
        .await;
    assert_error(&weak, 422, "VALIDATION_ERROR");
    let ok = h
        .post(
            "/reset-password",
            json!({ "token": token, "new_password": "a brand new secret" }),
        )
        .await;
    assert_eq!(ok.status, 200, "{}", ok.body);
    assert_error(
        &h.post(
            "/reset-password",
            json!({ "token": token, "new_password": "another new secret" }),
        )
        .await,
        400,
        "INVALID_TOKEN",
    );
    assert_error(
        &h.post(
            "/reset-password",
            json!({ "token": "made-up", "new_password": "another new secret" }),
        )
        .await,
        400,
        "INVALID_TOKEN",
    );

    // Every session is gone; the old password no longer works, the new one does.
    assert_error(&probe(&h, &access).await, 401, "UNAUTHORIZED");
    assert_error(
        &h.post("/refresh", json!({ "refresh_token": refresh }))
            .await,
        401,
        "UNAUTHORIZED",
    );
    assert_error(
        &h.post(
            "/login",
            json!({ "email": "a@example.com", "password": "correct horse battery" }),
        )
        .await,
        401,
        "INVALID_CREDENTIALS",
    );
    assert_eq!(
        h.post(
            "/login",
            json!({ "email": "a@example.com", "password": "a brand new secret" })
        )
        .await
        .status,
        200
    );
    assert_eq!(h.mails(3).await[2].template, Template::PasswordChanged);

    // An expired token is refused (one minute later a new one may be asked for).
    let address = Email::parse("a@example.com").unwrap();
    h.state.cache.del(&emails::reset_key(&address)).await;
    h.post("/forgot-password", json!({ "email": "a@example.com" }))
        .await;
    let token = param(&h.mails(4).await[3], "token");
    sqlx::query("UPDATE one_time_tokens SET expires_at = now() - interval '1 second'")
        .execute(&h.admin)
        .await
        .unwrap();
    assert_error(
        &h.post(
            "/reset-password",
            json!({ "token": token, "new_password": "yet another secret" }),
        )
        .await,
        400,
        "INVALID_TOKEN",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn forgot_password_mails_at_most_once_a_minute(pool: PgPool) {
    let h = harness(pool, &[]);
    register(&h, "a@example.com", "하늘", "correct horse battery").await;
    for _ in 0..3 {
        assert_eq!(
            h.post("/forgot-password", json!({ "email": "a@example.com" }))
                .await
                .status,
            200
        );
    }
    assert_eq!(h.settled_mails().await.len(), 2, "welcome + one reset");
    assert_error(
        &h.post("/forgot-password", json!({ "email": "not an email" }))
            .await,
        422,
        "VALIDATION_ERROR",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn forgot_password_answers_alike_for_every_address(pool: PgPool) {
    let h = harness(pool.clone(), &[]);
    register(&h, "a@example.com", "하늘", "correct horse battery").await;
    let addresses = ["a@example.com", "nobody@example.com"];

    // A Pub/Sub that takes connections and never answers: a publish would hang for 10 s.
    let black_hole = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let host = black_hole.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = black_hole.accept().await {
            held.push(socket);
        }
    });
    let s = settings(&[
        ("PUBSUB_PROJECT_ID", "mindpause-test"),
        ("PUBSUB_EMULATOR_HOST", &host),
    ]);
    let events = shared::events::Events::from_settings(&s).unwrap();
    assert!(events.is_pubsub());
    let stalled = AppState::from_parts(s, pool.clone(), Cache::memory(), events).unwrap();
    let app = service_app(&stalled, "auth", auth::routes());
    for email in addresses {
        let request = post_json(
            &h.path("/forgot-password"),
            &json!({ "email": email }).to_string(),
        );
        let answer = tokio::time::timeout(std::time::Duration::from_secs(5), send(&app, request))
            .await
            .expect("answered without waiting for Pub/Sub");
        assert_eq!(answer.status, 200, "{email}: {}", answer.body);
    }
    assert_eq!(
        stalled.events.pending(),
        2,
        "one publish for each address, known or not"
    );
    let issued: i64 =
        sqlx::query_scalar("SELECT count(*) FROM one_time_tokens WHERE purpose = 'password_reset'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(issued, 0, "the worker issues the token, not the request");

    // Redis down: the API runs on (throttles count in-process), the same for both.
    let redis_down = Cache::connect(Some("redis://127.0.0.1:1"), None).unwrap();
    let down = Harness::with_cache(pool, "auth", auth::routes(), &[], redis_down);
    let mut answers = Vec::new();
    for email in addresses {
        let a = down
            .post("/forgot-password", json!({ "email": email }))
            .await;
        answers.push((a.status.as_u16(), a.body["data"].clone()));
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0].0, 200);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_role_change_reaches_every_instance_at_once(pool: PgPool) {
    // Two instances on one Redis, each with its near copy of the gates.
    let one = Harness::with_cache(pool.clone(), "auth", auth::routes(), &[], redis_cache());
    let two = Harness::with_cache(pool, "auth", auth::routes(), &[], redis_cache());
    let (access, refresh) =
        tokens(&register(&one, "a@example.com", "하늘", "correct horse battery").await);
    let id = user_id(&one, "a@example.com").await;
    assert_authenticated(&two, &access).await;

    let set_role = |role| {
        let state = one.state.clone();
        async move {
            let mut tx = state.db.begin().await.unwrap();
            let revocation = accounts::set_role(&mut tx, id, role).await.unwrap();
            tx.commit().await.unwrap();
            revocation.announce(&state).await;
        }
    };
    let role_of = |access: &str| {
        let claims: AccessClaims = one.state.tokens.verify(TokenKind::Access, access).unwrap();
        claims.role
    };

    // Promoted: the token saying "user" is refused everywhere; a refresh says "admin".
    set_role(Role::Admin).await;
    assert_error(&probe(&two, &access).await, 401, "UNAUTHORIZED");
    let refreshed = one
        .post("/refresh", json!({ "refresh_token": refresh }))
        .await;
    assert_eq!(refreshed.status, 200, "{}", refreshed.body);
    let (admin, refresh) = tokens(&refreshed.body["data"]);
    assert_eq!(role_of(&admin), Role::Admin);
    assert_authenticated(&two, &admin).await;

    // Demoted: the admin token stops working at once, not when it expires.
    set_role(Role::User).await;
    assert_error(&probe(&two, &admin).await, 401, "UNAUTHORIZED");
    assert_error(&probe(&one, &admin).await, 401, "UNAUTHORIZED");
    let refreshed = two
        .post("/refresh", json!({ "refresh_token": refresh }))
        .await;
    let (access, _) = tokens(&refreshed.body["data"]);
    assert_eq!(role_of(&access), Role::User);
    assert_authenticated(&one, &access).await;
}

async fn user_id(h: &Harness, email: &str) -> uuid::Uuid {
    sqlx::query_scalar("SELECT id FROM users WHERE email = $1")
        .bind(email)
        .fetch_one(&h.admin)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn email_verification_is_single_use_and_expires(pool: PgPool) {
    let h = harness(pool, &[]);
    let (access, _) = tokens(&register(&h, "a@example.com", "하늘", "correct horse battery").await);
    let token = param(&h.mails(1).await[0], "token");

    // Resending right after the welcome email is too soon.
    let soon = probe(&h, &access).await;
    assert_error(&soon, 429, "RATE_LIMITED");
    assert!(soon.headers.contains_key("retry-after"));

    let verified = h.post("/verify-email", json!({ "token": token })).await;
    assert_eq!(verified.status, 200, "{}", verified.body);
    assert_eq!(verified.body["data"]["email_verified"], true);
    assert_error(
        &h.post("/verify-email", json!({ "token": token })).await,
        400,
        "INVALID_TOKEN",
    );
    // Verified: resend sends nothing.
    let again = probe(&h, &access).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body["data"]["email_verified"], true);
    assert_eq!(h.settled_mails().await.len(), 1);

    // A second account: the resent link works once the minute has passed, and expires.
    let (access, _) = tokens(&register(&h, "b@example.com", "바다", "correct horse battery").await);
    h.state
        .cache
        .del(&format!(
            "verify-mail:{}",
            user_id(&h, "b@example.com").await
        ))
        .await;
    let resent = probe(&h, &access).await;
    assert_eq!(resent.status, 200, "{}", resent.body);
    let mails = h.mails(3).await;
    assert_eq!(mails[2].template, Template::Verification);
    let token = param(&mails[2], "token");
    // The welcome email's link died when the new one was sent.
    let welcome_token = param(&mails[1], "token");
    assert_error(
        &h.post("/verify-email", json!({ "token": welcome_token }))
            .await,
        400,
        "INVALID_TOKEN",
    );
    sqlx::query("UPDATE one_time_tokens SET expires_at = now() - interval '1 second'")
        .execute(&h.admin)
        .await
        .unwrap();
    assert_error(
        &h.post("/verify-email", json!({ "token": token })).await,
        400,
        "INVALID_TOKEN",
    );
    // A reset token is not a verification token.
    let claims: AccessClaims = h.state.tokens.verify(TokenKind::Access, &access).unwrap();
    let _ = claims;
}
