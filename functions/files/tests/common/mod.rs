//! The files function on the storage emulator that `scripts/test.sh` starts.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
pub use shared::testing::*;
use sqlx::PgPool;
use tower::ServiceExt;

pub fn harness(pool: PgPool) -> Harness {
    harness_with(pool, &[])
}

pub fn harness_with(pool: PgPool, extra: &[(&str, &str)]) -> Harness {
    // No TLS provider installed here: the store must install its own (a binary does
    // nothing else before its first upload).
    let host = std::env::var("STORAGE_EMULATOR_HOST")
        .expect("STORAGE_EMULATOR_HOST is unset: run the tests with ./scripts/test.sh");
    let bucket = std::env::var("STORAGE_BUCKET").expect("STORAGE_BUCKET");
    let mut vars = vec![
        ("RATE_LIMIT_GENERAL", "100000/minute"),
        ("RATE_LIMIT_FILE_UPLOAD", "1000/hour"),
        ("STORAGE_BUCKET", bucket.as_str()),
        ("STORAGE_EMULATOR_HOST", host.as_str()),
    ];
    vars.extend_from_slice(extra);
    Harness::with_cache(pool, "files", ::files::routes(), &vars, redis_cache())
}

pub fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../../shared/tests/fixtures/media/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

/// What the fixtures hide (see shared/tests/media.rs).
pub fn secrets(data: &[u8]) -> Vec<&'static str> {
    let text = String::from_utf8_lossy(data);
    ["Secret", "GPS", "xmpmeta", "XMP", "Comment"]
        .into_iter()
        .filter(|s| text.contains(s))
        .collect()
}

/// photo.jpg grown to exactly `total` bytes with comment segments (which storing removes).
pub fn jpeg_of_size(total: usize) -> Vec<u8> {
    let photo = fixture("photo.jpg");
    let mut out = photo[..2].to_vec();
    let mut left = total - photo.len();
    while left > 0 {
        // A segment is 4 bytes of marker and length, then up to 65533 of comment; the
        // last one must still have room for its 4.
        let mut segment = left.min(65_537);
        if left - segment > 0 && left - segment < 4 {
            segment -= 4;
        }
        out.extend_from_slice(&[0xFF, 0xFE]);
        out.extend_from_slice(&((segment - 2) as u16).to_be_bytes());
        out.resize(out.len() + segment - 4, b'c');
        left -= segment;
    }
    out.extend_from_slice(&photo[2..]);
    assert_eq!(out.len(), total);
    out
}

/// A multipart body with one field.
pub fn form(field: &str, filename: &str, part_type: &str, data: &[u8]) -> (String, Vec<u8>) {
    let boundary = "mindpause-test-boundary-7b1d";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{filename}\"\r\nContent-Type: {part_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// `POST /upload/<what>` of `data` as field `file`.
pub async fn upload(h: &Harness, token: &str, what: &str, name: &str, data: &[u8]) -> Answer {
    let (content_type, body) = form("file", name, "application/octet-stream", data);
    send_body(h, token, what, &content_type, body).await
}

pub async fn send_body(
    h: &Harness,
    token: &str,
    what: &str,
    content_type: &str,
    body: Vec<u8>,
) -> Answer {
    let request = Request::post(h.path(&format!("/upload/{what}")))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", content_type)
        .body(Body::from(body))
        .unwrap();
    send(&h.app, request).await
}

/// GET of a signed link (absolute, as handed out): status, headers and the raw bytes.
pub async fn open(h: &Harness, link: &str) -> (u16, axum::http::HeaderMap, Vec<u8>) {
    let path = link
        .strip_prefix("http://localhost:8000")
        .expect("a link under FILES_URL");
    let mut request = Request::get(path).body(Body::empty()).unwrap();
    let peer = std::net::SocketAddr::from((own_address(), 40000));
    request
        .extensions_mut()
        .insert(axum::extract::ConnectInfo(peer));
    let response = h.app.clone().oneshot(request).await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes.to_vec())
}

/// The stored bytes of `object`, straight from the emulator.
pub async fn stored(h: &Harness, object: &str) -> Option<Vec<u8>> {
    let store = h.state.storage.store().await.unwrap();
    store.get(object).await.unwrap().map(|b| b.to_vec())
}
