//! RATE_LIMIT_GENERAL on every API route: atomic in Redis (exactly N pass under concurrency,
//! also across two instances), the RateLimit headers, keys by user or client IP, and the
//! in-process fallback.

mod common;

use std::collections::HashMap;

use axum::body::Body;
use axum::http::Request;
use common::*;
use shared::auth::Role;
use shared::cache::Cache;
use sqlx::PgPool;

fn limited(
    pool: PgPool,
    cache: Cache,
    limit: &str,
    extra: &[(&str, &str)],
) -> (shared::AppState, axum::Router) {
    let mut vars = vec![("RATE_LIMIT_GENERAL", limit)];
    vars.extend_from_slice(extra);
    let state = state(pool, cache, settings(&vars));
    (state.clone(), app(state))
}

/// A fresh address per test, so tests sharing one Redis never share a counter.
fn unique_peer() -> [u8; 4] {
    let n = uuid::Uuid::new_v4().as_u128();
    [10, (n >> 8) as u8, (n >> 16) as u8, (n >> 24) as u8 | 1]
}

async fn count_statuses(
    apps: &[axum::Router],
    requests: usize,
    peer: [u8; 4],
    token: Option<String>,
) -> HashMap<u16, usize> {
    let mut handles = Vec::new();
    for i in 0..requests {
        let app = apps[i % apps.len()].clone();
        let token = token.clone();
        handles.push(tokio::spawn(async move {
            let request = match &token {
                Some(t) => get_with_token("/api/v1/test/maybe", t),
                None => get("/api/v1/test/maybe"),
            };
            send_from(&app, request, peer).await.status.as_u16()
        }));
    }
    let mut counts = HashMap::new();
    for h in handles {
        *counts.entry(h.await.unwrap()).or_default() += 1;
    }
    counts
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn exactly_n_pass_under_50_concurrent_requests(pool: PgPool) {
    let (_, app) = limited(pool, redis_cache(), "20/minute", &[]);
    let counts = count_statuses(&[app], 50, unique_peer(), None).await;
    assert_eq!(counts.get(&200), Some(&20), "{counts:?}");
    assert_eq!(counts.get(&429), Some(&30), "{counts:?}");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn two_instances_share_one_limit(pool: PgPool) {
    let (_, one) = limited(pool.clone(), redis_cache(), "15/minute", &[]);
    let (_, two) = limited(pool, redis_cache(), "15/minute", &[]);
    let counts = count_statuses(&[one, two], 50, unique_peer(), None).await;
    assert_eq!(counts.get(&200), Some(&15), "{counts:?}");
    assert_eq!(counts.get(&429), Some(&35), "{counts:?}");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_in_process_fallback_limits_one_instance(pool: PgPool) {
    let (_, app) = limited(pool, Cache::memory(), "7/minute", &[]);
    let counts = count_statuses(&[app], 50, unique_peer(), None).await;
    assert_eq!(counts.get(&200), Some(&7), "{counts:?}");
    assert_eq!(counts.get(&429), Some(&43), "{counts:?}");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn headers_on_every_limited_response_and_retry_after_on_429(pool: PgPool) {
    let (_, app) = limited(pool, redis_cache(), "2/minute", &[]);
    let peer = unique_peer();
    let first = send_from(&app, get("/api/v1/test/maybe"), peer).await;
    assert_eq!(first.status, 200);
    assert_eq!(first.headers["ratelimit-limit"], "2");
    assert_eq!(first.headers["ratelimit-remaining"], "1");
    let reset: u64 = first.headers["ratelimit-reset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&reset));
    let second = send_from(&app, get("/api/v1/test/maybe"), peer).await;
    assert_eq!(second.headers["ratelimit-remaining"], "0");
    let third = send_from(&app, get("/api/v1/test/maybe"), peer).await;
    assert_error(&third, 429, "RATE_LIMITED");
    let retry: u64 = third.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(third.headers["ratelimit-remaining"], "0");
    // Health and docs are not API routes: never limited.
    for _ in 0..3 {
        let health = send_from(&app, get("/health"), peer).await;
        assert_eq!(health.status, 200);
        assert!(!health.headers.contains_key("ratelimit-limit"));
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn users_are_counted_apart_from_their_address(pool: PgPool) {
    let (state, app) = limited(pool, redis_cache(), "3/minute", &[]);
    let peer = unique_peer();
    let (_, alice) = access_token(&state, Role::User).await;
    let (_, bob) = access_token(&state, Role::User).await;
    for _ in 0..3 {
        assert_eq!(
            send_from(&app, get_with_token("/api/v1/test/maybe", &alice), peer)
                .await
                .status,
            200
        );
    }
    assert_eq!(
        send_from(&app, get_with_token("/api/v1/test/maybe", &alice), peer)
            .await
            .status,
        429
    );
    // Bob behind the same address, and anonymous requests from it, have their own budgets.
    assert_eq!(
        send_from(&app, get_with_token("/api/v1/test/maybe", &bob), peer)
            .await
            .status,
        200
    );
    assert_eq!(
        send_from(&app, get("/api/v1/test/maybe"), peer)
            .await
            .status,
        200
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn forwarded_addresses_count_only_through_trusted_hops(pool: PgPool) {
    let (_, app) = limited(
        pool,
        redis_cache(),
        "2/minute",
        &[("TRUSTED_PROXY_HOPS", "1")],
    );
    let load_balancer = unique_peer();
    let client = unique_peer();
    let from = |xff: String| {
        Request::get("/api/v1/test/maybe")
            .header("x-forwarded-for", xff)
            .body(Body::empty())
            .unwrap()
    };
    let ip = |a: [u8; 4]| format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3]);
    // A client cannot escape its limit by writing its own X-Forwarded-For entries: the load
    // balancer appends the real address, and that is the one counted.
    for spoof in ["1.1.1.1", "2.2.2.2"] {
        let a = send_from(
            &app,
            from(format!("{spoof}, {}", ip(client))),
            load_balancer,
        )
        .await;
        assert_eq!(a.status, 200);
    }
    let a = send_from(
        &app,
        from(format!("3.3.3.3, {}", ip(client))),
        load_balancer,
    )
    .await;
    assert_eq!(a.status, 429);
    // Another client behind the same load balancer is counted apart.
    let a = send_from(&app, from(ip(unique_peer())), load_balancer).await;
    assert_eq!(a.status, 200);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn far_from_the_limit_positions_are_leased_and_counted_down_one_by_one(pool: PgPool) {
    let (state, app) = limited(pool, redis_cache(), "1000/minute", &[]);
    let (user, token) = access_token(&state, Role::User).await;
    let peer = unique_peer();
    for remaining in (995..1000).rev() {
        let answer = send_from(&app, get_with_token("/api/v1/test/maybe", &token), peer).await;
        assert_eq!(answer.status, 200);
        assert_eq!(answer.headers["ratelimit-remaining"], remaining.to_string());
    }
    // The first hit leased a sixteenth of the limit from the shared counter; the next four
    // were counted in-process.
    let counter = state.cache.get(&format!("rl:general:user:{user}")).await;
    assert_eq!(counter.as_deref(), Some("62"));
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn leased_positions_never_let_two_instances_pass_the_limit(pool: PgPool) {
    let (state, one) = limited(pool.clone(), redis_cache(), "300/minute", &[]);
    let (_, two) = limited(pool, redis_cache(), "300/minute", &[]);
    let (_, token) = access_token(&state, Role::User).await;
    let counts = count_statuses(&[one, two], 400, unique_peer(), Some(token)).await;
    let passed = counts.get(&200).copied().unwrap_or(0);
    // Positions leased by one instance and left unused are lost to the other, so a request or
    // two may be refused early; never one too many let through.
    assert!((295..=300).contains(&passed), "{counts:?}");
    assert_eq!(counts.values().sum::<usize>(), 400, "{counts:?}");
    assert_eq!(counts.get(&429).copied().unwrap_or(0), 400 - passed);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn leased_positions_end_with_their_window(pool: PgPool) {
    let (state, app) = limited(pool, redis_cache(), "1000/2second", &[]);
    let (_, token) = access_token(&state, Role::User).await;
    let peer = unique_peer();
    let remaining = || async {
        let answer = send_from(&app, get_with_token("/api/v1/test/maybe", &token), peer).await;
        assert_eq!(answer.status, 200);
        answer.headers["ratelimit-remaining"]
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(remaining().await, "999");
    assert_eq!(remaining().await, "998");
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    // A new window: the positions left from the old one are not used.
    assert_eq!(remaining().await, "999");
}

/// Issue 12 (M1): a bearer buys no fresh budget. One address counts at most ten users'
/// worth on authenticated routes; a revoked session's bearer, and any bearer on an anonymous
/// route, count the address.
#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn bearers_count_only_live_users_on_their_routes_under_an_address_ceiling(pool: PgPool) {
    let (state, app) = limited(pool, redis_cache(), "3/minute", &[]);
    let peer = unique_peer();
    let mut people = Vec::new();
    for _ in 0..11 {
        people.push(access_token(&state, Role::User).await.1);
    }
    let mut statuses = Vec::new();
    for token in &people {
        for _ in 0..3 {
            let me = send_from(&app, get_with_token("/api/v1/test/me", token), peer).await;
            statuses.push(me.status.as_u16());
        }
    }
    assert_eq!(statuses[..30], [200; 30], "ten users' worth pass");
    assert_eq!(statuses[30..], [429; 3], "the address's ceiling");

    // A bearer on an anonymous route is an address like any other.
    let peer = unique_peer();
    let echo = |token: &str| {
        let mut request = post_json("/api/v1/test/echo", r#"{"email":"a@b.c","nickname":"x"}"#);
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        request
    };
    let mut statuses = Vec::new();
    for token in &people[..4] {
        statuses.push(send_from(&app, echo(token), peer).await.status.as_u16());
    }
    assert_eq!(statuses, [201, 201, 201, 429]);

    // A revoked session's bearer counts its address too: three requests, then 429 for it and
    // for anonymous requests from there, whatever the token.
    let peer = unique_peer();
    let (user, revoked) = access_token(&state, Role::User).await;
    let claims: shared::auth::AccessClaims = state
        .tokens
        .verify(shared::auth::TokenKind::Access, &revoked)
        .unwrap();
    shared::domain::accounts::sessions::revoke(&state, user, claims.sid, "logout")
        .await
        .unwrap();
    for _ in 0..3 {
        let me = send_from(&app, get_with_token("/api/v1/test/me", &revoked), peer).await;
        assert_eq!(me.status, 401);
    }
    let fourth = send_from(&app, get_with_token("/api/v1/test/me", &revoked), peer).await;
    assert_eq!(fourth.status, 429);
    assert_eq!(
        send_from(&app, get("/api/v1/test/maybe"), peer)
            .await
            .status,
        429
    );
}
