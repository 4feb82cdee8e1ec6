//! The chat function as it runs, a wiremock OpenAI-compatible server, and what the tests
//! share.
#![allow(dead_code)]

use http_body_util::BodyExt;
use serde_json::{Value, json};
pub use shared::testing::*;
use sqlx::PgPool;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub fn harness(pool: PgPool, extra: &[(&str, &str)]) -> Harness {
    Harness::new(pool, "chat", chat::routes(), extra)
}

/// The chat function with OpenAI at `server`.
pub async fn openai_harness(pool: PgPool, server: &MockServer, extra: &[(&str, &str)]) -> Harness {
    let base = format!("{}/v1", server.uri());
    let mut vars = vec![
        ("OPENAI_API_KEY", "sk-test"),
        ("OPENAI_BASE_URL", base.as_str()),
        ("OPENAI_TIMEOUT_SECS", "2"),
    ];
    vars.extend_from_slice(extra);
    harness(pool, &vars)
}

/// A new conversation of `token`'s person: its id.
pub async fn conversation(h: &Harness, token: &str) -> String {
    let a = h
        .call("POST", "/conversations", Some(token), json!({}))
        .await;
    assert_eq!(a.status, 201, "{}", a.body);
    a.body["data"]["id"].as_str().unwrap().to_owned()
}

/// Sends a message asking for SSE; the raw response.
pub async fn stream(h: &Harness, token: &str, id: &str, content: &str) -> axum::response::Response {
    let path = h.path(&format!("/conversations/{id}/messages"));
    tower::ServiceExt::oneshot(h.app.clone(), streaming(&path, token, content))
        .await
        .unwrap()
}

pub async fn say(h: &Harness, token: &str, id: &str, content: &str) -> Answer {
    let path = format!("/conversations/{id}/messages");
    h.call("POST", &path, Some(token), json!({ "content": content }))
        .await
}

pub async fn count(h: &Harness, sql: &'static str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(&h.admin).await.unwrap()
}

pub fn completion(text: &str) -> Value {
    json!({
        "id": "chatcmpl-1", "object": "chat.completion", "created": 1_700_000_000u32, "model": "gpt-test",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 10, "completion_tokens": 5, "total_tokens": 15 }
    })
}

pub fn sse(pieces: &[&str]) -> String {
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

pub fn moderation(self_harm: bool) -> Value {
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

pub async fn openai_server(reply: ResponseTemplate, flags_self_harm: bool) -> MockServer {
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

pub async fn completions_received(server: &MockServer) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.url.path() == "/v1/chat/completions")
        .map(|r| serde_json::from_slice(&r.body).unwrap())
        .collect()
}

/// Reads an SSE body into (event, data) pairs.
pub async fn events(response: axum::response::Response) -> Vec<(String, Value)> {
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

pub fn streaming(path: &str, token: &str, content: &str) -> axum::http::Request<axum::body::Body> {
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
