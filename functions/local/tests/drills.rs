//! Fault drills under load, through the real local server:
//! - the database goes away and comes back: through the outage the API answers 503
//!   SERVICE_UNAVAILABLE (never another error), it recovers by itself (no restart), and
//!   nothing is half-written (every acknowledged log is there, the daily rollup agrees
//!   exactly with the journal);
//! - SIGTERM (Cloud Run's stop) with requests and chat streams in flight: every one of them
//!   is answered in full, the streams end with their `done` event, then the process exits.
//!
//! (Redis going away under load: `revocation.rs`; the AI provider hanging or trickling:
//! `functions/chat/tests/provider_faults.rs`.)

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::*;
use serde_json::{Value, json};

const WRITERS: usize = 4;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_is_503_then_recovers_with_nothing_half_written() {
    let outage = Outage::start().await;
    let server = LocalServer::through(
        &outage,
        &[
            ("RATE_LIMIT_GENERAL", "1000000/15minute"),
            ("DATABASE_ACQUIRE_TIMEOUT_MS", "500"),
        ],
    )
    .await;
    let (_, token) = register(&server, "steady@example.com", "꾸준한사람").await;

    let done = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (url, token, done) = (server.url("/api/v1/emotions"), token.clone(), done.clone());
            tokio::spawn(async move {
                let mut answers: Vec<(u16, Value)> = Vec::new();
                let mut n = 0;
                while !done.load(Ordering::SeqCst) {
                    n += 1;
                    let body = json!({ "emotion": "calm", "intensity": 1 + (n % 5), "note": format!("{w}-{n}") });
                    let response = client().post(&url).bearer_auth(&token).json(&body).send().await;
                    let response = response.expect("the server itself stays up");
                    let status = response.status().as_u16();
                    answers.push((status, response.json().await.unwrap_or(Value::Null)));
                }
                answers
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    outage.cut();
    tokio::time::sleep(Duration::from_secs(3)).await;
    outage.restore();
    // Recovery: writes succeed again without restarting anything.
    let mut recovered = false;
    for _ in 0..100 {
        let (status, _) = call(
            &server,
            "GET",
            "/api/v1/emotions?limit=1",
            &token,
            Value::Null,
        )
        .await;
        if status == 200 {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(recovered, "the API recovered once the database was back");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    done.store(true, Ordering::SeqCst);

    let mut acknowledged = Vec::new();
    let mut unavailable = 0;
    for writer in writers {
        let answers = writer.await.unwrap();
        for (status, body) in &answers {
            match status {
                201 => acknowledged.push(body["data"]["id"].as_str().unwrap().to_owned()),
                503 => {
                    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE", "{body}");
                    unavailable += 1;
                }
                other => panic!("{other} during the outage: {body}"),
            }
        }
        assert_eq!(
            answers.last().map(|(s, _)| *s),
            Some(201),
            "this writer wrote again after the recovery"
        );
    }
    assert!(unavailable > 0, "the outage was felt");

    let db = sqlx::PgPool::connect(&server.database_url()).await.unwrap();
    let stored: Vec<String> = sqlx::query_scalar("SELECT id::text FROM emotion_logs")
        .fetch_all(&db)
        .await
        .unwrap();
    for id in &acknowledged {
        assert!(stored.contains(id), "acknowledged log {id} is missing");
    }
    // A write may have committed while its answer was lost with the connection (then it was
    // a 503): never more than those.
    assert!(stored.len() - acknowledged.len() <= unavailable);
    let disagreeing: i64 = sqlx::query_scalar(
        "WITH journal AS (
             SELECT l.user_id, (l.recorded_at AT TIME ZONE u.timezone)::date AS day, count(*)::int AS n,
                    sum(l.intensity)::int AS intensity
             FROM emotion_logs l JOIN users u ON u.id = l.user_id GROUP BY 1, 2),
         rollup AS (
             SELECT user_id, day, n, (SELECT sum(s) FROM unnest(intensity_sums) s)::int AS intensity
             FROM emotion_days WHERE n > 0)
         SELECT count(*) FROM (
             (SELECT * FROM journal EXCEPT SELECT * FROM rollup)
             UNION ALL (SELECT * FROM rollup EXCEPT SELECT * FROM journal)) d",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(disagreeing, 0, "the rollup agrees with the journal");
    eprintln!(
        "outage drill: {} acknowledged, {unavailable} answered 503, {} stored",
        acknowledged.len(),
        stored.len()
    );
}

const IN_FLIGHT: usize = 40;

/// One request on a connection of its own, its body sent in two halves: the first before
/// `go` opens (the request is then in flight: its handler waits for the rest), the second
/// after. The status line and the whole answer.
async fn in_flight(
    port: u16,
    method: &str,
    path: String,
    token: String,
    body: Value,
    sent: tokio::sync::mpsc::Sender<()>,
    mut go: tokio::sync::watch::Receiver<bool>,
) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.to_string();
    let (first, rest) = body.as_bytes().split_at(body.len() / 2);
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: text/event-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first).await.unwrap();
    sent.send(()).await.unwrap();
    go.wait_for(|go| *go).await.unwrap();
    stream
        .write_all(rest)
        .await
        .expect("the connection is still open");
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .expect("the whole answer arrives");
    answer
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_answers_every_request_in_flight() {
    let server = LocalServer::start(&[
        ("RATE_LIMIT_GENERAL", "1000000/15minute"),
        ("RATE_LIMIT_AI_CHAT", "1000000/hour"),
    ])
    .await;
    let port: u16 = server.base.rsplit(':').next().unwrap().parse().unwrap();
    let (_, token) = register(&server, "leaving@example.com", "떠나는사람").await;
    let (status, conversation) = call(
        &server,
        "POST",
        "/api/v1/chat/conversations",
        &token,
        json!({}),
    )
    .await;
    assert_eq!(status, 201);
    let chat = format!(
        "/api/v1/chat/conversations/{}/messages",
        conversation["data"]["id"].as_str().unwrap()
    );

    let (go, ready) = tokio::sync::watch::channel(false);
    let (sent, mut halves) = tokio::sync::mpsc::channel(IN_FLIGHT);
    let requests: Vec<_> = (0..IN_FLIGHT)
        .map(|i| {
            let (path, body) = match i % 2 {
                0 => (
                    "/api/v1/emotions".to_owned(),
                    json!({ "emotion": "tired", "intensity": 3, "note": format!("퇴근길 {i}") }),
                ),
                _ => (
                    chat.clone(),
                    json!({ "content": format!("오늘 하루 어땠는지 말해볼게 {i}") }),
                ),
            };
            let (sent, ready) = (sent.clone(), ready.clone());
            tokio::spawn(in_flight(
                port,
                "POST",
                path,
                token.clone(),
                body,
                sent,
                ready,
            ))
        })
        .collect();
    // Every request is in its handler, waiting for the rest of its body: Cloud Run says stop.
    for _ in 0..IN_FLIGHT {
        halves.recv().await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let exit = tokio::spawn(async move { server.stop().await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    go.send(true).unwrap();

    let mut streams = 0;
    for request in requests {
        let answer = request.await.unwrap();
        let status = answer.split(' ').nth(1).unwrap_or_default();
        assert!(status.starts_with('2'), "{answer}");
        if answer.contains("text/event-stream") {
            streams += 1;
            assert!(
                answer.contains("event: done"),
                "the stream ended cleanly: {answer}"
            );
        }
    }
    assert_eq!(streams, IN_FLIGHT / 2, "every chat answered as a stream");
    let exit = exit.await.unwrap();
    assert!(
        exit.success(),
        "the server exits cleanly after the drain: {exit:?}"
    );
}
