//! The two hosts of one runtime: a port with graceful drain on SIGTERM (Cloud Run), and the
//! AWS Lambda runtime API through `lambda_http` (against a fake runtime API server).

mod common;

use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use common::*;
use serde_json::{Value, json};
use shared::cache::Cache;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Mutex, mpsc};

fn lazy_app(extra: &[(&str, &str)]) -> (Router, shared::config::Settings) {
    let s = settings(extra);
    let pool = shared::db::pool(&s.database).unwrap();
    (app(state(pool, Cache::memory(), s.clone())), s)
}

async fn raw_get(port: u16, path: &str) -> std::io::Result<String> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(
            format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_in_flight_requests_finish() {
    let (app, _) = lazy_app(&[]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = tokio::spawn(shared::runtime::serve_on(
        listener,
        app,
        Duration::from_secs(30),
    ));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let in_flight = tokio::spawn(async move { raw_get(port, "/api/v1/test/slow?ms=1500").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = std::process::Command::new("kill")
        .args(["-TERM", &std::process::id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());

    let response = in_flight.await.unwrap().unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("\"slept_ms\":1500"), "{response}");
    tokio::time::timeout(Duration::from_secs(5), server)
        .await
        .expect("the server stops once drained")
        .unwrap()
        .unwrap();
    assert!(
        raw_get(port, "/health").await.is_err(),
        "no new connections after the drain"
    );
}

/// Slowloris: clients that trickle their headers byte by byte are cut off after the header
/// timeout, and everyone else is answered meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trickled_headers_are_cut_off_and_others_are_served() {
    let (app, _) = lazy_app(&[]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(shared::runtime::serve_on(
        listener,
        app,
        Duration::from_secs(1),
    ));

    let mut slow = Vec::new();
    for _ in 0..50 {
        let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .unwrap();
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: a\r\n")
            .await
            .unwrap();
        slow.push(tokio::spawn(async move {
            // One byte of a header every 100 ms, forever: only the server can end this.
            let started = std::time::Instant::now();
            for byte in b"X-Slow: ".iter().cycle() {
                if stream.write_all(&[*byte]).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                if started.elapsed() > Duration::from_secs(10) {
                    return None;
                }
            }
            let mut rest = Vec::new();
            let _ = stream.read_to_end(&mut rest).await;
            Some(started.elapsed())
        }));
    }
    // So is a connection that never sends a byte, and one that trickles HTTP/2's preface.
    let mut silent = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let mut preface = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let trickle = tokio::spawn(async move {
        for byte in b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" {
            if preface.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let mut rest = Vec::new();
        tokio::time::timeout(Duration::from_secs(1), preface.read_to_end(&mut rest)).await
    });
    // An idle keep-alive connection is closed after the same time.
    let mut idle = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    idle.write_all(b"GET /health HTTP/1.1\r\nHost: a\r\n\r\n")
        .await
        .unwrap();

    for _ in 0..5 {
        let started = std::time::Instant::now();
        let response = raw_get(port, "/health").await.unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        assert!(
            started.elapsed() < Duration::from_millis(500),
            "served promptly"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for connection in slow {
        let lasted = connection
            .await
            .unwrap()
            .expect("the server closes a slow connection");
        assert!(lasted < Duration::from_secs(3), "{lasted:?}");
    }
    let mut answered = Vec::new();
    let closed =
        tokio::time::timeout(Duration::from_secs(3), idle.read_to_end(&mut answered)).await;
    assert!(closed.is_ok(), "the idle connection is closed");
    assert!(answered.starts_with(b"HTTP/1.1 200"));
    let closed =
        tokio::time::timeout(Duration::from_secs(1), silent.read_to_end(&mut answered)).await;
    assert!(closed.is_ok(), "a silent connection is closed");
    assert!(
        trickle.await.unwrap().is_ok(),
        "a trickled HTTP/2 preface is cut off"
    );
}

/// A body trickled after prompt headers is bounded by the request timeout: the client gets
/// the envelope's 503 and the connection is closed, while others are answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_times_out_with_the_envelope() {
    let (app, s) = lazy_app(&[("REQUEST_TIMEOUT_SECS", "1")]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(shared::runtime::serve_on(listener, app, s.request_timeout));

    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(
            b"POST /api/v1/test/echo HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\n\
              Content-Length: 1000\r\n\r\n{\"email\":\"",
        )
        .await
        .unwrap();
    let started = std::time::Instant::now();
    let (mut reader, mut writer) = stream.into_split();
    let trickle = tokio::spawn(async move {
        while writer.write_all(b"a").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            if started.elapsed() > Duration::from_secs(10) {
                break;
            }
        }
    });
    let response = raw_get(port, "/health").await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");

    let mut answer = String::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), reader.read_to_string(&mut answer)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("SERVICE_UNAVAILABLE"), "{answer}");
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    trickle.abort();
}

/// A fake Lambda Runtime API: hands out queued events on `/next` and collects responses.
#[derive(Clone)]
struct FakeRuntime {
    events: std::sync::Arc<Mutex<mpsc::Receiver<(String, Value)>>>,
    responses: mpsc::Sender<(String, Value)>,
}

async fn next_invocation(State(rt): State<FakeRuntime>) -> (HeaderMap, axum::Json<Value>) {
    let (id, event) = rt.events.lock().await.recv().await.expect("event");
    let mut headers = HeaderMap::new();
    headers.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    headers.insert(
        "lambda-runtime-deadline-ms",
        deadline.to_string().parse().unwrap(),
    );
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:ap-northeast-2:123456789012:function:mindpause-test"
            .parse()
            .unwrap(),
    );
    (headers, axum::Json(event))
}

async fn invocation_response(
    State(rt): State<FakeRuntime>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> &'static str {
    let body: Value = serde_json::from_slice(&body).expect("a JSON invocation response");
    rt.responses.send((id, body)).await.unwrap();
    "ok"
}

fn http_api_event(method: &str, path: &str, body: Option<&str>) -> Value {
    let mut event = json!({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": "",
        "headers": { "accept": "application/json", "content-type": "application/json", "x-forwarded-for": "203.0.113.7" },
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "requestId": "req-1", "routeKey": "$default",
            "stage": "$default", "timeEpoch": 0,
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "test" }
        },
        "isBase64Encoded": false
    });
    if let Some(body) = body {
        event["body"] = body.into();
    }
    event
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_mode_answers_through_the_runtime_api() {
    let (event_tx, event_rx) = mpsc::channel(4);
    let (response_tx, mut response_rx) = mpsc::channel(4);
    let runtime = FakeRuntime {
        events: std::sync::Arc::new(Mutex::new(event_rx)),
        responses: response_tx,
    };
    let fake = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next_invocation))
        .route(
            "/2018-06-01/runtime/invocation/{id}/response",
            post(invocation_response),
        )
        .with_state(runtime);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, fake).await });

    // SAFETY: this test binary's other test does not read these variables, and nextest runs
    // every test in its own process.
    unsafe {
        std::env::set_var("AWS_LAMBDA_RUNTIME_API", address.to_string());
        std::env::set_var("AWS_LAMBDA_FUNCTION_NAME", "mindpause-test");
        std::env::set_var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
        std::env::set_var("AWS_LAMBDA_FUNCTION_VERSION", "1");
    }
    let (app, s) = lazy_app(&[]);
    // The Lambda runtime's future is not `Send`: give it a thread and runtime of its own.
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(shared::runtime::serve(app, &s))
    });

    event_tx
        .send(("inv-1".into(), http_api_event("GET", "/health", None)))
        .await
        .unwrap();
    let (id, response) = tokio::time::timeout(Duration::from_secs(10), response_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(id, "inv-1");
    assert_eq!(response["statusCode"], 200, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["success"], true);
    assert_eq!(body["data"]["status"], "ok");

    let echo = r#"{"email":"a@b.c","nickname":"람다"}"#;
    event_tx
        .send((
            "inv-2".into(),
            http_api_event("POST", "/api/v1/test/echo", Some(echo)),
        ))
        .await
        .unwrap();
    let (_, response) = tokio::time::timeout(Duration::from_secs(10), response_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response["statusCode"], 201, "{response}");
    let body: Value = serde_json::from_str(response["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["data"]["nickname"], "람다");

    event_tx
        .send((
            "inv-3".into(),
            http_api_event("GET", "/api/v1/nowhere", None),
        ))
        .await
        .unwrap();
    let (_, response) = tokio::time::timeout(Duration::from_secs(10), response_rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(response["statusCode"], 404);
}
