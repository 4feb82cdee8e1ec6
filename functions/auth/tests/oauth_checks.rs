//! Kakao (its token and user info endpoints faked with wiremock), PKCE as the token endpoint
//! sees it, and Google ID tokens that must be refused (wrong audience, issuer, nonce,
//! signature or algorithm), signed here with a key made for these tests.

mod common;

use axum::body::Body;
use axum::http::Request;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const FRONTEND: &str = "https://app.mindpause.test";

/// `GET /<provider>` then the browser back at the callback with `code`: the app's location,
/// and the authorization URL we sent the browser to.
async fn round_trip(h: &Harness, provider: &str) -> (String, String) {
    let a = h
        .call("GET", &start_path(provider), None, Value::Null)
        .await;
    assert_eq!(a.status, 302, "{}", a.body);
    let authorize = a.headers["location"].to_str().unwrap().to_owned();
    let cookie = a.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let state = query(&authorize, "state").unwrap();
    let request =
        Request::get(h.path(&format!("/{provider}/callback?code=the-code&state={state}")))
            .header("cookie", cookie)
            .body(Body::empty())
            .unwrap();
    let a = send(&h.app, request).await;
    assert_eq!(a.status, 302, "{}", a.body);
    (
        a.headers["location"].to_str().unwrap().to_owned(),
        authorize,
    )
}

async fn exchange(h: &Harness, location: &str) -> Answer {
    let code = query(location, "code").unwrap_or_else(|| panic!("no code: {location}"));
    h.post(
        "/oauth/exchange",
        json!({ "code": code, "code_verifier": APP_VERIFIER }),
    )
    .await
}

async fn kakao(pool: PgPool, me: Value) -> (Harness, MockServer) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/oauth/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "kakao-access", "token_type": "bearer", "expires_in": 3600,
        })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/v2/user/me"))
        .and(header("authorization", "Bearer kakao-access"))
        .respond_with(ResponseTemplate::new(200).set_body_json(me))
        .mount(&server)
        .await;
    let token_url = format!("{}/oauth/token", server.uri());
    let userinfo_url = format!("{}/v2/user/me", server.uri());
    let h = harness(
        pool,
        &[
            ("FRONTEND_URL", FRONTEND),
            ("KAKAO_CLIENT_ID", "kakao-rest-key"),
            ("KAKAO_CLIENT_SECRET", "kakao-secret"),
            (
                "KAKAO_AUTHORIZE_URL",
                "https://kauth.kakao.test/oauth/authorize",
            ),
            ("KAKAO_TOKEN_URL", &token_url),
            ("KAKAO_USERINFO_URL", &userinfo_url),
            ("RATE_LIMIT_GENERAL", "100000/minute"),
        ],
    );
    (h, server)
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn kakao_signs_in_by_its_id_with_pkce(pool: PgPool) {
    let me = json!({ "id": 4242, "kakao_account": {
        "email": "bada@kakao.test", "is_email_valid": true, "is_email_verified": true,
        "profile": { "nickname": "바다" },
    }});
    let (h, server) = kakao(pool, me).await;
    let (location, authorize) = round_trip(&h, "kakao").await;
    let a = exchange(&h, &location).await;
    assert_eq!(a.status, 200, "{}", a.body);
    let user = &a.body["data"]["user"];
    assert_eq!(user["providers"], json!(["kakao"]));
    assert_eq!(user["email"], "bada@kakao.test");
    assert_eq!(user["nickname"], "바다");
    let subject: String = sqlx::query_scalar("SELECT subject FROM user_identities")
        .fetch_one(&h.admin)
        .await
        .unwrap();
    assert_eq!(subject, "4242");

    // The token endpoint got the verifier whose S256 is the challenge the browser carried.
    let requests = server.received_requests().await.unwrap();
    let exchange = requests
        .iter()
        .find(|r| r.url.path() == "/oauth/token")
        .unwrap();
    let form: std::collections::HashMap<String, String> =
        url_form(&String::from_utf8_lossy(&exchange.body));
    assert_eq!(form["grant_type"], "authorization_code");
    assert_eq!(form["code"], "the-code");
    let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(form["code_verifier"].as_bytes()));
    assert_eq!(Some(challenge), query(&authorize, "code_challenge"));
    assert_eq!(
        query(&authorize, "code_challenge_method").as_deref(),
        Some("S256")
    );
}

