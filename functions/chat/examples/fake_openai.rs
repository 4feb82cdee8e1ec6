//! An OpenAI-compatible server that answers at once, for `scripts/bench.sh chat`: moderation
//! (nothing flagged) and chat completions, plain or streamed. Usage: `fake_openai PORT`.
//! The answers are built once and the requests are not parsed: it shares the cores with the
//! server it measures, so it should cost as little as the real provider (nothing, here).

use axum::Router;
use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::post;
use std::sync::LazyLock;

use serde_json::{Value, json};

const CATEGORIES: [&str; 13] = [
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

fn map(value: Value) -> serde_json::Map<String, Value> {
    CATEGORIES
        .iter()
        .map(|c| (c.to_string(), value.clone()))
        .collect()
}

fn moderation() -> String {
    json!({ "id": "modr", "model": "omni-moderation-latest", "results": [{
        "flagged": false, "categories": map(json!(false)), "category_scores": map(json!(0.0)),
        "category_applied_input_types": map(json!(["text"])),
    }]})
    .to_string()
}

fn chunk(delta: Value, finish: Value) -> String {
    let chunk = json!({ "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "fake",
        "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }] });
    format!("data: {chunk}\n\n")
}

fn streamed() -> String {
    [
        chunk(
            json!({ "role": "assistant", "content": "많이 " }),
            Value::Null,
        ),
        chunk(json!({ "content": "힘드셨겠어요." }), Value::Null),
        chunk(json!({}), json!("stop")),
        "data: [DONE]\n\n".to_owned(),
    ]
    .concat()
}

fn completion() -> String {
    json!({ "id": "c", "object": "chat.completion", "created": 1, "model": "fake",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": "많이 힘드셨겠어요." }, "finish_reason": "stop" }] })
    .to_string()
}

static MODERATION: LazyLock<String> = LazyLock::new(moderation);
static STREAMED: LazyLock<String> = LazyLock::new(streamed);
static COMPLETION: LazyLock<String> = LazyLock::new(completion);

async fn moderations() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        MODERATION.as_str(),
    )
}

async fn completions(body: Bytes) -> impl IntoResponse {
    // async-openai writes `"stream":true` for a streamed request.
    const STREAM: &[u8] = b"\"stream\":true";
    if body.windows(STREAM.len()).any(|w| w == STREAM) {
        (
            [(header::CONTENT_TYPE, "text/event-stream")],
            STREAMED.as_str(),
        )
    } else {
        (
            [(header::CONTENT_TYPE, "application/json")],
            COMPLETION.as_str(),
        )
    }
}

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .expect("usage: fake_openai PORT");
    let app = Router::new()
        .route("/v1/moderations", post(moderations))
        .route("/v1/chat/completions", post(completions));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    axum::serve(listener, app).await.unwrap();
}
