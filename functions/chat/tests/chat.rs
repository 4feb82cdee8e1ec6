//! The chat function against a wiremock OpenAI-compatible server: plain and streamed replies,
//! retries, failures that keep the person's message, disconnects, context truncation, crisis
//! safety, the rate limit and someone else's conversations.

use std::time::Duration;

use http_body_util::BodyExt;
use serde_json::{Value, json};
use shared::AppState;
use shared::auth::Role;
use shared::cache::Cache;
use shared::testing::*;
use sqlx::PgPool;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

struct Harness {
    app: axum::Router,
    state: AppState,
}

impl Harness {
    fn new(pool: PgPool, extra: &[(&str, &str)]) -> Self {
        Self::with_cache(pool, extra, Cache::memory())
    }

    fn with_cache(pool: PgPool, extra: &[(&str, &str)], cache: Cache) -> Self {
        let state = state(pool, cache, settings(extra));
        Self {
            app: service_app(&state, "chat", chat::routes()),
            state,
        }
    }

    async fn openai(pool: PgPool, server: &MockServer, extra: &[(&str, &str)]) -> Self {
        let base = format!("{}/v1", server.uri());
        let mut vars = vec![
            ("OPENAI_API_KEY", "sk-test"),
            ("OPENAI_BASE_URL", base.as_str()),
            ("OPENAI_TIMEOUT_SECS", "2"),
        ];
        vars.extend_from_slice(extra);
        Self::new(pool, &vars)
    }

    async fn call(&self, method: &str, token: &str, path: &str, body: Value) -> Answer {
        let body = (!body.is_null()).then(|| body.to_string());
        send(
            &self.app,
            json_request(
                method,
                &format!("/api/v1/chat{path}"),
                Some(token),
                body.as_deref(),
            ),
        )
        .await
    }

    async fn conversation(&self, token: &str) -> String {
        let a = self.call("POST", token, "/conversations", json!({})).await;
        assert_eq!(a.status, 201, "{}", a.body);
        a.body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// Sends a message asking for SSE; the raw response.
    async fn stream(&self, token: &str, id: &str, content: &str) -> axum::response::Response {
        let path = format!("/api/v1/chat/conversations/{id}/messages");
        tower::ServiceExt::oneshot(self.app.clone(), streaming(&path, token, content))
            .await
            .unwrap()
    }

    async fn say(&self, token: &str, id: &str, content: &str) -> Answer {
        self.call(
            "POST",
            token,
            &format!("/conversations/{id}/messages"),
            json!({ "content": content }),
        )
        .await
    }

    async fn count(&self, sql: &'static str) -> i64 {
        sqlx::query_scalar(sql)
            .fetch_one(&self.state.db)
            .await
            .unwrap()
    }
}

fn completion(text: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000u32, "model": "gpt-test",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15 }
    })
}

fn sse(pieces: &[&str]) -> String {
    let mut body = String::new();
    for (i, piece) in pieces.iter().enumerate() {
        let delta = if i == 0 {
            json!({ "role": "assistant", "content": piece })
        } else {
            json!({ "content": piece })
        };
        let chunk = json!({
            "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000u32, "model": "gpt-test",
            "choices": [{ "index": 0, "delta": delta, "finish_reason": null }]
        });
        body.push_str(&format!("data: {chunk}\n\n"));
    }
    let last = json!({
        "id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1_700_000_000u32, "model": "gpt-test",
        "choices": [{ "index": 0, "delta": {}, "finish_reason": "stop" }]
    });
    body.push_str(&format!("data: {last}\n\ndata: [DONE]\n\n"));
    body
}

fn moderation(self_harm: bool) -> Value {
    let names = [
        "hate",
        "hate/threatening",
        "harassment",
        "harassment/threatening",
        "illicit",
        "illicit/violent",
        "self-harm",
        "self-harm/intent",
        "self-harm/instructions",
        "sexual",
        "sexual/minors",
        "violence",
        "violence/graphic",
    ];
    let categories: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                json!(self_harm && n.starts_with("self-harm")),
            )
        })
        .collect();
    let scores: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| {
            (
                n.to_string(),
                json!(if self_harm && n.starts_with("self-harm") {
                    0.9
                } else {
                    0.01
                }),
            )
        })
        .collect();
    let applied: serde_json::Map<String, Value> = names
        .iter()
        .map(|n| (n.to_string(), json!(["text"])))
        .collect();
    json!({ "id": "modr-1", "model": "omni-moderation-latest", "results": [{
        "flagged": self_harm, "categories": categories, "category_scores": scores, "category_applied_input_types": applied
    }]})
}

async fn openai_server(reply: ResponseTemplate, flags_self_harm: bool) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/moderations"))
        .respond_with(ResponseTemplate::new(200).set_body_json(moderation(flags_self_harm)))
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(reply)
        .mount(&server)
        .await;
    server
}

