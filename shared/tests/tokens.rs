//! Access-token verification per RFC 8725: the attacks a client could try.

mod common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::*;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use shared::auth::keys;
use shared::auth::{AccessClaims, Role, TokenKind};
use shared::cache::Cache;
use shared::config::{DEV_JWT_PRIVATE_KEY, DEV_JWT_PUBLIC_KEY, DEV_JWT_REFRESH_SECRET};
use sqlx::PgPool;
use uuid::Uuid;

fn claims(who: &AccessClaims, overrides: Value) -> Value {
    let now = chrono::Utc::now().timestamp();
    let mut c = json!({
        "sub": who.sub, "sid": who.sid, "role": "user",
        "iat": now, "exp": now + 600, "iss": "mindpause-api", "aud": "mindpause-app",
        "jti": Uuid::now_v7(),
    });
    for (k, v) in overrides.as_object().unwrap() {
        if v.is_null() {
            c.as_object_mut().unwrap().remove(k);
        } else {
            c[k] = v.clone();
        }
    }
    c
}

fn sign(
    alg: Algorithm,
    typ: Option<&str>,
    kid: Option<&str>,
    key: &EncodingKey,
    claims: &Value,
) -> String {
    let mut header = Header::new(alg);
    header.typ = typ.map(str::to_owned);
    header.kid = kid.map(str::to_owned);
    jsonwebtoken::encode(&header, claims, key).unwrap()
}

/// The development signing key, as the functions that make tokens hold it.
fn dev_key() -> (String, EncodingKey) {
    let key = keys::private_key(DEV_JWT_PRIVATE_KEY).unwrap();
    (
        key.public.kid.clone(),
        EncodingKey::from_ed_der(&key.pkcs8_der),
    )
}

/// A genuine access token with `overrides` in its claims.
fn genuine(claims: &Value) -> String {
    let (kid, key) = dev_key();
    sign(Algorithm::EdDSA, Some("at+jwt"), Some(&kid), &key, claims)
}

