//! What people write for themselves never reaches a log or an error: journal notes and chat
//! messages go through the local server at the most talkative log level — written, changed,
//! listed, streamed, refused as invalid or malformed, and failing to open — and neither the
//! log nor any error answer holds a word of them.

mod common;

use common::*;
use serde_json::{Value, json};

/// Words that appear nowhere else (Hangul and Latin, as people mix them).
const NOTE: &str = "비밀노트 zq7 오늘은 아무에게도 말 못 할 일";
const MESSAGE: &str = "비밀대화 xk9 요즘 너무 외롭고 사라지고 싶어";

fn private(text: &str) -> bool {
    ["비밀노트", "zq7", "비밀대화", "xk9"]
        .iter()
        .any(|w| text.contains(w))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journal_and_chat_words_stay_out_of_logs_and_errors() {
    let log = std::env::temp_dir().join(format!("mindpause-log-{}", uuid::Uuid::now_v7()));
    let server =
        LocalServer::logging_to(&log, &[("RUST_LOG", "debug"), ("LOG_FORMAT", "json")]).await;
    let register = client()
        .post(server.url("/api/v1/auth/register"))
        .json(&json!({ "email": "quiet@example.com", "password": "correct horse battery", "nickname": "조용한" }))
        .send()
        .await
        .unwrap();
    let body: Value = register.json().await.unwrap();
    let token = body["data"]["tokens"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // The journal: written.
    let (status, created) = send_raw(
        &server,
        "POST",
        "/api/v1/emotions",
        &token,
        json!({ "emotion": "sad", "intensity": 4, "note": NOTE }).to_string(),
    )
    .await;
    assert_eq!(status, 201);
    let id = serde_json::from_str::<Value>(&created).unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (_, conversation) = send_raw(
        &server,
        "POST",
        "/api/v1/chat/conversations",
        &token,
        "{}".into(),
    )
    .await;
    let conversation = serde_json::from_str::<Value>(&conversation).unwrap()["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let entry = format!("/api/v1/emotions/{id}");
    let chat = format!("/api/v1/chat/conversations/{conversation}");
    let messages = format!("{chat}/messages");
    let requests: Vec<(&str, &str, String, u16)> = vec![
        // The journal: changed, listed; refused too long, with the words as a wrong type or
        // an unknown choice, and in broken JSON.
        (
            "PATCH",
            &entry,
            json!({ "note": format!("{NOTE} 2") }).to_string(),
            200,
        ),
        ("GET", "/api/v1/emotions?limit=20", String::new(), 200),
        (
            "POST",
            "/api/v1/emotions",
            json!({ "emotion": "sad", "intensity": 4, "note": NOTE.repeat(80) }).to_string(),
            422,
        ),
        (
            "POST",
            "/api/v1/emotions",
            json!({ "emotion": "sad", "intensity": NOTE }).to_string(),
            422,
        ),
        (
            "POST",
            "/api/v1/emotions",
            format!("{{\"emotion\": \"sad\", \"note\": \"{NOTE}"),
            400,
        ),
        (
            "POST",
            "/api/v1/emotions",
            json!({ "emotion": NOTE, "intensity": 1 }).to_string(),
            422,
        ),
        ("PATCH", &entry, json!({ "tags": NOTE }).to_string(), 422),
        // The chat: a message (showing risk), refusals, the conversation read back.
        (
            "POST",
            &messages,
            json!({ "content": MESSAGE }).to_string(),
            201,
        ),
        (
            "POST",
            &messages,
            json!({ "content": MESSAGE.repeat(100) }).to_string(),
            422,
        ),
        (
            "POST",
            &messages,
            json!({ "content": MESSAGE, "role": "system" }).to_string(),
            422,
        ),
        (
            "POST",
            "/api/v1/chat/conversations",
            json!({ "title": MESSAGE.repeat(10) }).to_string(),
            422,
        ),
        ("GET", &chat, String::new(), 200),
    ];
    let mut errors = Vec::new();
    for (method, path, body, wanted) in requests {
        let (status, text) = send_raw(&server, method, path, &token, body).await;
        assert_eq!(status, wanted, "{method} {path}: {text}");
        if status >= 400 {
            errors.push(text);
        }
    }
    // A streamed message.
    let streamed = client()
        .post(server.url(&messages))
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .json(&json!({ "content": format!("{MESSAGE} 스트림") }))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 200);
    let _ = streamed.text().await.unwrap();

    // A failure inside: a chat message moved into the note does not open (bound to its column).
    let db = sqlx::PgPool::connect(&server.database_url()).await.unwrap();
    sqlx::query("UPDATE emotion_logs SET note = (SELECT content FROM chat_messages LIMIT 1)")
        .execute(&db)
        .await
        .unwrap();
    let (status, text) = send_raw(&server, "GET", &entry, &token, String::new()).await;
    assert_eq!(status, 500, "{text}");
    errors.push(text);

    assert!(server.stop().await.success());
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(
        logged.lines().count() > 20,
        "the log was captured: {logged}"
    );
    assert!(
        logged.contains("a sealed value does not open"),
        "the failure was logged"
    );
    for line in logged.lines() {
        assert!(!private(line), "a log line holds their words: {line}");
    }
    for error in &errors {
        assert!(
            !private(error),
            "an error answer holds their words: {error}"
        );
    }
    assert_eq!(errors.len(), 9);
    let _ = std::fs::remove_file(log);
}