async fn completions_received(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/chat/completions")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_plain_reply_is_saved_with_the_message(pool: PgPool) {
    let server = openai_server(
        ResponseTemplate::new(200).set_body_json(completion("많이 힘드셨겠어요.")),
        false,
    )
    .await;
    let h = Harness::openai(pool, &server, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = h.conversation(&token).await;
    let a = h.say(&token, &id, "  오늘 좀 우울했어  ").await;
    assert_eq!(a.status, 201, "{}", a.body);
    let data = &a.body["data"];
    assert_eq!(data["user_message"]["content"], "오늘 좀 우울했어");
    assert_eq!(data["user_message"]["role"], "user");
    assert!(data["user_message"].get("provider").is_none());
    assert_eq!(data["assistant_message"]["content"], "많이 힘드셨겠어요.");
    assert_eq!(data["assistant_message"]["provider"], "openai");
    assert_eq!(
        data["safety"],
        json!({ "crisis_detected": false, "resources": [] })
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
        .call("GET", &token, &format!("/conversations/{id}"), Value::Null)
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
    let h = Harness::openai(pool, &server, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = h.conversation(&token).await;
    let a = h.say(&token, &id, "안녕").await;
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
        let h = Harness::openai(pool.clone(), &server, &[]).await;
        let (_, token) = access_token(&h.state, Role::User).await;
        let id = h.conversation(&token).await;
        let a = h.say(&token, &id, "내 말 들려?").await;
        assert_error(&a, 503, "AI_UNAVAILABLE");
        assert!(!a.body.to_string().contains("upstream broke"), "{label}");
        let detail = h
            .call("GET", &token, &format!("/conversations/{id}"), Value::Null)
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

/// Reads an SSE body into (event, data) pairs.
async fn events(response: axum::response::Response) -> Vec<(String, Value)> {
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(bytes.to_vec()).unwrap();
    text.split("\n\n")
        .filter(|block| !block.trim().is_empty() && !block.starts_with(':'))
        .map(|block| {
            let mut event = String::new();
            let mut data = String::new();
            for line in block.lines() {
                if let Some(e) = line.strip_prefix("event: ") {
                    event = e.to_owned();
                }
                if let Some(d) = line.strip_prefix("data: ") {
                    data.push_str(d);
                }
            }
            (event, serde_json::from_str(&data).unwrap())
        })
        .collect()
}

fn streaming(path: &str, token: &str, content: &str) -> axum::http::Request<axum::body::Body> {
    let mut request = json_request(
        "POST",
        path,
        Some(token),
        Some(&json!({ "content": content }).to_string()),
    );
    request
        .headers_mut()
        .insert("accept", "text/event-stream".parse().unwrap());
    request
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
    let h = Harness::openai(pool, &server, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = h.conversation(&token).await;
    let response = h.stream(&token, &id, "오늘 힘들었어").await;
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
        h.count("SELECT count(*) FROM chat_messages WHERE role = 'assistant'")
            .await,
        1
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn a_broken_stream_ends_with_an_error_event(pool: PgPool) {
    let server = openai_server(ResponseTemplate::new(500), false).await;
    let h = Harness::openai(pool, &server, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = h.conversation(&token).await;
    let response = h.stream(&token, &id, "안녕").await;
    let events = events(response).await;
    let (last, error) = events.last().unwrap();
    assert_eq!(last, "error");
    assert_eq!(error["error"]["code"], "AI_UNAVAILABLE");
    assert_eq!(
        h.count("SELECT count(*) FROM chat_messages").await,
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
    let h = Harness::openai(pool, &server, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = h.conversation(&token).await;
    let response = h.stream(&token, &id, "안녕").await;
    // Read one frame (or nothing), then hang up.
    let mut body = response.into_body();
    let _ = tokio::time::timeout(Duration::from_millis(100), body.frame()).await;
    drop(body);
    let expected: String = pieces.concat();
    for _ in 0..100 {
        let saved: Option<String> =
            sqlx::query_scalar("SELECT content FROM chat_messages WHERE role = 'assistant'")
                .fetch_optional(&h.state.db)
                .await
                .unwrap();
        if let Some(saved) = saved {
            assert_eq!(saved, expected);
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
    let h = Harness::openai(pool, &server, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = h.conversation(&token).await;
    // 60 old messages of 500 characters each: far over the budget.
    sqlx::query(
        "INSERT INTO chat_messages (id, conversation_id, role, content, created_at)
         SELECT gen_random_uuid(), $1, CASE WHEN i % 2 = 0 THEN 'user' ELSE 'assistant' END,
                repeat('가', 500), now() - (61 - i) * interval '1 minute'
         FROM generate_series(1, 60) AS i",
    )
    .bind(uuid::Uuid::parse_str(&id).unwrap())
    .execute(&h.state.db)
    .await
    .unwrap();
    assert_eq!(h.say(&token, &id, "마지막 말").await.status, 201);
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

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn crisis_puts_the_person_first_whatever_the_model_says(pool: PgPool) {
    let server = openai_server(
        ResponseTemplate::new(200).set_body_json(completion("그렇군요.")),
        false,
    )
    .await;
    let h = Harness::openai(pool.clone(), &server, &[]).await;
    let (user, token) = access_token(&h.state, Role::User).await;
    let id = h.conversation(&token).await;
    let a = h.say(&token, &id, "요즘 그냥 사라지고 싶어").await;
    assert_eq!(a.status, 201, "{}", a.body);
    let reply = a.body["data"]["assistant_message"]["content"]
        .as_str()
        .unwrap();
    for line in ["109", "1577-0199", "1388"] {
        assert!(reply.contains(line), "{reply}");
    }
    assert!(reply.ends_with("그렇군요."), "the model's words come after");
    let safety = &a.body["data"]["safety"];
    assert_eq!(safety["crisis_detected"], true);
    let phones: Vec<_> = safety["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["phone"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(phones, ["109", "1577-0199", "1388"]);
    // Recorded, without the words.
    let (events, sources): (i64, Vec<String>) =
        sqlx::query_as("SELECT count(*), max(sources) FROM safety_events WHERE user_id = $1")
            .bind(user)
            .fetch_one(&h.state.db)
            .await
            .map(|(c, s): (i64, Option<Vec<String>>)| (c, s.unwrap_or_default()))
            .unwrap();
    assert_eq!((events, sources), (1, vec!["lexicon".to_owned()]));
    let columns: Vec<String> = sqlx::query_scalar("SELECT column_name::text FROM information_schema.columns WHERE table_name = 'safety_events'")
        .fetch_all(&h.state.db).await.unwrap();
    assert!(
        !columns
            .iter()
            .any(|c| c.contains("content") || c.contains("text"))
    );

    // With the model down, the person still gets the crisis lines (not a 503).
    let down = openai_server(ResponseTemplate::new(500), false).await;
    let h = Harness::openai(pool.clone(), &down, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = h.conversation(&token).await;
    let a = h.say(&token, &id, "I want to kill myself").await;
    assert_eq!(a.status, 201, "{}", a.body);
    assert!(
        a.body["data"]["assistant_message"]["content"]
            .as_str()
            .unwrap()
            .contains("109")
    );

    // Moderation catches what the lexicon misses.
    let flagging = openai_server(
        ResponseTemplate::new(200).set_body_json(completion("곁에 있을게요.")),
        true,
    )
    .await;
    let h = Harness::openai(pool, &flagging, &[]).await;
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = h.conversation(&token).await;
    let a = h.say(&token, &id, "오늘 밤이 마지막이면 좋겠다").await;
    assert_eq!(a.body["data"]["safety"]["crisis_detected"], true);
    assert!(
        a.body["data"]["assistant_message"]["content"]
            .as_str()
            .unwrap()
            .contains("1577-0199")
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn the_offline_companion_answers_without_a_key(pool: PgPool) {
    let h = Harness::new(pool, &[]);
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = h.conversation(&token).await;
    let a = h.say(&token, &id, "오늘 너무 피곤해").await;
    assert_eq!(a.status, 201, "{}", a.body);
    let reply = &a.body["data"]["assistant_message"];
    assert_eq!(reply["provider"], "offline");
    assert!(reply["content"].as_str().unwrap().contains("오프라인"));
    let again = h.say(&token, &id, "오늘 너무 피곤해").await;
    assert_eq!(
        again.body["data"]["assistant_message"]["content"], reply["content"],
        "deterministic"
    );
    // Streaming works offline too.
    let response = h.stream(&token, &id, "외로워").await;
    let events = events(response).await;
    assert!(events.iter().filter(|(e, _)| e == "delta").count() > 3);
    assert_eq!(
        events.last().unwrap().1["data"]["assistant_message"]["provider"],
        "offline"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn validation(pool: PgPool) {
    let h = Harness::new(pool, &[]);
    let (_, token) = access_token(&h.state, Role::User).await;
    let id = h.conversation(&token).await;
    for body in [
        json!({ "content": "" }),
        json!({ "content": "   " }),
        json!({ "content": "가".repeat(2001) }),
        json!({}),
        json!({ "content": "x", "role": "system" }),
    ] {
        let e = h
            .call(
                "POST",
                &token,
                &format!("/conversations/{id}/messages"),
                body.clone(),
            )
            .await;
        let e = assert_error(&e, 422, "VALIDATION_ERROR");
        assert!(
            e["details"]["fields"].as_object().unwrap().len() == 1,
            "{body}: {e}"
        );
    }
    assert_eq!(
        h.count("SELECT count(*) FROM chat_messages").await,
        0,
        "nothing saved"
    );
    let long_title = h
        .call(
            "POST",
            &token,
            "/conversations",
            json!({ "title": "가".repeat(101) }),
        )
        .await;
    assert_error(&long_title, 422, "VALIDATION_ERROR");
    let titled = h
        .call(
            "POST",
            &token,
            "/conversations",
            json!({ "title": "  나의 일기  " }),
        )
        .await;
    assert_eq!(titled.body["data"]["title"], "나의 일기");
    assert_error(
        &h.call("GET", &token, "/conversations/nope", Value::Null)
            .await,
        404,
        "NOT_FOUND",
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn messages_are_limited_per_user(pool: PgPool) {
    // Real Redis: the limit is counted by the same script as the general limit.
    let h = Harness::with_cache(pool, &[("RATE_LIMIT_AI_CHAT", "2/hour")], redis_cache());
    let (_, token) = access_token(&h.state, Role::User).await;
    let (_, other) = access_token(&h.state, Role::User).await;
    let id = h.conversation(&token).await;
    let first = h.say(&token, &id, "안녕").await;
    assert_eq!(first.status, 201);
    assert_eq!(
        first.headers["ratelimit-limit"], "2",
        "the chat limit's headers"
    );
    assert_eq!(first.headers["ratelimit-remaining"], "1");
    assert_eq!(h.say(&token, &id, "안녕").await.status, 201);
    let limited = h.say(&token, &id, "안녕").await;
    assert_error(&limited, 429, "RATE_LIMITED");
    assert!(limited.headers.contains_key("retry-after"));
    assert_eq!(limited.headers["ratelimit-limit"], "2");
    assert_eq!(
        h.count("SELECT count(*) FROM chat_messages").await,
        4,
        "the refused message was not saved"
    );
    let theirs = h.conversation(&other).await;
    assert_eq!(
        h.say(&other, &theirs, "안녕").await.status,
        201,
        "another person has their own budget"
    );
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn someone_elses_conversation_is_not_found(pool: PgPool) {
    let h = Harness::new(pool, &[]);
    let (_, alice) = access_token(&h.state, Role::User).await;
    let (_, mallory) = access_token(&h.state, Role::User).await;
    let id = h.conversation(&alice).await;
    h.say(&alice, &id, "비밀 이야기").await;
    assert_error(
        &h.call(
            "GET",
            &mallory,
            &format!("/conversations/{id}"),
            Value::Null,
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_error(&h.say(&mallory, &id, "엿보기").await, 404, "NOT_FOUND");
    assert_error(
        &h.call(
            "DELETE",
            &mallory,
            &format!("/conversations/{id}"),
            Value::Null,
        )
        .await,
        404,
        "NOT_FOUND",
    );
    assert_eq!(
        h.call("GET", &mallory, "/conversations", Value::Null)
            .await
            .body["data"]["items"],
        json!([])
    );
    assert_eq!(h.count("SELECT count(*) FROM chat_messages").await, 2);
    assert_eq!(
        h.call(
            "DELETE",
            &alice,
            &format!("/conversations/{id}"),
            Value::Null
        )
        .await
        .status,
        200
    );
    assert_eq!(h.count("SELECT count(*) FROM chat_messages").await, 0);
}

#[sqlx::test(migrator = "shared::db::MIGRATOR")]
async fn conversations_list_by_activity_and_messages_page_backwards(pool: PgPool) {
    let h = Harness::new(pool, &[("RATE_LIMIT_AI_CHAT", "1000/hour")]);
    let (_, token) = access_token(&h.state, Role::User).await;
    let first = h.conversation(&token).await;
    let second = h.conversation(&token).await;
    h.say(&token, &first, "다시 왔어").await;
    let list = h.call("GET", &token, "/conversations", Value::Null).await;
    let ids: Vec<_> = list.body["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, [first.clone(), second]);

    for i in 0..5 {
        h.say(&token, &first, &format!("메시지 {i}")).await;
    }
    // 12 messages in all; read them back 5 at a time, newest page first.
    let mut seen: Vec<String> = Vec::new();
    let mut path = format!("/conversations/{first}?limit=5");
    loop {
        let page = h.call("GET", &token, &path, Value::Null).await;
        let messages: Vec<String> = page.body["data"]["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["id"].as_str().unwrap().to_owned())
            .collect();
        let mut older = messages.clone();
        older.extend(seen);
        seen = older;
        match page.body["data"]["next_cursor"].as_str() {
            Some(c) => path = format!("/conversations/{first}?limit=5&before={c}"),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(
        seen, sorted,
        "oldest to newest, no duplicates (ids are time-ordered)"
    );
}
