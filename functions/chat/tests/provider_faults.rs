//! Fault drills for the AI provider: one that never answers, one that trickles its reply a
//! piece at a time for ever. Each request ends with AI_UNAVAILABLE within
//! `OPENAI_TIMEOUT_SECS` (3 s here), the person's message is kept, and the function answers
//! other requests while the provider holds its replies.

mod common;

use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::post;
use common::*;
use serde_json::{Value, json};
use shared::auth::Role;
use sqlx::PgPool;

/// How many replies hang at once.
const STUCK: usize = 8;

/// A provider whose completions never end: no answer at all, or (`trickle`) a streamed
/// reply of one piece every 300 ms for ever.
async fn stuck_provider(trickle: bool) -> String {
    let completions = move || async move {
        if !trickle {
            return std::future::pending::<Response>().await;
        }
        let pieces = futures_util::stream::unfold((), |()| async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let chunk = json!({
                "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000u32,
                "model": "gpt-test",
                "choices": [{ "index": 0, "delta": { "content": "음… " }, "finish_reason": null }]
            });
            Some((
                Ok::<_, std::convert::Infallible>(format!("data: {chunk}\n\n")),
                (),
            ))
        });
        Response::builder()
            .header("content-type", "text/event-stream")
            .body(Body::from_stream(pieces))
            .unwrap()
    };
    let app = Router::new()
        .route(
            "/v1/moderations",
            post(|| async { axum::Json(moderation(false)) }),
        )
        .route("/v1/chat/completions", post(completions));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/v1")
}

async fn drill(pool: PgPool, trickle: bool) {
    let base = stuck_provider(trickle).await;
    let h = std::sync::Arc::new(harness(
        pool,
        &[
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", base.as_str()),
            ("OPENAI_TIMEOUT_SECS", "3"),
        ],
    ));
    let (_, token) = access_token(&h.state, Role::User).await;
    let mut replies = Vec::new();
    for i in 0..STUCK {
        let id = conversation(&h, &token).await;
        let (h, token) = (h.clone(), token.clone());
        replies.push(tokio::spawn(async move {
            let started = Instant::now();
            let ask = async {
                let words = format!("듣고 있니 {i}");
                if trickle {
                    let events = events(stream(&h, &token, &id, &words).await).await;
                    let (last, error) = events.last().cloned().unwrap();
                    assert_eq!(last, "error", "a trickled stream ends with an error event");
                    error
                } else {
                    let answer = say(&h, &token, &id, &words).await;
                    assert_eq!(answer.status, 503, "{}", answer.body);
                    answer.body
                }
            };
            let error = tokio::time::timeout(Duration::from_secs(10), ask)
                .await
                .expect("the request ends (it was still open after 10 s)");
            assert_eq!(error["error"]["code"], "AI_UNAVAILABLE", "{error}");
            started.elapsed()
        }));
    }
    // While every reply is held by the provider, the function answers everything else.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for _ in 0..5 {
        let list = h
            .call("GET", "/conversations", Some(&token), Value::Null)
            .await;
        assert_eq!(list.status, 200, "{}", list.body);
    }
    assert!(
        replies.iter().all(|r| !r.is_finished()),
        "the other requests were answered while the provider held the replies"
    );
    for reply in replies {
        let took = reply.await.unwrap();
        assert!(
            took >= Duration::from_secs(3) && took < Duration::from_secs(7),
            "ended at the deadline, not before nor long after: {took:?}"
        );
    }
    let kept = count(&h, "SELECT count(*) FROM chat_messages WHERE role = 'user'").await;
    assert_eq!(kept, STUCK as i64, "every person's message is kept");
    let replies = count(
        &h,
        "SELECT count(*) FROM chat_messages WHERE role = 'assistant'",
    )
    .await;
    assert_eq!(replies, 0, "no half reply is saved");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_provider_that_never_answers_is_cut_at_the_deadline(pool: PgPool) {
    drill(pool, false).await;
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_provider_that_trickles_is_cut_at_the_deadline(pool: PgPool) {
    drill(pool, true).await;
}