fn url_form(body: &str) -> std::collections::HashMap<String, String> {
    reqwest::Url::parse(&format!("http://x/?{body}"))
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn kakao_without_a_usable_email_still_makes_an_account(pool: PgPool) {
    for (id, account) in [
        (1001, json!({})),
        (
            1002,
            json!({ "email": "x@kakao.test", "is_email_valid": true, "is_email_verified": false }),
        ),
        (
            1003,
            json!({ "email": "y@kakao.test", "is_email_valid": false, "is_email_verified": true }),
        ),
    ] {
        let (h, _server) = kakao(pool.clone(), json!({ "id": id, "kakao_account": account })).await;
        let (location, _) = round_trip(&h, "kakao").await;
        let a = exchange(&h, &location).await;
        assert_eq!(a.status, 200, "{id}: {}", a.body);
        assert_eq!(a.body["data"]["user"]["email"], Value::Null, "{id}");
        assert_eq!(a.body["data"]["user"]["email_verified"], false, "{id}");
    }
}

/// A fake Google whose token endpoint answers with `id_token` (JWKS: the test key's).
async fn google_answering(pool: PgPool, id_token: impl Fn(&str) -> String) -> Answer {
    let server = MockServer::start().await;
    let jwks: Value = serde_json::from_str(include_str!("fixtures/google-jwks.json")).unwrap();
    Mock::given(method("GET"))
        .and(path("/certs"))
        .respond_with(ResponseTemplate::new(200).set_body_json(jwks))
        .mount(&server)
        .await;
    let token_url = format!("{}/token", server.uri());
    let keys_url = format!("{}/certs", server.uri());
    let h = harness(
        pool,
        &[
            ("FRONTEND_URL", FRONTEND),
            ("GOOGLE_CLIENT_ID", "mindpause-web"),
            ("GOOGLE_CLIENT_SECRET", "a-client-secret"),
            ("GOOGLE_AUTHORIZE_URL", "https://accounts.google.test/auth"),
            ("GOOGLE_TOKEN_URL", &token_url),
            ("GOOGLE_KEYS_URL", &keys_url),
            ("GOOGLE_ISSUER", "https://accounts.google.com"),
        ],
    );
    let a = h
        .call("GET", &start_path("google"), None, Value::Null)
        .await;
    let authorize = a.headers["location"].to_str().unwrap().to_owned();
    let cookie = a.headers["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let nonce = query(&authorize, "nonce").unwrap();
    Mock::given(method("POST"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "access_token": "google-access", "token_type": "Bearer", "expires_in": 3600,
            "id_token": id_token(&nonce),
        })))
        .mount(&server)
        .await;
    let state = query(&authorize, "state").unwrap();
    let request = Request::get(h.path(&format!("/google/callback?code=c&state={state}")))
        .header("cookie", cookie)
        .body(Body::empty())
        .unwrap();
    let a = send(&h.app, request).await;
    let location = a.headers["location"].to_str().unwrap().to_owned();
    match query(&location, "code") {
        Some(_) => exchange(&h, &location).await,
        None => Answer {
            status: a.status,
            headers: a.headers,
            body: json!({ "error": query(&location, "error") }),
        },
    }
}

/// An ID token for the nonce the browser was given.
type MakeToken = dyn Fn(&str) -> String;

fn signed(claims: Value, kid: &str) -> String {
    // The test service account's key (shared/tests/fixtures), as PKCS#1 DER.
    let key = EncodingKey::from_rsa_der(include_bytes!("fixtures/google-key.der"));
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, &claims, &key).unwrap()
}

fn claims(nonce: &str) -> Value {
    let now = chrono::Utc::now().timestamp();
    json!({
        "iss": "https://accounts.google.com", "aud": "mindpause-web", "sub": "g-123",
        "email": "cloud@gmail.test", "email_verified": true, "nonce": nonce,
        "iat": now, "exp": now + 600,
    })
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_good_id_token_signs_in(pool: PgPool) {
    let a = google_answering(pool, |nonce| signed(claims(nonce), "test-google-1")).await;
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(a.body["data"]["user"]["email"], "cloud@gmail.test");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn id_tokens_that_are_not_for_us_are_refused(pool: PgPool) {
    let with = |change: Value| {
        move |nonce: &str| {
            let mut c = claims(nonce);
            for (k, v) in change.as_object().unwrap() {
                c[k] = v.clone();
            }
            signed(c, "test-google-1")
        }
    };
    let expired = chrono::Utc::now().timestamp() - 3600;
    let cases: Vec<(&str, Box<MakeToken>)> = vec![
        (
            "another audience",
            Box::new(with(json!({ "aud": "someone-else" }))),
        ),
        (
            "another issuer",
            Box::new(with(json!({ "iss": "https://evil.test" }))),
        ),
        (
            "another nonce",
            Box::new(with(json!({ "nonce": "replayed" }))),
        ),
        (
            "expired",
            Box::new(with(json!({ "exp": expired, "iat": expired - 600 }))),
        ),
        (
            "an unknown key",
            Box::new(|nonce: &str| signed(claims(nonce), "rotated-away")),
        ),
        (
            "a forged signature",
            Box::new(|nonce: &str| {
                let token = signed(claims(nonce), "test-google-1");
                let (head, _) = token.rsplit_once('.').unwrap();
                format!("{head}.{}", URL_SAFE_NO_PAD.encode([7u8; 256]))
            }),
        ),
        (
            "no algorithm",
            Box::new(|nonce: &str| {
                let head = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","kid":"test-google-1"}"#);
                let body = URL_SAFE_NO_PAD.encode(claims(nonce).to_string());
                format!("{head}.{body}.")
            }),
        ),
    ];
    for (what, token) in cases {
        let a = google_answering(pool.clone(), token).await;
        assert_eq!(a.body["error"], "provider_error", "{what}: {}", a.body);
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_suspended_account_gets_no_tokens_through_a_provider(pool: PgPool) {
    let me = json!({ "id": 777, "kakao_account": {} });
    let (h, _server) = kakao(pool, me).await;
    let (location, _) = round_trip(&h, "kakao").await;
    assert_eq!(exchange(&h, &location).await.status, 200);
    sqlx::query(
        "UPDATE users SET status = 'suspended', suspension_reason = 'test'
         WHERE id = (SELECT user_id FROM user_identities WHERE subject = '777')",
    )
    .execute(&h.admin)
    .await
    .unwrap();
    let (location, _) = round_trip(&h, "kakao").await;
    assert_error(&exchange(&h, &location).await, 403, "ACCOUNT_SUSPENDED");
}