const STRANGER_KEY: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIB+i52cteY0nJU9xb4ymuQhCGbR+NF4jOSrzNnnw+wKT
-----END PRIVATE KEY-----
";

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn forged_and_misused_tokens_are_refused(pool: PgPool) {
    let state = state(pool, Cache::memory(), settings(&[]));
    let app = app(state.clone());
    let (_, real) = access_token(&state, Role::User).await;
    let who: AccessClaims = state.tokens.verify(TokenKind::Access, &real).unwrap();
    let claims = |overrides: Value| claims(&who, overrides);
    let check = |token: String, code: &'static str| {
        let app = app.clone();
        async move {
            let a = send(&app, get_with_token("/api/v1/test/me", &token)).await;
            assert_error(&a, 401, code);
        }
    };
    let (kid, _) = dev_key();
    let kid = Some(kid.as_str());

    // The genuine article passes.
    let good = genuine(&claims(json!({})));
    assert_eq!(
        send(&app, get_with_token("/api/v1/test/me", &good))
            .await
            .status,
        200
    );

    // alg "none": header rewritten, signature dropped.
    let unsigned = {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"at+jwt"}"#);
        let payload = URL_SAFE_NO_PAD.encode(claims(json!({})).to_string());
        format!("{header}.{payload}.")
    };
    check(unsigned, "UNAUTHORIZED").await;
    // Algorithm confusion: HMAC keyed with the public key (which every function holds).
    for public in [
        DEV_JWT_PUBLIC_KEY.as_bytes(),
        &keys::public_keys(DEV_JWT_PUBLIC_KEY).unwrap()[0].x[..],
    ] {
        let hmac = EncodingKey::from_secret(public);
        check(
            sign(
                Algorithm::HS256,
                Some("at+jwt"),
                kid,
                &hmac,
                &claims(json!({})),
            ),
            "UNAUTHORIZED",
        )
        .await;
    }
    // Another Ed25519 key: under the real key's kid, under its own kid, or with none.
    let stranger = keys::private_key(STRANGER_KEY).unwrap();
    let stranger_key = EncodingKey::from_ed_der(&stranger.pkcs8_der);
    for kid in [kid, Some(stranger.public.kid.as_str()), None] {
        check(
            sign(
                Algorithm::EdDSA,
                Some("at+jwt"),
                kid,
                &stranger_key,
                &claims(json!({})),
            ),
            "UNAUTHORIZED",
        )
        .await;
    }
    // The real key but no kid.
    let (_, dev) = dev_key();
    check(
        sign(
            Algorithm::EdDSA,
            Some("at+jwt"),
            None,
            &dev,
            &claims(json!({})),
        ),
        "UNAUTHORIZED",
    )
    .await;
    // A refresh token presented as an access token (its own key and typ).
    let refresh = state
        .tokens
        .sign(TokenKind::Refresh, &claims(json!({ "role": null })))
        .unwrap();
    check(refresh, "UNAUTHORIZED").await;
    // Signed with the refresh secret but typed as access.
    let refresh_key = EncodingKey::from_secret(DEV_JWT_REFRESH_SECRET.as_bytes());
    check(
        sign(
            Algorithm::HS256,
            Some("at+jwt"),
            kid,
            &refresh_key,
            &claims(json!({})),
        ),
        "UNAUTHORIZED",
    )
    .await;
    // The right key but refresh typ, or no typ at all.
    for typ in [Some("refresh+jwt"), None, Some("JWT")] {
        check(
            sign(Algorithm::EdDSA, typ, kid, &dev, &claims(json!({}))),
            "UNAUTHORIZED",
        )
        .await;
    }
    // Expired: the client should refresh.
    let past = chrono::Utc::now().timestamp() - 120;
    check(genuine(&claims(json!({ "exp": past }))), "TOKEN_EXPIRED").await;
    // Wrong or missing audience and issuer.
    for overrides in [
        json!({ "aud": "someone-else" }),
        json!({ "iss": "https://evil.example" }),
        json!({ "aud": null }),
        json!({ "iss": null }),
        json!({ "exp": null }),
        json!({ "role": "root" }),
        json!({ "sub": "not-a-uuid" }),
    ] {
        check(genuine(&claims(overrides)), "UNAUTHORIZED").await;
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn access_and_refresh_round_trip_only_as_themselves(pool: PgPool) {
    let state = state(pool, Cache::memory(), settings(&[]));
    let (_, token) = access_token(&state, Role::Admin).await;
    let c: shared::auth::AccessClaims = state.tokens.verify(TokenKind::Access, &token).unwrap();
    assert_eq!(c.exp - c.iat, 3600);
    assert_eq!(c.role, Role::Admin);
    assert!(
        state
            .tokens
            .verify::<Value>(TokenKind::Refresh, &token)
            .is_err()
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_remembered_token_still_expires_and_its_variants_are_verified_afresh(pool: PgPool) {
    let state = state(pool, Cache::memory(), settings(&[]));
    let app = app(state.clone());
    let (_, real) = access_token(&state, Role::User).await;
    let who: AccessClaims = state.tokens.verify(TokenKind::Access, &real).unwrap();
    // Expired three seconds ago: still inside the five seconds of leeway, for two more.
    let now = chrono::Utc::now().timestamp();
    let claims = claims(&who, json!({"iat": now - 603, "exp": now - 3}));
    let token = genuine(&claims);
    let me = |token: String| {
        let app = app.clone();
        async move { send(&app, get_with_token("/api/v1/test/me", &token)).await }
    };
    assert_eq!(me(token.clone()).await.status, 200);
    assert_eq!(me(token.clone()).await.status, 200);
    // The same claims with another signature are not the remembered token.
    let (head, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode([7u8; 32]));
    assert_error(&me(forged).await, 401, "UNAUTHORIZED");
    tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
    assert_error(&me(token).await, 401, "TOKEN_EXPIRED");
}
