//! Text a client controls cannot forge a log line: requests carrying line breaks and a fake
//! log line in every place a client can put text (path, query, headers, JSON keys and
//! values, malformed bodies) leave a log in which, in JSON, every line is one JSON object
//! and, in the readable format, no line starts with the forged text.

mod common;

use common::*;

const FORGED: &str = "FORGED ERROR admin logged in";

/// Requests with the forged line after a line break, wherever a client can put text.
async fn hostile_requests(server: &LocalServer) {
    let register = client()
        .post(server.url("/api/v1/auth/register"))
        .json(&serde_json::json!({ "email": "quiet@example.com", "password": "correct horse battery", "nickname": "조용한" }))
        .send()
        .await
        .unwrap();
    let body: serde_json::Value = register.json().await.unwrap();
    let token = body["data"]["tokens"]["access_token"].as_str().unwrap();
    let line = format!("\n{FORGED}\r\n{FORGED}");
    let escaped = serde_json::to_string(&line).unwrap();
    let escaped = escaped.trim_matches('"');
    let encoded = line
        .replace('\n', "%0A")
        .replace('\r', "%0D")
        .replace(' ', "%20");
    let bodies = [
        format!(r#"{{"emotion":"calm{escaped}","intensity":3}}"#),
        format!(r#"{{"emotion":"calm","intensity":3,"x{escaped}":1}}"#),
        format!(r#"{{"emotion":"calm","intensity":"{escaped}"}}"#),
        format!(r#"{{"emotion":"calm{escaped}"#),
        format!("{{{escaped}"),
    ];
    for body in bodies {
        let (status, _) = send_raw(server, "POST", "/api/v1/emotions", token, body).await;
        assert!((400..500).contains(&status));
    }
    for path in [
        format!("/api/v1/emotions/{encoded}"),
        format!("/api/v1/emotions?cursor={encoded}&limit={encoded}"),
        format!("/{encoded}"),
    ] {
        let response = client()
            .get(server.url(&path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert!(response.status().is_client_error(), "{path}");
    }
    // Header values cannot hold line breaks; the rest of the line can still arrive.
    let response = client()
        .get(server.url("/api/v1/emotions"))
        .bearer_auth(token)
        .header("x-request-id", FORGED)
        .header("traceparent", FORGED)
        .header("x-cloud-trace-context", FORGED)
        .header("user-agent", FORGED)
        .header("accept-language", FORGED)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let response = client()
        .get(server.url("/api/v1/emotions"))
        .header("authorization", format!("Bearer {FORGED}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}

async fn log_of(format: &str) -> String {
    let log = std::env::temp_dir().join(format!("mindpause-log-{}", uuid::Uuid::now_v7()));
    let server =
        LocalServer::logging_to(&log, &[("RUST_LOG", "debug"), ("LOG_FORMAT", format)]).await;
    hostile_requests(&server).await;
    server.stop().await;
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    text
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_text_cannot_forge_a_json_log_line() {
    let log = log_of("json").await;
    assert!(log.lines().count() > 10, "the requests were logged");
    for line in log.lines() {
        let parsed: Result<serde_json::Value, _> = serde_json::from_str(line);
        assert!(
            parsed.is_ok_and(|v| v.is_object()),
            "not one JSON object: {line}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_text_cannot_forge_a_readable_log_line() {
    let log = log_of("pretty").await;
    assert!(log.lines().count() > 10, "the requests were logged");
    // The text does reach the log (the paths, percent-encoded as they came).
    assert!(log.contains(FORGED.replace(' ', "%20").as_str()));
    for line in log.lines() {
        assert!(
            !line.trim_start().starts_with(FORGED),
            "a forged line: {line}"
        );
    }
}
