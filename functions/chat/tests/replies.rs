//! Replies from an OpenAI-compatible server: plain and streamed, retries, failures that keep
//! the person's message, disconnects, context truncation.

mod common;

use std::time::Duration;

use common::*;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use shared::auth::Role;
use sqlx::PgPool;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_plain_reply_is_saved_with_the_message(pool: PgPool) {
    let server = openai_server(
        ResponseTemplate::new(200).set_body_json(completion("많이 힘드셨겠어요.")),
        false,
    )
    .await;
    let h = openai_harness(pool, &server, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = conversation(&h, &token).await;
    let a = say(&h, &token, &id, "  오늘 좀 우울했어  ").await;
    assert_eq!(a.status, 201, "{}", a.body);
    let data = &a.body["data"];
    assert_eq!(data["user_message"]["content"], "오늘 좀 우울했어");
    assert_eq!(data["user_message"]["role"], "user");
    assert!(data["user_message"].get("provider").is_none());
    assert_eq!(data["assistant_message"]["content"], "많이 힘드셨겠어요.");
    assert_eq!(data["assistant_message"]["provider"], "openai");
    assert_eq!(
        data["safety"],
        json!({ "crisis_detected": false, "level": "none", "category": null, "resources": [] })
    );
    assert!(a.headers.contains_key("ratelimit-remaining"));

    // The model got the Korean system prompt, then the conversation.
    let request = &completions_received(&server).await[0];
    assert_eq!(request["messages"][0]["role"], "system");
    assert!(
        request["messages"][0]["content"]
            .as_str()
            .unwrap()
            .contains("AI")
    );
    assert_eq!(
        request["messages"][1],
        json!({ "role": "user", "content": "오늘 좀 우울했어" })
    );
    assert_eq!(request["max_completion_tokens"], 500);

    let detail = h
        .call(
            "GET",
            &format!("/conversations/{id}"),
            Some(&token),
            Value::Null,
        )
        .await;
    let conversation = &detail.body["data"]["conversation"];
    assert_eq!(conversation["message_count"], 2);
    assert_eq!(
        conversation["title"], "오늘 좀 우울했어",
        "a title made from the first message"
    );
    let stored = detail.body["data"]["messages"].as_array().unwrap();
    assert_eq!(
        stored,
        &[
            data["user_message"].clone(),
            data["assistant_message"].clone()
        ],
        "the answer shows both messages exactly as stored"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_429_then_success_is_retried(pool: PgPool) {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/moderations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(moderation(false)))
        .mount(&server)
        .await;
    Mock::given(method("POST")).and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(429).set_body_json(json!({ "error": { "message": "slow down", "type": "rate_limit_error", "param": null, "code": null } })))
        .up_to_n_times(1).mount(&server).await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(completion("다시 왔어요.")))
        .mount(&server)
        .await;
    let h = openai_harness(pool, &server, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = conversation(&h, &token).await;
    let a = say(&h, &token, &id, "안녕").await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert_eq!(
        a.body["data"]["assistant_message"]["content"],
        "다시 왔어요."
    );
    assert_eq!(completions_received(&server).await.len(), 2);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn failures_keep_the_message_and_the_conversation_consistent(pool: PgPool) {
    for (label, reply) in [
        (
            "500",
            ResponseTemplate::new(500).set_body_string("upstream broke"),
        ),
        (
            "timeout",
            ResponseTemplate::new(200)
                .set_body_json(completion("too late"))
                .set_delay(Duration::from_secs(4)),
        ),
    ] {
        let server = openai_server(reply, false).await;
        let h = openai_harness(pool.clone(), &server, &[]).await;
        let (_, token) = access_token(&h.state, Role::User).await;
        let id = conversation(&h, &token).await;
        let a = say(&h, &token, &id, "내 말 들려?").await;
        assert_error(&a, 503, "AI_UNAVAILABLE");
        assert!(!a.body.to_string().contains("upstream broke"), "{label}");
        let detail = h
            .call(
                "GET",
                &format!("/conversations/{id}"),
                Some(&token),
                Value::Null,
            )
            .await;
        assert_eq!(
            detail.body["data"]["conversation"]["message_count"], 1,
            "{label}"
        );
        let messages = detail.body["data"]["messages"].as_array().unwrap();
        assert_eq!(messages.len(), 1, "{label}");
        assert_eq!(messages[0]["content"], "내 말 들려?");
        if label == "500" {
            assert_eq!(
                completions_received(&server).await.len(),
                3,
                "one try and two retries"
            );
        }
    }
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn replies_stream_as_sse(pool: PgPool) {
    let server = openai_server(
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/event-stream")
            .set_body_string(sse(&["많이 ", "힘드셨", "겠어요."])),
        false,
    )
    .await;
    let h = openai_harness(pool, &server, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = conversation(&h, &token).await;
    let response = stream(&h, &token, &id, "오늘 힘들었어").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let events = events(response).await;
    let deltas: String = events
        .iter()
        .filter(|(e, _)| e == "delta")
        .map(|(_, d)| d["content"].as_str().unwrap())
        .collect();
    assert_eq!(deltas, "많이 힘드셨겠어요.");
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "done");
    assert_eq!(done["success"], true);
    assert_eq!(
        done["data"]["assistant_message"]["content"],
        "많이 힘드셨겠어요."
    );
    assert_eq!(done["data"]["user_message"]["content"], "오늘 힘들었어");
    assert_eq!(
        count(
            &h,
            "SELECT count(*) FROM chat_messages WHERE role = 'assistant'"
        )
        .await,
        1
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_broken_stream_ends_with_an_error_event(pool: PgPool) {
    let server = openai_server(ResponseTemplate::new(500), false).await;
    let h = openai_harness(pool, &server, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = conversation(&h, &token).await;
    let response = stream(&h, &token, &id, "안녕").await;
    let events = events(response).await;
    let (last, error) = events.last().unwrap();
    assert_eq!(last, "error");
    assert_eq!(error["error"]["code"], "AI_UNAVAILABLE");
    assert_eq!(
        count(&h, "SELECT count(*) FROM chat_messages").await,
        1,
        "the person's message is kept"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_client_that_leaves_mid_stream_still_gets_the_reply_saved(pool: PgPool) {
    let pieces: Vec<String> = (0..30).map(|i| format!("조각{i} ")).collect();
    let pieces: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let server = openai_server(
        ResponseTemplate::new(200)
            .insert_header("content-type", "text/event-stream")
            .set_body_string(sse(&pieces))
            .set_delay(Duration::from_millis(300)),
        false,
    )
    .await;
    let h = openai_harness(pool, &server, &[]).await;
    let (me, token) = access_token(&h.state, Role::User).await;
    let id = conversation(&h, &token).await;
    let response = stream(&h, &token, &id, "안녕").await;
    // Read one frame (or nothing), then hang up.
    let mut body = response.into_body();
    let _ = tokio::time::timeout(Duration::from_millis(100), body.frame()).await;
    drop(body);
    let expected: String = pieces.concat();
    for _ in 0..100 {
        let saved: Option<Vec<u8>> =
            sqlx::query_scalar("SELECT content FROM chat_messages WHERE role = 'assistant'")
                .fetch_optional(&h.admin)
                .await
                .unwrap();
        if let Some(saved) = saved {
            let opened = h.state.keyring.open(chat::model::CONTENT, me, &saved);
            assert_eq!(opened.unwrap(), expected);
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the reply was not saved after the client left");
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_context_is_truncated_to_the_budget(pool: PgPool) {
    let server = openai_server(
        ResponseTemplate::new(200).set_body_json(completion("네.")),
        false,
    )
    .await;
    let h = openai_harness(pool, &server, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = conversation(&h, &token).await;
    // 60 old messages of 500 characters each: far over the budget (stored as from before
    // encryption, which is read as it is).
    sqlx::query(
        "INSERT INTO chat_messages (id, conversation_id, role, content, created_at)
         SELECT gen_random_uuid(), $1, CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END,
                '\\x00'::bytea || convert_to(repeat('가', 500), 'UTF8'),
                now() - (61 - i) * interval '1 minute'
         FROM generate_series(1, 60) AS i",
    )
    .bind(uuid::Uuid::parse_str(&id).unwrap())
    .execute(&h.admin)
    .await
    .unwrap();
    assert_eq!(say(&h, &token, &id, "마지막 말").await.status, 201);
    let request = &completions_received(&server).await[0];
    let messages = request["messages"].as_array().unwrap();
    let characters: usize = messages
        .iter()
        .skip(1)
        .map(|m| m["content"].as_str().unwrap().chars().count())
        .sum();
    assert!(characters <= 6000, "{characters} characters of context");
    assert!(messages.len() > 2, "some history is kept");
    assert_eq!(
        messages.last().unwrap()["content"],
        "마지막 말",
        "the newest message is always there"
    );
}
