//! Time to first token through the chat function, for `scripts/bench.sh chat`: rounds of N
//! concurrent SSE message streams, each on a new connection, timed from connecting to the
//! first `event: delta`. Against `fake_openai` (which answers at once) this is the time our
//! server adds. A single-threaded client on raw sockets, so that the load tool takes as
//! little as possible of the cores it shares with the server.
//!
//! Usage: `ttft BASE_URL TOKEN CONVERSATION_IDS_FILE CONCURRENCY ROUNDS`, BASE_URL like
//! `http://127.0.0.1:8080/api/v1/chat`.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const WARM_UP_ROUNDS: usize = 5;
const MESSAGE: &str = r#"{"content":"오늘 하루가 길었어"}"#;

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// One message: the time to the first delta, after reading the stream to its end.
async fn one(host: &str, path: &str, token: &str) -> Duration {
    let start = Instant::now();
    let mut socket = TcpStream::connect(host).await.expect("connect");
    socket.set_nodelay(true).expect("nodelay");
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: text/event-stream\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{MESSAGE}",
        MESSAGE.len()
    );
    socket
        .write_all(request.as_bytes())
        .await
        .expect("send the request");
    let mut seen = Vec::with_capacity(8192);
    let mut first = None;
    let mut buffer = [0u8; 8192];
    loop {
        let n = socket.read(&mut buffer).await.expect("read the stream");
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&buffer[..n]);
        if first.is_none() && find(&seen, b"event: delta").is_some() {
            first = Some(start.elapsed());
        }
        if find(&seen, b"event: done").is_some() || find(&seen, b"event: error").is_some() {
            break;
        }
    }
    assert!(
        seen.starts_with(b"HTTP/1.1 200"),
        "unexpected answer: {}",
        String::from_utf8_lossy(&seen[..seen.len().min(300)])
    );
    assert!(
        find(&seen, b"event: error").is_none(),
        "the stream ended in an error"
    );
    first.expect("a delta event")
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1000.0
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let [_, base, token, ids, concurrency, rounds] = args.as_slice() else {
        panic!("usage: ttft BASE_URL TOKEN CONVERSATION_IDS_FILE CONCURRENCY ROUNDS");
    };
    let base = base.strip_prefix("http://").expect("an http:// base URL");
    let (host, prefix) = base.split_at(base.find('/').expect("a path in the base URL"));
    let ids = std::fs::read_to_string(ids).expect("the conversation ids");
    let conversations: Vec<&str> = ids.split_whitespace().collect();
    let concurrency: usize = concurrency.parse().expect("CONCURRENCY");
    let rounds: usize = rounds.parse().expect("ROUNDS");
    assert!(
        conversations.len() >= concurrency,
        "one conversation per stream"
    );

    let mut samples = Vec::new();
    // The first rounds are not timed: they open the pool's connections and let PostgreSQL
    // settle each one's prepared statements on a generic plan (after five executions).
    for round in 0..WARM_UP_ROUNDS + rounds {
        let tasks: Vec<_> = conversations[..concurrency]
            .iter()
            .map(|id| {
                let (host, token) = (host.to_owned(), token.clone());
                let path = format!("{prefix}/conversations/{id}/messages");
                tokio::spawn(async move { one(&host, &path, &token).await })
            })
            .collect();
        for task in tasks {
            let elapsed = task.await.expect("a stream");
            if round >= WARM_UP_ROUNDS {
                samples.push(elapsed);
            }
        }
    }
    samples.sort();
    println!(
        "time to first delta, {concurrency} concurrent streams x {rounds} rounds: \
         p50 {:.1} ms   p95 {:.1} ms   p99 {:.1} ms   ({} streams)",
        percentile(&samples, 0.50),
        percentile(&samples, 0.95),
        percentile(&samples, 0.99),
        samples.len()
    );
}
