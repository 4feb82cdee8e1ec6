//! Sign-in with Google against a real OpenID provider (PyPI oidc-provider-mock, started by
//! scripts/test.sh): its login form, single-use codes and JWKS; the linking rules.

mod common;

use axum::body::Body;
use axum::http::Request;
use common::*;
use serde_json::{Value, json};
use sqlx::PgPool;

struct Google {
    h: Harness,
    provider: String,
    http: reqwest::Client,
}

const FRONTEND: &str = "https://app.mindpause.test";

async fn google(pool: PgPool) -> Google {
    shared::install_tls_provider();
    let provider = std::env::var("OIDC_PROVIDER_URL")
        .expect("OIDC_PROVIDER_URL is unset: run the tests with ./scripts/test.sh");
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let discovery: Value = http
        .get(format!("{provider}/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let text = |k: &str| discovery[k].as_str().unwrap().to_owned();
    let (authorize, token, keys, issuer) = (
        text("authorization_endpoint"),
        text("token_endpoint"),
        text("jwks_uri"),
        text("issuer"),
    );
    let h = harness(
        pool,
        &[
            ("FRONTEND_URL", FRONTEND),
            ("OAUTH_REDIRECT_BASE", "http://localhost:8000/api/v1/auth"),
            ("GOOGLE_CLIENT_ID", "mindpause-web"),
            ("GOOGLE_CLIENT_SECRET", "a-client-secret"),
            ("GOOGLE_AUTHORIZE_URL", &authorize),
            ("GOOGLE_TOKEN_URL", &token),
            ("GOOGLE_KEYS_URL", &keys),
            ("GOOGLE_ISSUER", &issuer),
            ("RATE_LIMIT_GENERAL", "100000/minute"),
        ],
    );
    Google { h, provider, http }
}

/// A person Google knows: `claims` beyond `sub`.
async fn person_at_google(g: &Google, claims: Value) -> String {
    let sub = uuid::Uuid::now_v7().simple().to_string();
    let put = g
        .http
        .put(format!("{}/users/{sub}", g.provider))
        .json(&claims)
        .send()
        .await
        .unwrap();
    assert!(put.status().is_success(), "{}", put.status());
    sub
}

/// `GET /google`: the provider's URL and the cookie.
async fn start(g: &Google) -> (String, String) {
    let a =
        g.h.call("GET", &start_path("google"), None, Value::Null)
            .await;
    assert_eq!(a.status, 302, "{}", a.body);
    let location = a.headers["location"].to_str().unwrap().to_owned();
    let cookie = a.headers["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(cookie.contains("Path=/api/v1/auth"), "{cookie}");
    (location, cookie.split(';').next().unwrap().to_owned())
}

/// The person signs in (or says no) on the provider's form; where it sends the browser.
async fn at_the_form(g: &Google, authorize: &str, form: &[(&str, &str)]) -> String {
    let page = g.http.get(authorize).send().await.unwrap();
    assert_eq!(page.status(), 200, "the login form");
    let answer = g.http.post(authorize).form(form).send().await.unwrap();
    assert_eq!(answer.status(), 302);
    answer.headers()["location"].to_str().unwrap().to_owned()
}

/// The browser back at our callback (with its cookie): where we send it.
async fn back(g: &Google, callback: &str, cookie: Option<&str>) -> String {
    let path = callback
        .strip_prefix("http://localhost:8000")
        .expect("our callback");
    let mut request = Request::get(path);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let a = send(&g.h.app, request.body(Body::empty()).unwrap()).await;
    assert_eq!(a.status, 302, "{}", a.body);
    let location = a.headers["location"].to_str().unwrap().to_owned();
    assert!(
        location.starts_with(&format!("{FRONTEND}/auth/callback?")),
        "{location}"
    );
    location
}

/// The whole sign-in of `sub`: the app's one-time code.
async fn sign_in(g: &Google, sub: &str) -> String {
    let (authorize, cookie) = start(g).await;
    let callback = at_the_form(g, &authorize, &[("sub", sub)]).await;
    let app = back(g, &callback, Some(&cookie)).await;
    query(&app, "code").unwrap_or_else(|| panic!("no code: {app}"))
}

async fn exchange(g: &Google, code: &str) -> Answer {
    g.h.post(
        "/oauth/exchange",
        json!({ "code": code, "code_verifier": APP_VERIFIER }),
    )
    .await
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_new_person_signs_in_with_google_once_per_code(pool: PgPool) {
    let g = google(pool).await;
    let sub = person_at_google(
        &g,
        json!({ "email": "sky@gmail.test", "email_verified": true, "name": "하늘" }),
    )
    .await;
    let (authorize, _) = start(&g).await;
    let url = reqwest::Url::parse(&authorize).unwrap();
    let params: std::collections::HashMap<_, _> = url.query_pairs().into_owned().collect();
    assert_eq!(params["code_challenge_method"], "S256");
    assert_eq!(params["client_id"], "mindpause-web");
    assert!(params["scope"].contains("openid"));
    assert!(params["nonce"].len() >= 32 && params["state"].len() >= 32);

    let code = sign_in(&g, &sub).await;
    let a = exchange(&g, &code).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let user = &a.body["data"]["user"];
    assert_eq!(user["email"], "sky@gmail.test");
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["nickname"], "하늘");
    assert_eq!(user["providers"], json!(["google"]));
    let token = a.body["data"]["tokens"]["access_token"].as_str().unwrap();
    let me =
        g.h.call("POST", "/resend-verification", Some(token), Value::Null)
            .await;
    assert_ne!(me.status, 401, "the tokens work");

    assert_error(&exchange(&g, &code).await, 400, "INVALID_TOKEN");

    // Signing in again is the same account.
    let again = exchange(&g, &sign_in(&g, &sub).await).await;
    assert_eq!(again.body["data"]["user"]["id"], user["id"]);
}

/// An attacker's own sign-in's code, slipped into someone else's app, opens nothing: the
/// code is bound to the challenge of the app that started the sign-in.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_code_started_by_another_app_is_refused(pool: PgPool) {
    let g = google(pool).await;
    let sub = person_at_google(&g, json!({ "email_verified": false })).await;
    let code = sign_in(&g, &sub).await;
    let other_app = "another-app-s-own-verifier-from-its-session-storage";
    let a =
        g.h.post(
            "/oauth/exchange",
            json!({ "code": code, "code_verifier": other_app }),
        )
        .await;
    assert_error(&a, 400, "INVALID_TOKEN");
    let a = g.h.post("/oauth/exchange", json!({ "code": code })).await;
    assert_error(&a, 422, "VALIDATION_ERROR");
    let a =
        g.h.post(
            "/oauth/exchange",
            json!({ "code": code, "code_verifier": "short" }),
        )
        .await;
    assert_error(&a, 422, "VALIDATION_ERROR");
    assert!(a.body["error"]["details"]["fields"]["code_verifier"].is_array());
    // The app that started it still can.
    assert_eq!(exchange(&g, &code).await.status, 200);
}

/// Starting a sign-in needs the app's S256 challenge; without it the browser goes back to
/// the app with `error=invalid_request`.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_sign_in_starts_only_with_the_app_s_challenge(pool: PgPool) {
    let g = google(pool).await;
    for path in [
        "/google".to_owned(),
        "/google?code_challenge=too-short".to_owned(),
        format!("/google?code_challenge={APP_CHALLENGE}&code_challenge_method=plain"),
    ] {
        let a = g.h.call("GET", &path, None, Value::Null).await;
        assert_eq!(a.status, 302, "{path}");
        assert_eq!(
            a.headers["location"],
            format!("{FRONTEND}/auth/callback?error=invalid_request"),
            "{path}"
        );
    }
    let a =
        g.h.call(
            "GET",
            &format!("/google?code_challenge={APP_CHALLENGE}"),
            None,
            Value::Null,
        )
        .await;
    assert_eq!(a.status, 302, "S256 is the default method");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_late_code_is_refused(pool: PgPool) {
    let g = google(pool).await;
    let sub = person_at_google(&g, json!({ "email_verified": false })).await;
    let code = sign_in(&g, &sub).await;
    sqlx::query("UPDATE one_time_tokens SET expires_at = now() - interval '1 second'")
        .execute(&g.h.admin)
        .await
        .unwrap();
    assert_error(&exchange(&g, &code).await, 400, "INVALID_TOKEN");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn consent_refused_or_a_state_not_ours_goes_back_with_an_error(pool: PgPool) {
    let g = google(pool).await;
    let sub = person_at_google(&g, json!({})).await;

    let (authorize, cookie) = start(&g).await;
    let callback = at_the_form(&g, &authorize, &[("action", "deny")]).await;
    let app = back(&g, &callback, Some(&cookie)).await;
    assert_eq!(query(&app, "error").as_deref(), Some("access_denied"));
    assert_eq!(query(&app, "code"), None);

    // Another browser's callback (no cookie, or another one's).
    let (authorize, _) = start(&g).await;
    let callback = at_the_form(&g, &authorize, &[("sub", &sub)]).await;
    let app = back(&g, &callback, None).await;
    assert_eq!(query(&app, "error").as_deref(), Some("invalid_state"));
    let (_, someone_else) = start(&g).await;
    let app = back(&g, &callback, Some(&someone_else)).await;
    assert_eq!(query(&app, "error").as_deref(), Some("invalid_state"));

    // A tampered cookie.
    let (authorize, cookie) = start(&g).await;
    let callback = at_the_form(&g, &authorize, &[("sub", &sub)]).await;
    let tampered = format!("{}x", cookie);
    let app = back(&g, &callback, Some(&tampered)).await;
    assert_eq!(query(&app, "error").as_deref(), Some("invalid_state"));

    // A replayed callback: the first one signs in, the second is refused.
    let (authorize, cookie) = start(&g).await;
    let callback = at_the_form(&g, &authorize, &[("sub", &sub)]).await;
    assert!(query(&back(&g, &callback, Some(&cookie)).await, "code").is_some());
    let app = back(&g, &callback, Some(&cookie)).await;
    assert_eq!(query(&app, "error").as_deref(), Some("invalid_state"));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_verified_account_with_the_same_verified_email_is_linked(pool: PgPool) {
    let g = google(pool).await;
    let registered = register(&g.h, "rain@gmail.test", "비구름", "correct horse battery").await;
    sqlx::query("UPDATE users SET email_verified_at = now() WHERE email = 'rain@gmail.test'")
        .execute(&g.h.admin)
        .await
        .unwrap();
    let sub = person_at_google(
        &g,
        json!({ "email": "rain@gmail.test", "email_verified": true }),
    )
    .await;
    let a = exchange(&g, &sign_in(&g, &sub).await).await;
    let user = &a.body["data"]["user"];
    assert_eq!(user["id"], registered["user"]["id"], "the same account");
    assert_eq!(user["providers"], json!(["password", "google"]));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn an_unverified_account_is_never_taken_over_nor_takes_over(pool: PgPool) {
    let g = google(pool).await;
    // Someone registered the address without owning it (never verified).
    let squatter = register(&g.h, "moon@gmail.test", "달빛", "correct horse battery").await;
    let sub = person_at_google(
        &g,
        json!({ "email": "moon@gmail.test", "email_verified": true }),
    )
    .await;
    let a = exchange(&g, &sign_in(&g, &sub).await).await;
    let user = &a.body["data"]["user"];
    assert_ne!(user["id"], squatter["user"]["id"], "a new account");
    assert_eq!(
        user["email"],
        Value::Null,
        "the address is held by the other account"
    );
    assert_eq!(user["providers"], json!(["google"]));
    let providers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM user_identities i JOIN users u ON u.id = i.user_id WHERE u.email = 'moon@gmail.test'")
            .fetch_one(&g.h.admin)
            .await
            .unwrap();
    assert_eq!(providers, 0, "nothing linked to the unverified account");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn an_unverified_google_email_is_not_used_and_a_provider_address_cannot_be_registered(
    pool: PgPool,
) {
    let g = google(pool).await;
    let unverified = person_at_google(
        &g,
        json!({ "email": "star@gmail.test", "email_verified": false }),
    )
    .await;
    let a = exchange(&g, &sign_in(&g, &unverified).await).await;
    assert_eq!(a.body["data"]["user"]["email"], Value::Null);
    assert!(
        a.body["data"]["user"]["nickname"]
            .as_str()
            .unwrap()
            .starts_with("마음이")
    );

    let verified = person_at_google(
        &g,
        json!({ "email": "sun@gmail.test", "email_verified": true }),
    )
    .await;
    let a = exchange(&g, &sign_in(&g, &verified).await).await;
    assert_eq!(a.body["data"]["user"]["email"], "sun@gmail.test");
    // Pre-hijacking the other way: registering that address with a password.
    let a = g
        .h
        .post(
            "/register",
            json!({ "email": "sun@gmail.test", "password": "correct horse battery", "nickname": "햇살" }),
        )
        .await;
    assert_error(&a, 409, "EMAIL_TAKEN");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_provider_not_configured_goes_back_with_an_error(pool: PgPool) {
    let h = harness(pool, &[("FRONTEND_URL", FRONTEND)]);
    let a = h.call("GET", &start_path("kakao"), None, Value::Null).await;
    assert_eq!(a.status, 302);
    let location = a.headers["location"].to_str().unwrap();
    assert_eq!(
        location,
        format!("{FRONTEND}/auth/callback?error=provider_unavailable")
    );
    let a = h.call("GET", "/facebook", None, Value::Null).await;
    assert_error(&a, 404, "NOT_FOUND");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_google_account_adds_a_password_through_forgot_password(pool: PgPool) {
    let g = google(pool).await;
    let sub = person_at_google(
        &g,
        json!({ "email": "leaf@gmail.test", "email_verified": true }),
    )
    .await;
    let first = exchange(&g, &sign_in(&g, &sub).await).await;
    let a =
        g.h.post("/forgot-password", json!({ "email": "leaf@gmail.test" }))
            .await;
    assert_eq!(a.status, 200);
    let mail = g.h.mails(1).await;
    let token = param(&mail[0], "token");
    let a =
        g.h.post(
            "/reset-password",
            json!({ "token": token, "new_password": "a new long password" }),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    let a =
        g.h.post(
            "/login",
            json!({ "email": "leaf@gmail.test", "password": "a new long password" }),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(
        a.body["data"]["user"]["id"],
        first.body["data"]["user"]["id"]
    );
    assert_eq!(
        a.body["data"]["user"]["providers"],
        json!(["password", "google"])
    );
}
